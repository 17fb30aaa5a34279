//! The trigger the config names: a free-running rate or the photo-eye. A replay from the command line is
//! paced by the tool instead of a photo-eye.

use super::Overrides;
use crate::config::StationConfig;
use crate::station::StationError;
use crate::trigger::{FreeRun, Trigger, TriggerConfig};

pub(super) fn open(cfg: &StationConfig, ov: &Overrides) -> Result<Box<dyn Trigger>, StationError> {
    Ok(match (&cfg.trigger, ov.replay.is_some(), ov.rate_hz) {
        (TriggerConfig::FreeRun { .. }, _, Some(rate_hz)) => Box::new(FreeRun::new(rate_hz)),
        // A replay is paced by the tool, not by parts passing the photo-eye.
        (TriggerConfig::Gpio(_), true, rate_hz) => Box::new(FreeRun::new(rate_hz.unwrap_or(20.0))),
        (configured, _, _) => configured.build()?,
    })
}
