//! The results log: one JSON line per part, appended as each part is settled, each line written whole or
//! not at all (`line_file`). A write error (disk full) is counted and logged once per streak; inspection
//! goes on.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::metrics::StationMetrics;
use crate::part::PartRecord;
use crate::sinks::line_file::LineFile;
use crate::sinks::record::RecordSink;

/// A part's record as the results log writes its line (without the newline): the one serialisation of a
/// record, for every sink that sends records on (the MQTT `part` topic).
pub fn record_json(rec: &PartRecord) -> serde_json::Result<Vec<u8>> {
    serde_json::to_vec(rec)
}

pub struct ResultsLog {
    path: PathBuf,
    out: LineFile,
    failing: bool,
    /// Counted live: `results_write_errors`.
    metrics: Arc<StationMetrics>,
}

impl ResultsLog {
    pub fn open(path: &Path, metrics: Arc<StationMetrics>) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)?;
            }
        }
        Ok(Self { path: path.to_path_buf(), out: LineFile::append(path)?, failing: false, metrics })
    }

    pub fn write(&mut self, rec: &PartRecord) {
        let line = record_json(rec).map_err(std::io::Error::from).and_then(|mut line| {
            line.push(b'\n');
            self.out.write_line(&line)
        });
        match line {
            Ok(()) => {
                if self.failing {
                    log::info!("{}: writing again", self.path.display());
                    self.failing = false;
                }
            }
            Err(e) => {
                self.metrics.inc(&self.metrics.results_write_errors);
                if !self.failing {
                    log::error!("{}: cannot write results ({e}); inspection continues", self.path.display());
                    self.failing = true;
                }
            }
        }
    }

    /// At the end of a run: every line is already written; this makes them durable before the exit.
    pub fn flush(&mut self) {
        match self.out.target().sync_data() {
            // A device or pipe as the log (tests use /dev/full) has nothing to sync.
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(nix::libc::EINVAL) => {}
            Err(e) => log::error!("{}: sync: {e}", self.path.display()),
        }
    }
}

impl RecordSink for ResultsLog {
    fn name(&self) -> &str {
        "results log"
    }

    fn record(&mut self, part: &PartRecord) {
        self.write(part);
    }

    fn close(&mut self) {
        self.flush();
    }
}
