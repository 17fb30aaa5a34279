//! Every output change with its time, as JSON lines (`{"t_ms": 412.5, "line": "reject0", "value": 1}`),
//! milliseconds since the station's epoch. Both backends keep one, so the demo, the tests and a real
//! station's commissioning read the same record of what the lines did. The file gets every change; memory
//! keeps only the latest (`MEMORY_CHANGES`), since a station runs for months.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::GpioError;
use crate::sinks::line_file::LineFile;

/// The in-memory copy keeps between half this many and this many of the latest changes.
pub const MEMORY_CHANGES: usize = 4096;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LineChange {
    pub t_ms: f64,
    pub line: String,
    pub value: u8,
}

pub struct Timeline {
    epoch: Instant,
    out: Option<(PathBuf, LineFile)>,
    /// The latest changes, for in-process readers (tests, demo summary); oldest first.
    pub shared: Arc<Mutex<Vec<LineChange>>>,
    /// The file's last write failed (logged once per run of failures).
    failing: bool,
}

impl Timeline {
    pub fn new(epoch: Instant, file: Option<&Path>) -> Result<Self, GpioError> {
        let out = match file {
            Some(p) => {
                let f = LineFile::create(p).map_err(|source| GpioError::Timeline { path: p.into(), source })?;
                Some((p.to_path_buf(), f))
            }
            None => None,
        };
        Ok(Self { epoch, out, shared: Arc::default(), failing: false })
    }

    /// Writes the change to the file and keeps it in memory: a change that cannot be written is still
    /// seen in process, and the error is the caller's to report.
    pub fn record(&mut self, line: &str, active: bool) -> Result<(), GpioError> {
        let change =
            LineChange { t_ms: self.epoch.elapsed().as_secs_f64() * 1e3, line: line.to_string(), value: active as u8 };
        let written = match &mut self.out {
            // A whole line per change, unbuffered: the timeline must survive a kill.
            Some((path, w)) => {
                w.write_json(&change).map_err(|source| GpioError::Timeline { path: path.clone(), source })
            }
            None => Ok(()),
        };
        if let Ok(mut t) = self.shared.lock() {
            if t.len() >= MEMORY_CHANGES {
                // Half at a time: one shift of the vector per MEMORY_CHANGES / 2 changes.
                t.drain(..MEMORY_CHANGES / 2);
            }
            t.push(change);
        }
        written
    }

    /// Records a change of a line that was set: a timeline that cannot be written is logged once per run
    /// of failures and never makes the line's write count as failed (the line did change).
    pub fn note(&mut self, line: &str, active: bool) {
        match self.record(line, active) {
            Ok(()) => self.failing = false,
            Err(e) if !self.failing => {
                self.failing = true;
                log::error!("{e}: output changes are not recorded until it can be written again");
            }
            Err(_) => {}
        }
    }

    pub fn file(&self) -> Option<&Path> {
        self.out.as_ref().map(|(p, _)| p.as_path())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_keeps_the_latest_changes_and_the_file_keeps_all() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("gpio.jsonl");
        let mut t = Timeline::new(Instant::now(), Some(&path)).expect("timeline");
        let n = 3 * MEMORY_CHANGES + 7;
        for i in 0..n {
            t.record("reject0", i.is_multiple_of(2)).expect("record");
        }
        let kept = t.shared.lock().expect("lock").clone();
        assert!(kept.len() <= MEMORY_CHANGES && kept.len() >= MEMORY_CHANGES / 2, "{} in memory", kept.len());
        assert_eq!(kept.last().map(|c| c.value), Some(u8::from((n - 1).is_multiple_of(2))), "the latest is kept");
        let lines = std::fs::read_to_string(&path).expect("file").lines().count();
        assert_eq!(lines, n, "the file has every change");
    }
}
