//! The infer + decide step behind one interface for both inspections: the seal classifier (a score per
//! part against its recipe's reference) and the electrode detector (an aligned visible + X-ray pair,
//! decoded defects judged by the configured rules, which name the outputs to fire).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ort::session::RunOptions;

use super::pipeline::Part;
use crate::config::{ElectrodeConfig, GpioConfig, InspectionConfig, SealConfig, StationConfig};
use crate::inspect::align::{AlignError, Homography};
use crate::inspect::decision::Verdict;
use crate::inspect::defect_rules::{self, DefectRecord, DefectRule};
use crate::inspect::electrode::{ElectrodeInspector, ElectrodeResult};
use crate::inspect::seal::{ModelIdentity, SealInspector};
use crate::inspect::InspectError;
use crate::runtime::Runtime;
use crate::sources::{Frame, FrameInfo, PixelFormat};

/// What the model and the rules made of one part.
#[derive(Debug, Clone)]
pub struct PartJudgement {
    /// Seal: the NG probability. Electrode: the best decoded defect's score (0: none).
    pub p_ng: f32,
    pub verdict: Verdict,
    /// Fire the part's reject output.
    pub reject: bool,
    /// Further outputs to pulse (indices into the configured markers).
    pub markers: Vec<usize>,
    /// Electrode: every decoded defect and the rules that fired.
    pub defects: Option<Vec<DefectRecord>>,
    pub reasons: Vec<String>,
    /// Electrode: what the NG picture is drawn from (the aligned X-ray and the decoded result).
    pub drawing: Option<(Frame, Arc<ElectrodeResult>)>,
    /// Time spent aligning the X-ray frame.
    pub warp: Duration,
}

