//! `actuation`: reject timing, the fault policy and the overload alarm.

use std::time::Duration;

use serde::Deserialize;

use crate::key_problem::{bad, KeyProblem};

/// Reject timing and fault policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActuationConfig {
    /// Time the part travels from the camera to the reject point.
    #[serde(default = "default_delay_ms")]
    pub delay_ms: u64,
    /// How long the reject output stays on.
    #[serde(default = "default_pulse_ms")]
    pub pulse_ms: u64,
    /// While a fault is active (camera lost, model failing), reject every part.
    #[serde(default = "default_reject_on_fault")]
    pub reject_on_fault: bool,
    /// Overload: the share of the last `overload_window` parts left unjudged (shed for want of capacity,
    /// or late) above which the alarm goes on.
    #[serde(default = "default_overload_window")]
    pub overload_window: u32,
    #[serde(default = "default_overload_max_share")]
    pub overload_max_share: f64,
}

impl Default for ActuationConfig {
    fn default() -> Self {
        Self {
            delay_ms: default_delay_ms(),
            pulse_ms: default_pulse_ms(),
            reject_on_fault: true,
            overload_window: default_overload_window(),
            overload_max_share: default_overload_max_share(),
        }
    }
}

fn default_reject_on_fault() -> bool {
    true
}

fn default_overload_window() -> u32 {
    200
}

fn default_overload_max_share() -> f64 {
    0.05
}

fn default_delay_ms() -> u64 {
    400
}

fn default_pulse_ms() -> u64 {
    60
}

/// What the scheduler runs with: the `actuation` section in durations, and the model's NG threshold.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub delay: Duration,
    pub pulse: Duration,
    pub reject_on_fault: bool,
    pub threshold: f32,
    /// Parts over which the unjudged share is taken, and the share that sets the overload alarm.
    pub overload_window: usize,
    pub overload_max_share: f64,
    /// Offline judging (`cellgate evaluate`): a part is settled as soon as its judgement comes, not at
    /// its reject point; there is no line to time the outputs for.
    pub settle_when_judged: bool,
}

impl ActuationConfig {
    pub fn validate(&self) -> Result<(), KeyProblem> {
        if self.pulse_ms == 0 || self.pulse_ms > 10_000 {
            return bad("actuation.pulse_ms", format!("{} is outside 1..10000", self.pulse_ms));
        }
        if self.delay_ms > 60_000 {
            return bad("actuation.delay_ms", format!("{} is over 60000", self.delay_ms));
        }
        if !(10..=100_000).contains(&self.overload_window) {
            return bad("actuation.overload_window", format!("{} is outside 10..100000 parts", self.overload_window));
        }
        if !(self.overload_max_share > 0.0 && self.overload_max_share < 1.0) {
            // 1.0 could never be exceeded: an alarm that cannot fire.
            return bad("actuation.overload_max_share", format!("{} is outside (0, 1)", self.overload_max_share));
        }
        Ok(())
    }

    /// Not an error in itself, but a pulse far longer than the travel time overlaps many parts: the
    /// warning to log, from ten times the delay on.
    pub fn long_pulse(&self) -> Option<String> {
        (self.pulse_ms >= self.delay_ms.max(1) * 10)
            .then(|| format!("actuation.pulse_ms {} is long against delay_ms {}", self.pulse_ms, self.delay_ms))
    }

    /// The scheduler's timing: this section with the model's NG threshold.
    pub fn timing(&self, threshold: f32) -> Timing {
        Timing {
            delay: Duration::from_millis(self.delay_ms),
            pulse: Duration::from_millis(self.pulse_ms),
            reject_on_fault: self.reject_on_fault,
            threshold,
            overload_window: self.overload_window as usize,
            overload_max_share: self.overload_max_share,
            settle_when_judged: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_section_takes_the_documented_defaults() {
        let a: ActuationConfig = serde_json::from_str("{}").expect("actuation section");
        assert_eq!((a.delay_ms, a.pulse_ms, a.reject_on_fault), (400, 60, true));
        assert_eq!((a.overload_window, a.overload_max_share), (200, 0.05));
        assert_eq!(a.validate(), Ok(()));
        let t = a.timing(0.5);
        assert_eq!((t.delay, t.pulse, t.overload_window), (Duration::from_millis(400), Duration::from_millis(60), 200));
    }

    #[test]
    fn each_bad_value_names_its_key() {
        let key = |a: ActuationConfig| a.validate().map_err(|p| p.key);
        let d = ActuationConfig::default;
        assert_eq!(key(ActuationConfig { pulse_ms: 0, ..d() }), Err("actuation.pulse_ms".into()));
        assert_eq!(key(ActuationConfig { delay_ms: 60_001, ..d() }), Err("actuation.delay_ms".into()));
        assert_eq!(key(ActuationConfig { overload_window: 9, ..d() }), Err("actuation.overload_window".into()));
        assert_eq!(key(ActuationConfig { overload_max_share: 1.0, ..d() }), Err("actuation.overload_max_share".into()));
    }

    #[test]
    fn each_range_includes_its_ends() {
        let key = |a: ActuationConfig| a.validate().map_err(|p| p.key);
        let d = ActuationConfig::default;
        assert_eq!(key(ActuationConfig { pulse_ms: 10_000, delay_ms: 60_000, ..d() }), Ok(()));
        assert_eq!(key(ActuationConfig { pulse_ms: 1, delay_ms: 0, ..d() }), Ok(()));
        assert_eq!(key(ActuationConfig { pulse_ms: 10_001, ..d() }), Err("actuation.pulse_ms".into()));
        assert_eq!(key(ActuationConfig { overload_window: 10, ..d() }), Ok(()));
        assert_eq!(key(ActuationConfig { overload_window: 100_000, ..d() }), Ok(()));
        assert_eq!(key(ActuationConfig { overload_window: 100_001, ..d() }), Err("actuation.overload_window".into()));
        // A share of 0 would alarm at the first unjudged part; one just above it is a bound.
        assert_eq!(key(ActuationConfig { overload_max_share: 0.0, ..d() }), Err("actuation.overload_max_share".into()));
        assert_eq!(key(ActuationConfig { overload_max_share: 0.001, ..d() }), Ok(()));
        assert_eq!(key(ActuationConfig { overload_max_share: 0.999, ..d() }), Ok(()));
    }

    #[test]
    fn a_pulse_of_ten_times_the_delay_or_more_is_warned_of() {
        let a = |pulse_ms, delay_ms| ActuationConfig { pulse_ms, delay_ms, ..ActuationConfig::default() }.long_pulse();
        assert_eq!(a(4000, 400).as_deref(), Some("actuation.pulse_ms 4000 is long against delay_ms 400"));
        assert_eq!(a(3999, 400), None);
        assert_eq!(a(60, 400), None);
        // No delay at all: from 10 ms on.
        assert!(a(10, 0).is_some() && a(9, 0).is_none());
    }
}
