//! `trigger`: what starts an inspection (a free-running rate or the photo-eye on a GPIO input), checked
//! and opened (`build`).

use serde::Deserialize;

use super::free_run::{validate_rate, FreeRun};
use super::photo_eye::{GpioTriggerConfig, PhotoEye, TriggerError};
use super::Trigger;
use crate::key_problem::KeyProblem;

/// What starts an inspection.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum TriggerConfig {
    /// Free-running at a fixed rate.
    FreeRun { rate_hz: f64 },
    /// The photo-eye on a GPIO input.
    Gpio(GpioTriggerConfig),
}

impl TriggerConfig {
    pub fn validate(&self) -> Result<(), KeyProblem> {
        match self {
            TriggerConfig::FreeRun { rate_hz } => validate_rate("trigger.rate_hz", *rate_hz),
            TriggerConfig::Gpio(g) => g.validate(),
        }
    }

    /// Checks the section, then opens the trigger: a free-running one starts at its first `wait`; the
    /// photo-eye's line is requested now (an error names the chip and the line).
    pub fn build(&self) -> Result<Box<dyn Trigger>, TriggerError> {
        self.validate()?;
        Ok(match self {
            TriggerConfig::FreeRun { rate_hz } => Box::new(FreeRun::new(*rate_hz)),
            TriggerConfig::Gpio(g) => Box::new(PhotoEye::open(g)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> TriggerConfig {
        serde_json::from_str(json).expect("trigger section")
    }

    #[test]
    fn each_kind_checks_its_own_keys() {
        assert_eq!(parse(r#"{"kind": "free_run", "rate_hz": 20}"#).validate(), Ok(()));
        let slow = parse(r#"{"kind": "free_run", "rate_hz": 0}"#).validate();
        assert_eq!(slow.map_err(|p| p.key), Err("trigger.rate_hz".into()));
        let bouncy = parse(r#"{"kind": "gpio", "chip": "c", "line": 1, "debounce_ms": 5000}"#).validate();
        assert_eq!(bouncy.map_err(|p| p.key), Err("trigger.debounce_ms".into()));
        assert!(serde_json::from_str::<TriggerConfig>(r#"{"kind": "timer", "rate_hz": 1}"#).is_err());
    }

    #[test]
    fn a_photo_eye_on_a_missing_chip_is_refused_at_build() {
        let eye = parse(r#"{"kind": "gpio", "chip": "/dev/no-such-gpiochip", "line": 1}"#);
        let err = eye.build().err().expect("no chip");
        assert!(matches!(err, TriggerError::Chip(_)), "{err}");
        assert!(err.to_string().contains("no-such-gpiochip"), "{err}");
        assert!(parse(r#"{"kind": "free_run", "rate_hz": 20}"#).build().is_ok());
    }

    #[test]
    fn build_refuses_a_section_that_fails_its_checks() {
        // A rate whose period does not fit a Duration would panic in FreeRun::new.
        for bad in [
            r#"{"kind": "free_run", "rate_hz": 1e-300}"#,
            r#"{"kind": "gpio", "chip": "c", "line": 1, "debounce_ms": 5000}"#,
        ] {
            match parse(bad).build() {
                Err(TriggerError::Config(p)) => assert!(p.key.starts_with("trigger."), "{p}"),
                Err(e) => panic!("{bad}: refused for another reason: {e}"),
                Ok(_) => panic!("{bad}: opened"),
            }
        }
    }
}
