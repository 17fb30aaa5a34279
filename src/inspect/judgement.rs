//! What inference made of one part: its verdict and everything the record shows of it, or why it was
//! not judged (rejected either way).

use std::sync::Arc;

use serde::Serialize;

use super::decision::Verdict;
use super::electrode::rules::{ClassPresence, DefectRecord};
use super::electrode::ElectrodeResult;
use super::ModelIdentity;
use crate::sources::Frame;

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

/// A part's judgement. The inspection fills the verdict and what it found; the infer step adds the
/// latency, the judging model and (NG) the frame for the archive.
#[derive(Debug, Clone)]
pub struct Judgement {
    pub verdict: Verdict,
    /// Seal: the NG probability. Electrode: the best decoded defect's score (0: none). `None`: not judged.
    pub p_ng: Option<f32>,
    /// The judging model's threshold (`None`: not judged; the record keeps the configured one).
    pub threshold: Option<f32>,
    /// Fire the part's reject output.
    pub reject: bool,
    /// Further outputs to pulse (indices into the configured markers).
    pub markers: Vec<usize>,
    /// Electrode: every decoded defect.
    pub defects: Option<Vec<DefectRecord>>,
    /// Electrode: the detector's image-level presence probability per class (its `cls` output).
    pub presence: Option<ClassPresence>,
    /// Electrode: the rules that fired.
    pub reasons: Vec<String>,
    /// Electrode: the decoded result (detections, segmentation map) of a judged part: the NG picture is
    /// drawn from it, `cellgate evaluate` measures segmentation on it.
    pub electrode: Option<Arc<ElectrodeResult>>,
    /// Electrode, NG: the aligned X-ray frame, drawn beside the visible one in the NG picture.
    pub xray: Option<Frame>,
    /// The inspection measures `warp_ms`; the infer step the rest.
    pub latency: StageLatency,
    pub model: Option<Arc<ModelIdentity>>,
    /// Seal: SHA-256 of the reference image file the part was judged against.
    pub reference: Option<Arc<str>>,
    /// The part's frame, kept for the NG archive.
    pub frame: Option<Frame>,
    /// Why the part was not judged.
    pub error: Option<String>,
    /// Not judged for want of capacity (inference queue full, or its reject point passed before
    /// inference could start): counted towards the overload alarm.
    pub shed: bool,
}

impl Judgement {
    /// A verdict from a score alone (the seal's): NG rejects, nothing else fires.
    pub fn from_score(p_ng: f32, threshold: f32) -> Self {
        let verdict = Verdict::from_score(p_ng, threshold);
        Self { p_ng: Some(p_ng), threshold: Some(threshold), reject: verdict.rejects(), ..Self::not_judged(verdict) }
    }

    /// Not judged: its frames could not be used or the model failed. Rejected.
    pub fn failed(reason: String) -> Self {
        Self { error: Some(reason), ..Self::not_judged(Verdict::Error) }
    }

    /// Not judged for want of capacity. Rejected, and counted towards the overload alarm.
    pub fn shed(reason: String) -> Self {
        Self { shed: true, ..Self::failed(reason) }
    }

    fn not_judged(verdict: Verdict) -> Self {
        Self {
            verdict,
            p_ng: None,
            threshold: None,
            reject: true,
            markers: Vec::new(),
            defects: None,
            presence: None,
            reasons: Vec::new(),
            electrode: None,
            xray: None,
            latency: StageLatency::default(),
            model: None,
            reference: None,
            frame: None,
            error: None,
            shed: false,
        }
    }
}
