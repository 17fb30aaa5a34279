//! `state_dir/metrics.json`: the registry's snapshot, written every `metrics.period_ms` while the station
//! runs and once more at its exit, for `cellgate status` (and any other reader) to watch a running
//! station. Each write goes to a temporary file beside it and is renamed over the old one, so a reader
//! sees a whole file, old or new, never a half-written one. A write that fails is logged (once per
//! streak) and counted (`metrics_write_errors`); it never stops the line.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::{LiveSnapshot, StationMetrics};

/// The file's name in the state folder.
pub const FILE_NAME: &str = "metrics.json";

/// A file older than this many periods is stale: its station has stopped writing it.
pub const STALE_PERIODS: u64 = 3;

#[derive(Debug, thiserror::Error)]
pub enum MetricsFileError {
    #[error("{path}: no metrics file (has the station run with this config?)")]
    Missing { path: PathBuf },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a metrics file: {source}")]
    Parse { path: PathBuf, source: serde_json::Error },
    #[error("metrics as JSON: {0}")]
    Encode(#[source] serde_json::Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// Written while the station runs: a fresh one is rewritten every `period_ms`.
    Running,
    /// Written once at the station's exit, with the run's final counters.
    Stopped,
}

/// What `metrics.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MetricsFile {
    pub station: String,
    pub pid: u32,
    pub state: RunState,
    /// When this file was written: milliseconds since the Unix epoch, and the same as RFC 3339 (UTC).
    pub written_unix_ms: u64,
    pub written: String,
    /// Writes in this run so far, this one included.
    pub seq: u64,
    /// How often the station writes the file, ms.
    pub period_ms: u64,
    /// The model judging parts: "name version on provider".
    pub model: String,
    #[serde(flatten)]
    pub live: LiveSnapshot,
    /// A pipeline step stuck inside one call (a camera read, a model run) or the trigger lost, for
    /// longer than `STUCK_AFTER`: the timer that writes this file runs on, so a fresh file alone does not
    /// say the line is inspecting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stuck: Option<Stuck>,
}

/// A step that has not come back, and for how long.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stuck {
    pub step: String,
    pub for_ms: u64,
}

/// A camera read or a model run takes milliseconds; one that lasts this long has hung.
pub const STUCK_AFTER: Duration = Duration::from_secs(10);

/// What the writer asks, at each write, for a step stuck longer than `STUCK_AFTER`.
pub type StuckProbe = Box<dyn Fn() -> Option<Stuck> + Send>;

/// How current a metrics file is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Freshness {
    /// Written within `STALE_PERIODS` periods by a running station.
    Fresh { age: Duration },
    /// A running station wrote it, but longer ago than `STALE_PERIODS` periods: it is hung or gone.
    Stale { age: Duration },
    /// The station wrote it at its exit.
    Stopped { age: Duration },
}

impl MetricsFile {
    pub fn freshness(&self, now: SystemTime) -> Freshness {
        let now_ms = now.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
        // A file from the future (the clock was set back) counts as just written.
        let age = Duration::from_millis(now_ms.saturating_sub(self.written_unix_ms));
        match self.state {
            RunState::Stopped => Freshness::Stopped { age },
            RunState::Running if age > Duration::from_millis(self.period_ms.saturating_mul(STALE_PERIODS)) => {
                Freshness::Stale { age }
            }
            RunState::Running => Freshness::Fresh { age },
        }
    }

    /// Reads `dir/metrics.json`.
    pub fn read(dir: &Path) -> Result<Self, MetricsFileError> {
        Self::read_raw(dir).map(|(file, _)| file)
    }

    /// Reads `dir/metrics.json` once: the file parsed and its bytes as written (one version of it, so
    /// what is printed and what is judged cannot come from two writes).
    pub fn read_raw(dir: &Path) -> Result<(Self, Vec<u8>), MetricsFileError> {
        let path = dir.join(FILE_NAME);
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(MetricsFileError::Missing { path }),
            Err(source) => return Err(MetricsFileError::Io { path, source }),
        };
        let file = serde_json::from_slice(&text).map_err(|source| MetricsFileError::Parse { path, source })?;
        Ok((file, text))
    }
}

/// Writes the registry's snapshot to `dir/metrics.json`, whole or not at all.
pub struct MetricsWriter {
    dir: PathBuf,
    station: String,
    period: Duration,
    metrics: Arc<StationMetrics>,
    seq: u64,
    failing: bool,
    stuck: Option<StuckProbe>,
}

impl MetricsWriter {
    pub fn new(dir: &Path, station: &str, period: Duration, metrics: Arc<StationMetrics>) -> Self {
        Self { dir: dir.to_path_buf(), station: station.into(), period, metrics, seq: 0, failing: false, stuck: None }
    }

    /// Each write asks `probe` for a stuck step and records it (the station's health marks).
    pub fn with_stuck_probe(mut self, probe: StuckProbe) -> Self {
        self.stuck = Some(probe);
        self
    }

    /// One write of the snapshot as it is now. A failure is counted and logged once per streak.
    pub fn write(&mut self, state: RunState, model: String) {
        self.seq += 1;
        let now = SystemTime::now();
        let file = MetricsFile {
            station: self.station.clone(),
            pid: std::process::id(),
            state,
            written_unix_ms: now.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0),
            written: humantime::format_rfc3339_millis(now).to_string(),
            seq: self.seq,
            period_ms: self.period.as_millis() as u64,
            model,
            live: self.metrics.live(),
            stuck: self.stuck.as_ref().and_then(|probe| probe()),
        };
        match self.replace(&file) {
            Ok(()) => {
                if self.failing {
                    log::info!("{}: writing again", self.dir.join(FILE_NAME).display());
                    self.failing = false;
                }
            }
            Err(e) => {
                self.metrics.inc(&self.metrics.metrics_write_errors);
                if !self.failing {
                    log::error!("cannot write the metrics file ({e}); inspection goes on");
                    self.failing = true;
                }
            }
        }
    }

    /// Temporary file beside the target, then a rename over it: readers see the old file or the new one.
    /// Not synced: the file is rewritten every period, and a reader after a crash wants the next one.
    fn replace(&self, file: &MetricsFile) -> Result<(), MetricsFileError> {
        let path = self.dir.join(FILE_NAME);
        // The pid keeps two processes on one state folder (a replay beside the station) off each other's
        // half-written file.
        let tmp = self.dir.join(format!(".{FILE_NAME}.{}.tmp", std::process::id()));
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |source| MetricsFileError::Io { path: p, source }
        };
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let mut text = serde_json::to_vec_pretty(file).map_err(MetricsFileError::Encode)?;
        text.push(b'\n');
        std::fs::write(&tmp, &text)
            .map_err(io(&tmp))
            .and_then(|()| std::fs::rename(&tmp, &path).map_err(io(&path)))
            .inspect_err(|_| {
                // A full disk leaves no partial file behind for the next write to trip over.
                let _ = std::fs::remove_file(&tmp);
            })
    }
}

/// Writes `writer`'s file every period until `done` is closed (its sender dropped), then hands the
/// writer back for the last write, made once the station has drained.
pub fn write_periodically(
    mut writer: MetricsWriter,
    done: &crossbeam_channel::Receiver<()>,
    model: impl Fn() -> String,
) -> MetricsWriter {
    loop {
        writer.write(RunState::Running, model());
        match done.recv_timeout(writer.period) {
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return writer,
        }
    }
}

#[cfg(test)]
mod tests;
