//! Warnings that may come for every part, throttled.

use std::time::{Duration, Instant};

/// A warning that may come for every part (a lens cap at 10 parts/s, an overloaded station): logged at
/// once, then at most once per `THROTTLE` with how many were held back.
#[derive(Debug, Default)]
pub struct Throttle {
    last: Option<Instant>,
    held: u64,
}

const THROTTLE: Duration = Duration::from_secs(10);

impl Throttle {
    /// `Some(held back since the last line)` when this one is to be logged.
    pub fn hit(&mut self) -> Option<u64> {
        self.hit_at(Instant::now())
    }

    fn hit_at(&mut self, now: Instant) -> Option<u64> {
        if self.last.is_some_and(|l| now.duration_since(l) < THROTTLE) {
            self.held += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.held))
    }
}

pub fn held_note(held: u64) -> String {
    if held == 0 {
        String::new()
    } else {
        format!(" ({held} more since the last such line)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_warning_for_every_part_is_logged_once_per_ten_seconds_with_the_count_held_back() {
        let mut t = Throttle::default();
        let t0 = Instant::now();
        let logged: Vec<(u64, Option<u64>)> = (0..=4000u64)
            .map(|ms| (ms, t.hit_at(t0 + Duration::from_millis(ms * 5))))
            .filter(|x| x.1.is_some())
            .collect();
        // 4001 warnings over 20 s: lines at 0, 10 and 20 s, each saying how many it held back.
        assert_eq!(logged, [(0, Some(0)), (2000, Some(1999)), (4000, Some(1999))]);
    }
}
