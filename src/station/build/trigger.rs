//! The trigger the config names: a free-running rate or the photo-eye. A replay from the command line is
//! paced by the tool instead of a photo-eye.

use std::time::Duration;

use super::Overrides;
use crate::config::{LineBias, StationConfig, TriggerConfig, TriggerEdge};
use crate::station::StationError;
use crate::trigger::photo_eye::{PhotoEye, PhotoEyeSpec};
use crate::trigger::{FreeRun, Trigger};

pub(super) fn open(cfg: &StationConfig, ov: &Overrides) -> Result<Box<dyn Trigger>, StationError> {
    Ok(match (&cfg.trigger, ov.replay.is_some()) {
        (TriggerConfig::FreeRun { rate_hz }, _) => Box::new(FreeRun::new(ov.rate_hz.unwrap_or(*rate_hz))),
        // A replay is paced by the tool, not by parts passing the photo-eye.
        (TriggerConfig::Gpio(_), true) => Box::new(FreeRun::new(ov.rate_hz.unwrap_or(20.0))),
        (TriggerConfig::Gpio(g), false) => Box::new(PhotoEye::open(&PhotoEyeSpec {
            chip: g.chip.clone(),
            line: g.line.clone(),
            edge: match g.edge {
                TriggerEdge::Rising => gpiod::EdgeDetect::Rising,
                TriggerEdge::Falling => gpiod::EdgeDetect::Falling,
                TriggerEdge::Both => gpiod::EdgeDetect::Both,
            },
            active_low: g.active_low,
            bias: match g.bias {
                LineBias::AsIs => None,
                LineBias::Disabled => Some(gpiod::Bias::Disable),
                LineBias::PullUp => Some(gpiod::Bias::PullUp),
                LineBias::PullDown => Some(gpiod::Bias::PullDown),
            },
            debounce: Duration::from_millis(g.debounce_ms),
        })?),
    })
}
