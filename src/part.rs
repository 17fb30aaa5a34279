//! A part's life, in three types:
//!
//! - [`Part`]: a cavity's frames, from capture to inference;
//! - [`Judgement`](crate::inspect::Judgement): what inference made of it (a verdict, or why there is none);
//! - [`PartRecord`]: its record, opened when the part is registered at its trigger (so none is ever lost),
//!   completed by the reject scheduler at its reject point, then handed to every record sink.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::inspect::decision::Verdict;
use crate::inspect::electrode::rules::{ClassPresence, DefectRecord};
use crate::inspect::electrode::ElectrodeResult;
use crate::inspect::{Judgement, ModelIdentity, StageLatency};
use crate::sources::{Frame, FrameInfo};

/// One cavity's part on its way to inference.
pub struct Part {
    pub id: u64,
    pub trigger: Instant,
    pub captured: Instant,
    /// The camera frame (the visible frame of an electrode pair).
    pub frame: Frame,
    /// The electrode station's X-ray frame, as captured (aligned in the infer step).
    pub xray: Option<Frame>,
}

/// A part's record: one line of the results log, and what every record sink gets.
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
    /// Seal: SHA-256 of the reference image file the part was judged against (a taught reference that
    /// took over shows as a new value from one part on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
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
    /// Ground truth, when replaying a labelled dataset: ok or ng, and the defect it names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_defect: Option<String>,
    /// Electrode ground truth: each labelled defect's class and box (x0, y0, x1, y1).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub label_boxes: Vec<(&'static str, [f32; 4])>,
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
    /// An NG part's frame, for the NG archive (not logged).
    #[serde(skip)]
    pub image: Option<Frame>,
    /// Electrode: the decoded result (detections, segmentation map; not logged).
    #[serde(skip)]
    pub electrode: Option<Arc<ElectrodeResult>>,
    /// Electrode, NG: the aligned X-ray frame, for the NG picture (not logged).
    #[serde(skip)]
    pub xray: Option<Frame>,
}

impl PartRecord {
    /// The record of a part registered at its trigger: an error until its judgement says otherwise, so a
    /// part whose judgement never comes is settled as one.
    pub fn registered(part: u64, cavity: usize, time: String, trigger_ms: f64) -> Self {
        Self {
            time,
            trigger_ms,
            part,
            cavity,
            station: String::new(),
            recipe: String::new(),
            frame: String::new(),
            model: None,
            reference: None,
            verdict: Verdict::Error,
            p_ng: None,
            threshold: 0.0,
            rejected: false,
            late: false,
            reject_failed: false,
            fault: false,
            error: None,
            latency: StageLatency::default(),
            label: None,
            label_defect: None,
            label_boxes: Vec::new(),
            defects: None,
            presence: None,
            reasons: Vec::new(),
            image: None,
            electrode: None,
            xray: None,
        }
    }

    /// The recipe it is judged against, the frame it was captured in and the frame's ground truth.
    pub fn captured(mut self, recipe: &str, frame: &FrameInfo) -> Self {
        self.recipe = recipe.to_string();
        self.frame.clone_from(&frame.name);
        self.label = frame.label_ng.map(|ng| if ng { "ng" } else { "ok" });
        self.label_defect.clone_from(&frame.defect);
        self.label_boxes.clone_from(&frame.label_boxes);
        self
    }

    /// What inference made of the part. Its frame is kept for the archive only when it is NG.
    pub fn judged(&mut self, j: Judgement) {
        self.verdict = j.verdict;
        self.p_ng = j.p_ng;
        if let Some(t) = j.threshold {
            self.threshold = t;
        }
        self.model = j.model.map(|m| (*m).clone());
        self.reference = j.reference.map(|r| r.to_string());
        self.error = j.error;
        self.latency = j.latency;
        self.defects = j.defects;
        self.presence = j.presence;
        self.reasons = j.reasons;
        self.electrode = j.electrode;
        let ng = j.verdict == Verdict::Ng;
        self.image = if ng { j.frame } else { None };
        self.xray = if ng { j.xray } else { None };
    }
}

#[cfg(test)]
impl PartRecord {
    /// A judged part for the sinks' tests: part `part`, its verdict, 2 ms trigger->verdict.
    pub(crate) fn for_test(part: u64, verdict: Verdict) -> Self {
        let mut r = Self::registered(part, 0, "2026-11-30T06:00:00.000Z".into(), part as f64 * 10.0)
            .captured("recipe-a", &FrameInfo { name: format!("f{part}.png"), ..FrameInfo::default() });
        r.station = "t".into();
        r.verdict = verdict;
        r.p_ng = Some(if verdict == Verdict::Ng { 0.9 } else { 0.1 });
        r.threshold = 0.5;
        r.rejected = verdict == Verdict::Ng;
        r.latency = StageLatency { total_ms: 2.0, ..StageLatency::default() };
        r
    }
}
