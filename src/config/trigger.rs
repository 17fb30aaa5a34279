//! `trigger`: what starts an inspection (a free-running rate or the photo-eye on a GPIO input).

use serde::Deserialize;

use super::{bad, KeyProblem};

/// Free-run trigger rates a station takes, Hz: slower than one part in 1000 s is a typo, and the period
/// of a rate near zero does not fit a `Duration`.
pub const RATE_HZ: std::ops::RangeInclusive<f64> = 0.001..=1000.0;

/// What starts an inspection.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum TriggerConfig {
    /// Free-running at a fixed rate.
    FreeRun { rate_hz: f64 },
    /// The photo-eye on a GPIO input.
    Gpio(GpioTriggerConfig),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpioTriggerConfig {
    /// Chip by path (`/dev/gpiochip0`), name (`gpiochip0`) or label.
    pub chip: String,
    /// Line offset or name.
    pub line: crate::gpio_chip::LineRef,
    #[serde(default)]
    pub edge: TriggerEdge,
    /// Edges closer than this to the last accepted one are ignored (contact bounce).
    #[serde(default = "default_debounce")]
    pub debounce_ms: u64,
    #[serde(default)]
    pub active_low: bool,
    #[serde(default)]
    pub bias: LineBias,
}

fn default_debounce() -> u64 {
    5
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerEdge {
    #[default]
    Rising,
    Falling,
    Both,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineBias {
    /// Leave the line's bias as the board set it.
    #[default]
    AsIs,
    Disabled,
    PullUp,
    PullDown,
}

impl TriggerConfig {
    pub(super) fn validate(&self) -> Result<(), KeyProblem> {
        match self {
            TriggerConfig::FreeRun { rate_hz } => {
                if !RATE_HZ.contains(rate_hz) {
                    return bad(
                        "trigger.rate_hz",
                        format!("{rate_hz:?} is outside {:?}..={:?}", RATE_HZ.start(), RATE_HZ.end()),
                    );
                }
            }
            TriggerConfig::Gpio(g) => {
                if g.debounce_ms > 1000 {
                    return bad("trigger.debounce_ms", format!("{} is over 1000", g.debounce_ms));
                }
            }
        }
        Ok(())
    }
}
