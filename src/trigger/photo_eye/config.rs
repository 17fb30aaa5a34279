//! `trigger` with `"kind": "gpio"`: the photo-eye's chip, line, edge, bias and debounce.

use std::time::Duration;

use gpiod::{Bias, EdgeDetect};
use serde::Deserialize;

use crate::key_problem::{bad, KeyProblem};

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

impl GpioTriggerConfig {
    pub fn validate(&self) -> Result<(), KeyProblem> {
        if self.debounce_ms > 1000 {
            return bad("trigger.debounce_ms", format!("{} is over 1000", self.debounce_ms));
        }
        Ok(())
    }

    /// Edges closer than this to the last accepted one are contact bounce, ignored.
    pub fn debounce(&self) -> Duration {
        Duration::from_millis(self.debounce_ms)
    }
}

impl TriggerEdge {
    pub fn detect(self) -> EdgeDetect {
        match self {
            TriggerEdge::Rising => EdgeDetect::Rising,
            TriggerEdge::Falling => EdgeDetect::Falling,
            TriggerEdge::Both => EdgeDetect::Both,
        }
    }
}

impl LineBias {
    /// `None`: leave the bias as the board set it.
    pub fn bias(self) -> Option<Bias> {
        match self {
            LineBias::AsIs => None,
            LineBias::Disabled => Some(Bias::Disable),
            LineBias::PullUp => Some(Bias::PullUp),
            LineBias::PullDown => Some(Bias::PullDown),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_defaults_apply_and_the_debounce_is_bounded() {
        let g: GpioTriggerConfig = serde_json::from_str(r#"{"chip": "gpiochip0", "line": "photo_eye"}"#).expect("ok");
        assert_eq!((g.debounce(), g.active_low), (Duration::from_millis(5), false));
        assert_eq!((g.edge.detect(), g.bias.bias()), (EdgeDetect::Rising, None));
        assert_eq!(g.validate(), Ok(()));
        let g = GpioTriggerConfig { debounce_ms: 1001, ..g };
        assert_eq!(g.validate().map_err(|p| p.key), Err("trigger.debounce_ms".into()));
        let wrong = r#"{"chip": "c", "line": 1, "edge": "up"}"#;
        assert!(serde_json::from_str::<GpioTriggerConfig>(wrong).is_err(), "unknown edge taken");
    }
}