/// Why one part of a batch was not judged; the part is rejected either way.
#[derive(Debug, thiserror::Error)]
pub enum PartError {
    /// Its frames cannot be used: the camera or the config's fault, not the model's.
    #[error("no x-ray frame for this part")]
    NoXray,
    #[error(
        "x-ray frame {}x{} and visible frame {}x{} differ and no inspection.homography is set",
        .xray.0, .xray.1, .visible.0, .visible.1
    )]
    Unaligned { xray: (u32, u32), visible: (u32, u32) },
    #[error("x-ray alignment: {0}")]
    Align(#[from] AlignError),
    /// The model gave this part an unusable output (not finite, out of range): a model fault.
    #[error("model fault for this part: {0}")]
    Model(#[source] InspectError),
    #[error("model fault: it returned fewer results than pairs")]
    MissingResult,
}

impl PartError {
    /// A fault of the model in use (alarm), rather than of the part's frames.
    pub fn is_model_fault(&self) -> bool {
        matches!(self, PartError::Model(_) | PartError::MissingResult)
    }
}

// One per station.
#[allow(clippy::large_enum_variant)]
pub enum Inspector {
    Seal(SealInspector),
    Electrode(Box<ElectrodeJudge>),
}

impl Inspector {
    pub fn identity(&self) -> &ModelIdentity {
        match self {
            Inspector::Seal(s) => s.identity(),
            Inspector::Electrode(e) => &e.identity,
        }
    }

    /// The threshold results are logged with (seal: NG probability; electrode: detection score).
    pub fn threshold(&self) -> f32 {
        match self {
            Inspector::Seal(s) => s.threshold(),
            Inspector::Electrode(e) => e.inspector.score_threshold(),
        }
    }

    /// The model's self-test (the one it passed when loaded): a failing model is tried with it while no
    /// part comes, so its alarm can clear without waiting for a part.
    pub fn self_test(&mut self) -> Result<(), InspectError> {
        match self {
            Inspector::Seal(s) => s.self_test().map(|_| ()),
            Inspector::Electrode(e) => crate::inspect::self_test::electrode(&mut e.inspector),
        }
    }

    /// Judges a batch. The outer error fails the whole batch (model fault); an inner one only its part
    /// (a frame that cannot be used).
    pub fn judge(&mut self, parts: &[Part]) -> Result<Vec<Result<PartJudgement, PartError>>, InspectError> {
        match self {
            Inspector::Seal(s) => {
                let threshold = s.threshold();
                let scores = s.infer(parts)?;
                Ok(scores
                    .into_iter()
                    .map(|sc| {
                        let verdict = Verdict::from_score(sc.p_ng, threshold);
                        Ok(PartJudgement {
                            p_ng: sc.p_ng,
                            verdict,
                            reject: verdict.rejects(),
                            markers: Vec::new(),
                            defects: None,
                            reasons: Vec::new(),
                            drawing: None,
                            warp: Duration::ZERO,
                        })
                    })
                    .collect())
            }
            Inspector::Electrode(e) => e.judge(parts),
        }
    }
}

/// How this station makes its inspector from a model file: the station's start and every model swap
/// load the same way (checked, warmed and self-tested before it judges a part).
#[derive(Clone)]
pub enum ModelLoader {
    Seal { cfg: SealConfig, references: BTreeMap<String, PathBuf> },
    Electrode { cfg: ElectrodeConfig, reject_output: String, markers: Vec<String> },
}

impl ModelLoader {
    /// `references`: the seal recipes' reference images (the config's and a replayed dataset's).
    pub fn new(cfg: &StationConfig, references: BTreeMap<String, PathBuf>) -> Self {
        match &cfg.inspection {
            InspectionConfig::Seal(seal) => ModelLoader::Seal { cfg: seal.clone(), references },
            InspectionConfig::Electrode(e) => ModelLoader::Electrode {
                cfg: e.clone(),
                reject_output: cfg.gpio.output_names().first().cloned().unwrap_or_default(),
                markers: match &cfg.gpio {
                    GpioConfig::Sim { markers, .. } => markers.clone(),
                    GpioConfig::Chardev(c) => c.markers.keys().cloned().collect(),
                },
            },
        }
    }

    /// Loads, warms and self-tests `model`, every model run under `run_options` (see `model_load`).
    pub fn load_with(
        &self,
        rt: &Runtime,
        model: &Path,
        run_options: Arc<RunOptions>,
    ) -> Result<Inspector, InspectError> {
        Ok(match self {
            ModelLoader::Seal { cfg, references } => {
                let mut inspector = SealInspector::load_with(rt, cfg, model, references, run_options)?;
                inspector.self_test()?;
                Inspector::Seal(inspector)
            }
            ModelLoader::Electrode { cfg, reject_output, markers } => Inspector::Electrode(Box::new(
                ElectrodeJudge::load(rt, cfg, model, reject_output.clone(), markers.clone(), run_options)?,
            )),
        })
    }
}

pub struct ElectrodeJudge {
    inspector: ElectrodeInspector,
    homography: Option<Homography>,
    rules: Vec<DefectRule>,
    pixel_size_mm: Option<f64>,
    identity: ModelIdentity,
    /// The output name that rejects the part.
    reject_output: String,
    /// Marker outputs by index, as the GPIO backend numbers them.
    markers: Vec<String>,
}

impl ElectrodeJudge {
    pub fn load(
        rt: &Runtime,
        cfg: &ElectrodeConfig,
        model: &Path,
        reject_output: String,
        markers: Vec<String>,
        run_options: Arc<RunOptions>,
    ) -> Result<Self, InspectError> {
        let mut inspector = ElectrodeInspector::load_with(rt, model, run_options)?;
        if let Some(t) = cfg.score_threshold {
            inspector.set_score_threshold(t);
        }
        // Warm-up and self-test before the station reports ready: the first run builds the kernels, and a
        // sheet with drawn defects must come out of it with those defects found.
        crate::inspect::self_test::electrode(&mut inspector)?;
        let m = inspector.model();
        let identity = ModelIdentity {
            name: m.manifest.name.clone(),
            version: m.manifest.version.clone(),
            sha256: m.sha256.clone(),
            provider: m.provider,
            graph: "full",
        };
        Ok(Self {
            inspector,
            homography: cfg.homography.map(Homography),
            rules: cfg.rules.clone(),
            pixel_size_mm: cfg.pixel_size_mm,
            identity,
            reject_output,
            markers,
        })
    }

    /// The X-ray frame on the visible frame's pixel grid, as the model needs it.
    fn align(&self, visible: &Frame, xray: &Frame) -> Result<Frame, PartError> {
        let same_size = (xray.width, xray.height) == (visible.width, visible.height);
        let Some(h) = &self.homography else {
            if !same_size {
                return Err(PartError::Unaligned {
                    xray: (xray.width, xray.height),
                    visible: (visible.width, visible.height),
                });
            }
            // Already aligned: the preprocessor reads any grey or colour frame as the model's input.
            return Ok(xray.clone());
        };
        let mut converted = Vec::new();
        let gray: &[u8] = if xray.format == PixelFormat::Gray8 {
            &xray.data
        } else {
            xray.gray8_into(&mut converted);
            &converted
        };
        let warped = h.warp_gray(gray, xray.width, xray.height, visible.width, visible.height)?;
        Ok(Frame {
            width: visible.width,
            height: visible.height,
            format: PixelFormat::Gray8,
            data: warped.into(),
            timestamp: xray.timestamp,
            sequence: xray.sequence,
            info: Arc::new(FrameInfo { name: xray.info.name.clone(), ..FrameInfo::default() }),
        })
    }

    fn judge(&mut self, parts: &[Part]) -> Result<Vec<Result<PartJudgement, PartError>>, InspectError> {
        let start = Instant::now();
        let aligned: Vec<Result<Frame, PartError>> = parts
            .iter()
            .map(|p| match &p.xray {
                Some(x) => self.align(&p.frame, x),
                None => Err(PartError::NoXray),
            })
            .collect();
        let warp = start.elapsed() / parts.len().max(1) as u32;
        let pairs: Vec<(&Frame, &Frame)> =
            parts.iter().zip(&aligned).filter_map(|(p, x)| x.as_ref().ok().map(|x| (&p.frame, x))).collect();
        let mut results = if pairs.is_empty() { Vec::new() } else { self.inspector.infer(&pairs)? }.into_iter();
        Ok(aligned
            .into_iter()
            .map(|x| {
                let x = x?;
                let r = results.next().ok_or(PartError::MissingResult)?.map_err(PartError::Model)?;
                let j = defect_rules::judge(&r, &self.rules, self.pixel_size_mm);
                let reject = j.outputs.contains(&self.reject_output);
                let markers = j.outputs.iter().filter_map(|o| self.markers.iter().position(|m| m == o)).collect();
                let p_ng = r.detections.iter().map(|d| d.score).fold(0.0f32, f32::max);
                let verdict = if j.outputs.is_empty() { Verdict::Ok } else { Verdict::Ng };
                Ok(PartJudgement {
                    p_ng,
                    verdict,
                    reject,
                    markers,
                    defects: Some(j.defects),
                    reasons: j.reasons,
                    drawing: (verdict == Verdict::Ng).then(|| (x, Arc::new(r))),
                    warp,
                })
            })
            .collect())
    }
}
