//! Simulated GPIO: lines that exist only in the timeline, so tests and the demo read what a real line
//! would have shown.

use super::timeline::Timeline;
use super::{GpioError, GpioOutputs, OutputLine, OutputNames};

pub struct SimGpio {
    names: OutputNames,
    state: Vec<bool>,
    timeline: Timeline,
}

impl SimGpio {
    pub fn new(names: OutputNames, timeline: Timeline) -> Self {
        Self { state: vec![false; names.count()], names, timeline }
    }
}

/// As `ChardevGpio` does with real lines: whatever path drops the backend (a panic unwinding the
/// actuator thread included) leaves every output safe, and the timeline shows it.
impl Drop for SimGpio {
    fn drop(&mut self) {
        if let Err(e) = self.all_safe() {
            log::error!("GPIO: cannot set outputs safe on release: {e}");
        }
    }
}

impl GpioOutputs for SimGpio {
    fn set(&mut self, line: OutputLine, active: bool) -> Result<(), GpioError> {
        let Some(i) = self.names.index(line)? else { return Ok(()) };
        if self.state[i] == active {
            return Ok(());
        }
        self.state[i] = active;
        self.timeline.record(self.names.name(i), active)
    }

    fn all_safe(&mut self) -> Result<(), GpioError> {
        for i in 0..self.state.len() {
            if self.state[i] {
                self.state[i] = false;
                self.timeline.record(self.names.name(i), false)?;
            }
        }
        Ok(())
    }

    fn describe(&self) -> String {
        match self.timeline.file() {
            Some(p) => format!("simulated GPIO (timeline {})", p.display()),
            None => "simulated GPIO".into(),
        }
    }

    fn timeline(&self) -> std::sync::Arc<std::sync::Mutex<Vec<super::timeline::LineChange>>> {
        self.timeline.shared.clone()
    }
}
