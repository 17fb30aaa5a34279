//! The overload alarm's window: whether each of the last parts was left unjudged.

/// The last parts' unjudged flags (shed or late) and how many of them are set.
#[derive(Debug, Default)]
pub struct OverloadWindow {
    pub flags: std::collections::VecDeque<bool>,
    unjudged: usize,
}

impl OverloadWindow {
    /// Adds a settled part; the share of unjudged parts once the window is half full (a few late parts
    /// while a fresh model warms up are not an overload).
    pub fn push(&mut self, unjudged: bool, len: usize) -> Option<f64> {
        self.flags.push_back(unjudged);
        self.unjudged += usize::from(unjudged);
        if self.flags.len() > len {
            self.unjudged -= usize::from(self.flags.pop_front().unwrap_or(false));
        }
        (self.flags.len() >= (len / 2).max(10)).then(|| self.unjudged as f64 / self.flags.len() as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_share_is_taken_over_the_last_parts_only_once_there_are_enough() {
        let mut w = OverloadWindow::default();
        for _ in 0..49 {
            assert_eq!(w.push(true, 100), None, "a window less than half full tells nothing");
        }
        assert_eq!(w.push(false, 100), Some(49.0 / 50.0));
        // 100 judged parts push every unjudged one out of a 100-part window.
        let mut last = None;
        for _ in 0..100 {
            last = w.push(false, 100);
        }
        assert_eq!(last, Some(0.0));
        assert_eq!(w.push(true, 100), Some(0.01));
        assert_eq!(w.flags.len(), 100);
    }
}
