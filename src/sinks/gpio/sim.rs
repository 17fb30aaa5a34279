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
        self.timeline.note(self.names.name(i), active);
        Ok(())
    }

    /// Every line goes safe first; a timeline that cannot be written is reported after, never stops it.
    fn all_safe(&mut self) -> Result<(), GpioError> {
        let mut first_err = None;
        for i in 0..self.state.len() {
            if self.state[i] {
                self.state[i] = false;
                if let Err(e) = self.timeline.record(self.names.name(i), false) {
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(()), Err)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::gpio::OutputLine;
    use std::path::Path;
    use std::time::Instant;

    #[test]
    fn every_line_goes_safe_when_the_timeline_cannot_be_written() {
        // /dev/full: every write fails with ENOSPC, as a timeline on a full disk does.
        let timeline = Timeline::new(Instant::now(), Some(Path::new("/dev/full"))).expect("timeline");
        let names = OutputNames {
            reject: vec!["reject0".into(), "reject1".into()],
            alarm: "alarm".into(),
            ready: Some("ready".into()),
            markers: vec![],
        };
        let mut gpio = SimGpio::new(names, timeline);
        for line in [OutputLine::Reject(0), OutputLine::Reject(1), OutputLine::Alarm, OutputLine::Ready] {
            // The line did change: an unrecorded change is not a failed write (which would count a fired
            // reject as failed and raise the actuator alarm).
            assert!(gpio.set(line, true).is_ok(), "the line is set, only its record fails");
        }
        assert_eq!(gpio.state, vec![true; 4]);
        assert!(matches!(gpio.all_safe(), Err(GpioError::Timeline { .. })), "the write error is reported");
        assert_eq!(gpio.state, vec![false; 4], "every line is safe all the same");
        let seen = gpio.timeline.shared.lock().expect("lock").clone();
        assert_eq!(seen.iter().filter(|c| c.value == 0).count(), 4, "each safe change is kept in memory");
    }
}
