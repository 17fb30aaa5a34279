//! The results log: one JSON line per part, appended as each part is settled, each line written whole or
//! not at all (`line_file`). A write error (disk full) is counted and logged once per streak; inspection
//! goes on.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::inspect::decision::Verdict;
use crate::inspect::electrode::rules::{ClassPresence, DefectRecord};
use crate::inspect::ModelIdentity;
use crate::metrics::StationMetrics;
use crate::sinks::line_file::LineFile;
use crate::sinks::record::{RecordSink, Settled};

/// Per-stage latency of a part, milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StageLatency {
    /// Trigger to frame in hand.
    pub capture_ms: f64,
    /// Waiting for the inference thread.
    pub queue_ms: f64,
    /// Electrode: aligning the X-ray frame onto the visible one.
    #[serde(skip_serializing_if = "is_zero")]
    pub warp_ms: f64,
    /// Preprocess + inference of the part's batch.
    pub infer_ms: f64,
    /// Trigger to verdict.
    pub total_ms: f64,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

/// One line of the results log.
#[derive(Debug, Clone, Serialize)]
pub struct PartRecord {
    /// Wall-clock time of the trigger (RFC 3339, UTC).
    pub time: String,
    /// Milliseconds since the station started (the GPIO timeline's clock).
    pub trigger_ms: f64,
    pub part: u64,
    pub cavity: usize,
    pub station: String,
    pub recipe: String,
    pub frame: String,
    pub model: Option<ModelIdentity>,
    pub verdict: Verdict,
    pub p_ng: Option<f32>,
    pub threshold: f32,
    /// Did the reject output fire for this part.
    pub rejected: bool,
    /// Verdict not ready at the reject point: rejected fail-safe.
    pub late: bool,
    /// The part should have been rejected and its reject output could not be written: the part went on
    /// down the line. The alarm is on; the line must be checked by hand.
    pub reject_failed: bool,
    /// A fault was active at the reject point: rejected by the fault policy.
    pub fault: bool,
    pub error: Option<String>,
    pub latency: StageLatency,
    /// Ground truth, when replaying a labelled dataset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<&'static str>,
    /// Electrode: every decoded defect (class, score, box, area).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defects: Option<Vec<DefectRecord>>,
    /// Electrode: the detector's image-level presence probability per class (`cls`), beside the defects
    /// the rules judged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence: Option<ClassPresence>,
    /// Electrode: the rules that fired.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
}

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

    fn record(&mut self, part: &Settled) {
        self.write(&part.record);
    }

    fn close(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
impl PartRecord {
    /// A judged part for the sinks' tests: part `part`, its verdict, 2 ms trigger->verdict.
    pub(crate) fn for_test(part: u64, verdict: Verdict) -> Self {
        Self {
            time: "2026-11-30T06:00:00.000Z".into(),
            trigger_ms: part as f64 * 10.0,
            part,
            cavity: 0,
            station: "t".into(),
            recipe: "recipe-a".into(),
            frame: format!("f{part}.png"),
            model: None,
            verdict,
            p_ng: Some(if verdict == Verdict::Ng { 0.9 } else { 0.1 }),
            threshold: 0.5,
            rejected: verdict == Verdict::Ng,
            late: false,
            reject_failed: false,
            fault: false,
            error: None,
            latency: StageLatency { total_ms: 2.0, ..StageLatency::default() },
            label: None,
            defects: None,
            presence: None,
            reasons: Vec::new(),
        }
    }
}
