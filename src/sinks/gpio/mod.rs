//! GPIO outputs behind a small trait: the simulated backend here, the kernel's GPIO character device
//! on a station. Every output has a safe value (off) that it returns to on stop.

pub mod sim;

use std::fmt;

/// An output line by role, as the station drives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OutputLine {
    /// Reject solenoid of a cavity.
    Reject(usize),
    /// Alarm lamp: a fault is active.
    Alarm,
}

impl fmt::Display for OutputLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputLine::Reject(i) => write!(f, "reject[{i}]"),
            OutputLine::Alarm => f.write_str("alarm"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GpioError {
    #[error("line {line}: {reason}")]
    Line { line: String, reason: String },
    #[error("GPIO timeline {path}: {source}")]
    Timeline { path: std::path::PathBuf, source: std::io::Error },
}

pub trait GpioOutputs: Send {
    /// Drives one output (true = active: solenoid fires, lamp lights).
    fn set(&mut self, line: OutputLine, active: bool) -> Result<(), GpioError>;
    /// Every output to its safe (inactive) value.
    fn all_safe(&mut self) -> Result<(), GpioError>;
    fn describe(&self) -> String;
}
