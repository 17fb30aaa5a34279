//! GPIO outputs behind a small trait: the simulated backend (`sim`) and the kernel's GPIO character
//! device (`chardev`) on a station. Every output has a safe value (inactive) that it returns to on stop,
//! and every change goes into the timeline.

pub mod chardev;
mod config;
pub mod sim;
pub mod timeline;

use std::fmt;
use std::sync::{Arc, Mutex};

pub use config::{ChardevConfig, GpioConfig, LineDrive, OutputLineConfig};
use timeline::LineChange;

/// An output line by role, as the station drives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OutputLine {
    /// Reject solenoid of a cavity.
    Reject(usize),
    /// Alarm lamp: a fault is active.
    Alarm,
    /// The station is up and inspecting (for the line PLC).
    Ready,
    /// A further output electrode rules drive (e.g. a marker), by its index in the config.
    Marker(usize),
}

impl fmt::Display for OutputLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputLine::Reject(i) => write!(f, "reject[{i}]"),
            OutputLine::Alarm => f.write_str("alarm"),
            OutputLine::Ready => f.write_str("ready"),
            OutputLine::Marker(i) => write!(f, "marker[{i}]"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GpioError {
    #[error("line {line}: {reason}")]
    Line { line: String, reason: String },
    #[error("GPIO timeline {path}: {source}")]
    Timeline { path: std::path::PathBuf, source: std::io::Error },
    #[error(transparent)]
    Chip(#[from] crate::gpio_chip::ChipError),
    /// The `gpio` section given to `build` fails its checks.
    #[error(transparent)]
    Config(#[from] crate::key_problem::KeyProblem),
}

/// The station's outputs by role, in one order: rejects, alarm, ready when there is one, markers.
#[derive(Debug, Clone)]
pub struct OutputNames {
    pub reject: Vec<String>,
    pub alarm: String,
    pub ready: Option<String>,
    pub markers: Vec<String>,
}

impl OutputNames {
    pub fn count(&self) -> usize {
        self.reject.len() + 1 + usize::from(self.ready.is_some()) + self.markers.len()
    }

    fn first_marker(&self) -> usize {
        self.reject.len() + 1 + usize::from(self.ready.is_some())
    }

    /// The line's index; `None` for the ready output of a station that has none.
    pub fn index(&self, line: OutputLine) -> Result<Option<usize>, GpioError> {
        match line {
            OutputLine::Reject(i) if i < self.reject.len() => Ok(Some(i)),
            OutputLine::Reject(_) => {
                Err(GpioError::Line { line: line.to_string(), reason: "no such reject output".into() })
            }
            OutputLine::Alarm => Ok(Some(self.reject.len())),
            OutputLine::Ready => Ok(self.ready.as_ref().map(|_| self.reject.len() + 1)),
            OutputLine::Marker(i) if i < self.markers.len() => Ok(Some(self.first_marker() + i)),
            OutputLine::Marker(_) => {
                Err(GpioError::Line { line: line.to_string(), reason: "no such marker output".into() })
            }
        }
    }

    pub fn name(&self, i: usize) -> &str {
        if i < self.reject.len() {
            &self.reject[i]
        } else if i == self.reject.len() {
            &self.alarm
        } else if i >= self.first_marker() {
            &self.markers[i - self.first_marker()]
        } else {
            self.ready.as_deref().unwrap_or("ready")
        }
    }
}

pub trait GpioOutputs: Send {
    /// Drives one output (true = active: solenoid fires, lamp lights). Setting the ready output when none
    /// is configured is a no-op.
    fn set(&mut self, line: OutputLine, active: bool) -> Result<(), GpioError>;
    /// Every output to its safe (inactive) value.
    fn all_safe(&mut self) -> Result<(), GpioError>;
    fn describe(&self) -> String;
    /// The recorded line changes.
    fn timeline(&self) -> Arc<Mutex<Vec<LineChange>>>;
}

impl GpioOutputs for Box<dyn GpioOutputs> {
    fn set(&mut self, line: OutputLine, active: bool) -> Result<(), GpioError> {
        (**self).set(line, active)
    }
    fn all_safe(&mut self) -> Result<(), GpioError> {
        (**self).all_safe()
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn timeline(&self) -> Arc<Mutex<Vec<LineChange>>> {
        (**self).timeline()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(ready: bool) -> OutputNames {
        OutputNames {
            reject: vec!["reject0".into(), "reject1".into()],
            alarm: "lamp".into(),
            ready: ready.then(|| "plc_ready".into()),
            markers: vec!["ink".into(), "punch".into()],
        }
    }

    #[test]
    fn each_role_has_its_own_line_and_a_line_no_config_names_is_refused() {
        for ready in [true, false] {
            let n = names(ready);
            let r = usize::from(ready);
            assert_eq!(n.count(), 5 + r);
            let roles = [
                (OutputLine::Reject(0), Some(0), "reject0"),
                (OutputLine::Reject(1), Some(1), "reject1"),
                (OutputLine::Alarm, Some(2), "lamp"),
                (OutputLine::Marker(0), Some(3 + r), "ink"),
                (OutputLine::Marker(1), Some(4 + r), "punch"),
            ];
            for (line, index, name) in roles {
                assert_eq!(n.index(line).expect("configured"), index, "{line}");
                assert_eq!(n.name(index.expect("an index")), name, "{line}");
            }
            assert_eq!(n.index(OutputLine::Ready).expect("ready"), ready.then_some(3));
            if ready {
                assert_eq!(n.name(3), "plc_ready");
            }
            for line in [OutputLine::Reject(2), OutputLine::Marker(2), OutputLine::Marker(7)] {
                let e = n.index(line).expect_err("not configured");
                assert!(matches!(&e, GpioError::Line { line: l, .. } if *l == line.to_string()), "{e}");
            }
        }
    }

    #[test]
    fn a_boxed_backend_drives_and_releases_the_lines_of_the_one_inside() {
        // The station holds its backend boxed (sim or chardev by config): every call reaches the real one.
        let timeline = timeline::Timeline::new(std::time::Instant::now(), None).expect("in memory");
        let seen = timeline.shared.clone();
        let mut gpio: Box<dyn GpioOutputs> = Box::new(sim::SimGpio::new(names(true), timeline));
        assert_eq!(gpio.describe(), "simulated GPIO");
        gpio.set(OutputLine::Marker(1), true).expect("set");
        gpio.set(OutputLine::Alarm, true).expect("set");
        gpio.all_safe().expect("safe");
        let changes: Vec<(String, u8)> =
            seen.lock().expect("timeline").iter().map(|c| (c.line.clone(), c.value)).collect();
        let want = [("punch", 1), ("lamp", 1), ("lamp", 0), ("punch", 0)].map(|(l, v)| (l.to_string(), v));
        assert_eq!(changes, want, "safe before the box is dropped");
        assert!(Arc::ptr_eq(&gpio.timeline(), &seen));
    }

    #[test]
    fn a_simulated_backend_dropped_with_lines_on_leaves_them_safe() {
        // As a panic unwinding the actuator thread would drop it.
        let timeline = timeline::Timeline::new(std::time::Instant::now(), None).expect("in memory");
        let seen = timeline.shared.clone();
        let mut gpio = sim::SimGpio::new(names(false), timeline);
        gpio.set(OutputLine::Reject(1), true).expect("set");
        drop(gpio);
        let values: Vec<(String, u8)> =
            seen.lock().expect("timeline").iter().map(|c| (c.line.clone(), c.value)).collect();
        assert_eq!(values, [("reject1".to_string(), 1), ("reject1".to_string(), 0)]);
    }

    #[test]
    fn lines_are_named_by_role_in_logs() {
        let shown: Vec<String> = [OutputLine::Reject(1), OutputLine::Alarm, OutputLine::Ready, OutputLine::Marker(0)]
            .map(|l| l.to_string())
            .into();
        assert_eq!(shown, ["reject[1]", "alarm", "ready", "marker[0]"]);
    }
}
