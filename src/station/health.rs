//! Liveness of the station's blocking steps, for the systemd watchdog.
//!
//! A step waiting for its input is healthy however long the line is idle; a step stuck *inside* a
//! camera read or a model run is not. Each step marks when it entered such a call and clears the mark when
//! it returns, so a hang shows as a mark that keeps ageing.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Health {
    epoch: Instant,
    /// Milliseconds since `epoch` + 1 when the call started; 0 while the step is not inside one.
    capture_since: AtomicU64,
    infer_since: AtomicU64,
    /// Since when the trigger input has been lost: no part can be inspected, which a watchdog must see.
    trigger_lost_since: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Capture,
    Infer,
    /// Not a call: the photo-eye input lost, counted like a call that does not return.
    Trigger,
}

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Step::Capture => "camera read",
            Step::Infer => "inference",
            Step::Trigger => "trigger input (lost)",
        }
    }
}

/// Clears the step's mark when the call returns (or unwinds).
pub struct Busy<'a> {
    cell: &'a AtomicU64,
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.cell.store(0, Relaxed);
    }
}

impl Default for Health {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            capture_since: AtomicU64::new(0),
            infer_since: AtomicU64::new(0),
            trigger_lost_since: AtomicU64::new(0),
        }
    }
}

impl Health {
    fn cell(&self, step: Step) -> &AtomicU64 {
        match step {
            Step::Capture => &self.capture_since,
            Step::Infer => &self.infer_since,
            Step::Trigger => &self.trigger_lost_since,
        }
    }

    /// Marks the trigger input lost (`true`) or back (`false`); a loss that lasts stops the watchdog.
    pub fn trigger_lost(&self, lost: bool) {
        let cell = self.cell(Step::Trigger);
        if !lost {
            cell.store(0, Relaxed);
        } else if cell.load(Relaxed) == 0 {
            cell.store(self.epoch.elapsed().as_millis() as u64 + 1, Relaxed);
        }
    }

    /// Marks `step` as inside a call until the returned guard drops.
    pub fn busy(&self, step: Step) -> Busy<'_> {
        let cell = self.cell(step);
        cell.store(self.epoch.elapsed().as_millis() as u64 + 1, Relaxed);
        Busy { cell }
    }

    /// The step that has been inside one call for longer than `limit`, and for how long.
    pub fn stalled(&self, limit: Duration) -> Option<(Step, Duration)> {
        let now = self.epoch.elapsed().as_millis() as u64 + 1;
        [Step::Infer, Step::Capture, Step::Trigger].into_iter().find_map(|s| {
            let since = self.cell(s).load(Relaxed);
            let age = Duration::from_millis(now.saturating_sub(since));
            (since != 0 && age > limit).then_some((s, age))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_call_in_progress_can_stall() {
        let h = Health::default();
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(h.stalled(Duration::from_millis(10)), None, "idle steps are healthy");
        let busy = h.busy(Step::Infer);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(h.stalled(Duration::from_millis(10)).map(|s| s.0), Some(Step::Infer));
        drop(busy);
        assert_eq!(h.stalled(Duration::from_millis(10)), None, "the mark clears when the call returns");
    }

    #[test]
    fn a_lost_trigger_starves_the_watchdog_once_it_lasts_and_not_after_it_is_back() {
        let h = Health::default();
        h.trigger_lost(true);
        assert_eq!(h.stalled(Duration::from_millis(20)), None, "a short loss is given time to recover");
        std::thread::sleep(Duration::from_millis(30));
        h.trigger_lost(true);
        assert_eq!(
            h.stalled(Duration::from_millis(20)).map(|s| s.0),
            Some(Step::Trigger),
            "a second report keeps the first time"
        );
        h.trigger_lost(false);
        assert_eq!(h.stalled(Duration::from_millis(20)), None);
    }
}
