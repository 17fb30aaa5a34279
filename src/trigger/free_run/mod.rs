//! The free-running trigger: parts at a fixed rate (a replay, a demo, a line without a photo-eye).

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use super::{sleep_until, Trigger, TriggerEvent};
use crate::key_problem::{bad, KeyProblem};

/// Free-run trigger rates a station takes, Hz: slower than one part in 1000 s is a typo, and the period
/// of a rate near zero does not fit a `Duration`.
pub const RATE_HZ: std::ops::RangeInclusive<f64> = 0.001..=1000.0;

/// `rate_hz` (named `key` in the config) within `RATE_HZ`.
pub fn validate_rate(key: &str, rate_hz: f64) -> Result<(), KeyProblem> {
    if !RATE_HZ.contains(&rate_hz) {
        return bad(key, format!("{rate_hz:?} is outside {:?}..={:?}", RATE_HZ.start(), RATE_HZ.end()));
    }
    Ok(())
}

/// Triggers at a fixed rate, on a schedule that does not drift with processing time.
pub struct FreeRun {
    period: Duration,
    next: Option<Instant>,
}

impl FreeRun {
    pub fn new(rate_hz: f64) -> Self {
        Self { period: Duration::from_secs_f64(1.0 / rate_hz), next: None }
    }
}

impl Trigger for FreeRun {
    fn wait(&mut self, stop: &AtomicBool) -> TriggerEvent {
        let now = Instant::now();
        let mut t = self.next.unwrap_or(now);
        if t + self.period < now {
            // Fell behind by more than a period (stalled): restart the schedule, do not burst.
            t = now;
        }
        if !sleep_until(t, stop) {
            return TriggerEvent::Stopped;
        }
        self.next = Some(t + self.period);
        TriggerEvent::Part(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_outside_the_range_are_refused_by_key() {
        for rate in [0.0, 1e-300, 0.0005, 1000.5, f64::NAN] {
            assert_eq!(validate_rate("trigger.rate_hz", rate).map_err(|p| p.key), Err("trigger.rate_hz".into()));
        }
        assert_eq!(validate_rate("trigger.rate_hz", 0.001), Ok(()));
    }
}
