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
