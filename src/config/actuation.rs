//! `actuation`: reject timing, the fault policy and the overload alarm.

use serde::Deserialize;

use super::{bad, default_true, KeyProblem};

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
    #[serde(default = "default_true")]
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

impl ActuationConfig {
    pub(super) fn validate(&self) -> Result<(), KeyProblem> {
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

    /// Not an error in itself, but a pulse far longer than the travel time overlaps many parts.
    pub(super) fn warn_if_pulse_long(&self) {
        if self.pulse_ms >= self.delay_ms.max(1) * 10 {
            log::warn!("actuation.pulse_ms {} is long against delay_ms {}", self.pulse_ms, self.delay_ms);
        }
    }
}
