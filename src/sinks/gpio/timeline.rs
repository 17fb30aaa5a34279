//! Every output change with its time, as JSON lines (`{"t_ms": 412.5, "line": "reject0", "value": 1}`),
//! milliseconds since the station's epoch. Both backends keep one, so the demo, the tests and a real
//! station's commissioning read the same record of what the lines did.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::GpioError;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LineChange {
    pub t_ms: f64,
    pub line: String,
    pub value: u8,
}

pub struct Timeline {
    epoch: Instant,
    out: Option<(PathBuf, BufWriter<File>)>,
    /// Shared copy, for in-process readers (tests, demo summary).
    pub shared: Arc<Mutex<Vec<LineChange>>>,
}

impl Timeline {
    pub fn new(epoch: Instant, file: Option<&Path>) -> Result<Self, GpioError> {
        let out = match file {
            Some(p) => {
                let f = File::create(p).map_err(|source| GpioError::Timeline { path: p.into(), source })?;
                Some((p.to_path_buf(), BufWriter::new(f)))
            }
            None => None,
        };
        Ok(Self { epoch, out, shared: Arc::default() })
    }

    pub fn record(&mut self, line: &str, active: bool) -> Result<(), GpioError> {
        let change =
            LineChange { t_ms: self.epoch.elapsed().as_secs_f64() * 1e3, line: line.to_string(), value: active as u8 };
        if let Some((path, w)) = &mut self.out {
            // A line per change, flushed: the timeline must survive a kill.
            let io = |source| GpioError::Timeline { path: path.clone(), source };
            serde_json::to_writer(&mut *w, &change).map_err(|e| io(e.into()))?;
            w.write_all(b"\n").map_err(io)?;
            w.flush().map_err(io)?;
        }
        if let Ok(mut t) = self.shared.lock() {
            t.push(change);
        }
        Ok(())
    }

    pub fn file(&self) -> Option<&Path> {
        self.out.as_ref().map(|(p, _)| p.as_path())
    }
}
