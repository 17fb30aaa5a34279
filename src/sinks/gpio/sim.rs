//! Simulated GPIO: records every line change with its time, as JSON lines
//! (`{"t_ms": 412.5, "line": "reject0", "value": 1}`), so tests and the demo can read the timeline a
//! real line would have shown. Times are milliseconds since the station's epoch.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::{GpioError, GpioOutputs, OutputLine};

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LineChange {
    pub t_ms: f64,
    pub line: String,
    pub value: u8,
}

pub struct SimGpio {
    epoch: Instant,
    reject_names: Vec<String>,
    alarm_name: String,
    state: Vec<bool>, // rejects..., alarm
    out: Option<(PathBuf, BufWriter<File>)>,
    /// Shared copy of the timeline, for in-process readers (tests, demo summary).
    pub timeline: Arc<Mutex<Vec<LineChange>>>,
}

impl SimGpio {
    pub fn new(
        epoch: Instant,
        reject_names: Vec<String>,
        alarm_name: String,
        timeline_file: Option<&Path>,
    ) -> Result<Self, GpioError> {
        let out = match timeline_file {
            Some(p) => {
                let f = File::create(p).map_err(|source| GpioError::Timeline { path: p.into(), source })?;
                Some((p.to_path_buf(), BufWriter::new(f)))
            }
            None => None,
        };
        let n = reject_names.len() + 1;
        Ok(Self { epoch, reject_names, alarm_name, state: vec![false; n], out, timeline: Arc::default() })
    }

    fn index(&self, line: OutputLine) -> Result<(usize, &str), GpioError> {
        match line {
            OutputLine::Reject(i) => self
                .reject_names
                .get(i)
                .map(|n| (i, n.as_str()))
                .ok_or_else(|| GpioError::Line { line: line.to_string(), reason: "no such reject output".into() }),
            OutputLine::Alarm => Ok((self.reject_names.len(), self.alarm_name.as_str())),
        }
    }
}

impl GpioOutputs for SimGpio {
    fn set(&mut self, line: OutputLine, active: bool) -> Result<(), GpioError> {
        let (i, name) = self.index(line)?;
        if self.state[i] == active {
            return Ok(());
        }
        let change =
            LineChange { t_ms: self.epoch.elapsed().as_secs_f64() * 1e3, line: name.to_string(), value: active as u8 };
        self.state[i] = active;
        if let Some((path, w)) = &mut self.out {
            // A line per change, flushed: the timeline must survive a kill.
            let io = |source| GpioError::Timeline { path: path.clone(), source };
            serde_json::to_writer(&mut *w, &change).map_err(|e| io(e.into()))?;
            w.write_all(b"\n").map_err(io)?;
            w.flush().map_err(io)?;
        }
        if let Ok(mut t) = self.timeline.lock() {
            t.push(change);
        }
        Ok(())
    }

    fn all_safe(&mut self) -> Result<(), GpioError> {
        for i in 0..self.reject_names.len() {
            self.set(OutputLine::Reject(i), false)?;
        }
        self.set(OutputLine::Alarm, false)
    }

    fn describe(&self) -> String {
        match &self.out {
            Some((p, _)) => format!("simulated GPIO (timeline {})", p.display()),
            None => "simulated GPIO".into(),
        }
    }
}
