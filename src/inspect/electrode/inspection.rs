//! The electrode inspection behind `Inspection`: each part's X-ray frame aligned onto its visible frame,
//! the pairs through the detector as one batch, the decoded defects judged by the configured rules,
//! which name the outputs to fire (the reject line, markers).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use ort::session::RunOptions;

use super::align::Homography;
use super::rules::{self, DefectRule};
use super::self_test::self_test;
use super::{ElectrodeConfig, ElectrodeDetector};
use crate::inspect::decision::Verdict;
use crate::inspect::{
    InspectError, Inspection, InspectionLoader, Judgement, ModelIdentity, PartError, PartFrames, StageLatency,
};
use crate::runtime::Runtime;
use crate::sources::{Frame, PixelFormat};

/// Makes an `ElectrodeInspection` from a detector file, at start and at every swap.
#[derive(Clone)]
pub struct ElectrodeLoader {
    pub cfg: ElectrodeConfig,
    /// The output name that rejects the part.
    pub reject_output: String,
    /// Marker outputs by index, as the GPIO backend numbers them.
    pub markers: Vec<String>,
}

impl InspectionLoader for ElectrodeLoader {
    fn load(
        &self,
        rt: &Runtime,
        model: &Path,
        run_options: Arc<RunOptions>,
    ) -> Result<Box<dyn Inspection>, InspectError> {
        let inspection = ElectrodeInspection::load(rt, self, model, run_options)?;
        Ok(Box::new(inspection))
    }
}

pub struct ElectrodeInspection {
    detector: ElectrodeDetector,
    homography: Option<Homography>,
    rules: Vec<DefectRule>,
    pixel_size_mm: Option<f64>,
    identity: ModelIdentity,
    /// The decision threshold (the detector decodes down to a lower floor while a gate computes AP).
    threshold: f32,
    /// The output name that rejects the part.
    reject_output: String,
    /// Marker outputs by index, as the GPIO backend numbers them.
    markers: Vec<String>,
}

impl ElectrodeInspection {
    fn load(
        rt: &Runtime,
        loader: &ElectrodeLoader,
        model: &Path,
        run_options: Arc<RunOptions>,
    ) -> Result<Self, InspectError> {
        let cfg = &loader.cfg;
        let mut detector = ElectrodeDetector::load_with(rt, model, run_options)?;
        if let Some(t) = cfg.score_threshold {
            detector.set_score_threshold(t);
        }
        // Warm-up and self-test before the station reports ready: the first run builds the kernels, and a
        // sheet with drawn defects must come out of it with those defects found.
        self_test(&mut detector)?;
        let m = detector.model();
        let identity = ModelIdentity {
            name: m.manifest.name.clone(),
            version: m.manifest.version.clone(),
            sha256: m.sha256.clone(),
            provider: m.provider,
            graph: "full",
        };
        Ok(Self {
            threshold: detector.score_threshold(),
            detector,
            homography: cfg.homography.map(Homography),
            rules: cfg.rules.clone(),
            pixel_size_mm: cfg.pixel_size_mm,
            identity,
            reject_output: loader.reject_output.clone(),
            markers: loader.markers.clone(),
        })
    }
}

/// The X-ray frame on the visible frame's pixel grid, as the model needs it: warped by the config's
/// homography, or as it is when the imagers are already aligned (same size). The station's one way to
/// align a pair; the bench times the same.
pub fn align_xray(homography: Option<&Homography>, visible: &Frame, xray: &Frame) -> Result<Frame, PartError> {
    let same_size = (xray.width, xray.height) == (visible.width, visible.height);
    let Some(h) = homography else {
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
    Ok(xray.with_pixels(visible.width, visible.height, PixelFormat::Gray8, warped).named(xray.info.name.clone()))
}

impl Inspection for ElectrodeInspection {
    fn identity(&self) -> &ModelIdentity {
        &self.identity
    }

    fn threshold(&self) -> f32 {
        self.threshold
    }

    fn decode_floor(&mut self, floor: Option<f32>) {
        self.detector.set_score_threshold(floor.unwrap_or(self.threshold));
    }

    fn self_test(&mut self) -> Result<(), InspectError> {
        self_test(&mut self.detector)
    }

    fn judge(&mut self, parts: &[PartFrames<'_>]) -> Result<Vec<Result<Judgement, PartError>>, InspectError> {
        let start = Instant::now();
        let aligned: Vec<Result<Frame, PartError>> = parts
            .iter()
            .map(|p| match p.xray {
                Some(x) => align_xray(self.homography.as_ref(), p.frame, x),
                None => Err(PartError::NoXray),
            })
            .collect();
        let warp_ms = start.elapsed().as_secs_f64() * 1000.0 / parts.len().max(1) as f64;
        let threshold = self.detector.score_threshold();
        let pairs: Vec<(&Frame, &Frame)> =
            parts.iter().zip(&aligned).filter_map(|(p, x)| x.as_ref().ok().map(|x| (p.frame, x))).collect();
        let mut results = if pairs.is_empty() { Vec::new() } else { self.detector.infer(&pairs)? }.into_iter();
        Ok(aligned
            .into_iter()
            .map(|x| {
                let x = x?;
                let r = results.next().ok_or(PartError::MissingResult)?.map_err(PartError::Model)?;
                let fired = rules::judge(&r, &self.rules, self.pixel_size_mm);
                let reject = fired.outputs.contains(&self.reject_output);
                let markers = fired.outputs.iter().filter_map(|o| self.markers.iter().position(|m| m == o)).collect();
                let p_ng = r.detections.iter().map(|d| d.score).fold(0.0f32, f32::max);
                let verdict = if fired.outputs.is_empty() { Verdict::Ok } else { Verdict::Ng };
                // The rules decide the verdict and the outputs; the best score is logged with the threshold.
                Ok(Judgement {
                    verdict,
                    reject,
                    markers,
                    defects: Some(fired.defects),
                    presence: Some(r.presence),
                    reasons: fired.reasons,
                    electrode: Some(Arc::new(r)),
                    xray: (verdict == Verdict::Ng).then_some(x),
                    latency: StageLatency { warp_ms, ..StageLatency::default() },
                    ..Judgement::from_score(p_ng, threshold)
                })
            })
            .collect())
    }
}
