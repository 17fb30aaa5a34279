//! The dual-stream detector: an aligned visible + X-ray pair through the model, its outputs decoded
//! (`decode`) as DESIGN.md fixes it.

use std::path::Path;
use std::sync::Arc;

use ort::session::RunOptions;
use ort::value::TensorRef;

use super::decode::{Decoder, ElectrodeResult};
use super::ElectrodeContract;
use super::C;
use crate::inspect::output_check::OutputError;
use crate::inspect::preprocess::Preprocessor;
use crate::inspect::InspectError;
use crate::model::{GraphRole, LoadedModel};
use crate::runtime::Runtime;
use crate::sources::Frame;

const DEFAULT_NMS_IOU: f32 = 0.5;

/// The model's raw outputs for one batch, as ONNX Runtime returned them.
#[derive(Debug, Clone)]
pub struct RawOutputs {
    pub n: usize,
    /// `[n, anchors, 4 + C]`
    pub det: Vec<f32>,
    pub anchors: usize,
    /// `[n, C + 1, seg_h, seg_w]` logits.
    pub seg: Vec<f32>,
    pub seg_h: usize,
    pub seg_w: usize,
    /// `[n, C]` presence probabilities.
    pub cls: Vec<f32>,
}

impl RawOutputs {
    pub fn view(&self) -> RawView<'_> {
        RawView {
            n: self.n,
            det: &self.det,
            anchors: self.anchors,
            seg: &self.seg,
            seg_h: self.seg_h,
            seg_w: self.seg_w,
            cls: &self.cls,
        }
    }
}

/// The same outputs borrowed from ONNX Runtime's own buffers: the station decodes from these, so the
/// 1.5 MB segmentation map of each part is never copied.
#[derive(Debug, Clone, Copy)]
pub struct RawView<'a> {
    pub n: usize,
    pub det: &'a [f32],
    pub anchors: usize,
    pub seg: &'a [f32],
    pub seg_h: usize,
    pub seg_w: usize,
    pub cls: &'a [f32],
}

impl RawView<'_> {
    pub fn to_outputs(&self) -> RawOutputs {
        RawOutputs {
            n: self.n,
            det: self.det.to_vec(),
            anchors: self.anchors,
            seg: self.seg.to_vec(),
            seg_h: self.seg_h,
            seg_w: self.seg_w,
            cls: self.cls.to_vec(),
        }
    }
}

/// The detector model with its preprocessing and decoding (the rules that judge its defects are the
/// inspection's, `ElectrodeInspection`).
pub struct ElectrodeDetector {
    model: LoadedModel,
    visible: Preprocessor,
    xray: Preprocessor,
    decoder: Decoder,
    visible_buf: Vec<f32>,
    xray_buf: Vec<f32>,
    /// Every run goes through these: a load that overruns its deadline is terminated through them.
    run_options: Arc<RunOptions>,
}

impl ElectrodeDetector {
    pub fn load(rt: &Runtime, path: &Path) -> Result<Self, InspectError> {
        Self::load_with(rt, path, Arc::new(RunOptions::new()?))
    }

    /// `load`, with every run under `run_options`, which another thread may terminate.
    pub fn load_with(rt: &Runtime, path: &Path, run_options: Arc<RunOptions>) -> Result<Self, InspectError> {
        let model = LoadedModel::load(rt, path, &ElectrodeContract, GraphRole::Full)?;
        let spec = |name: &'static str| model.manifest.input(name).ok_or(OutputError::NoInput(name));
        let visible = Preprocessor::new(spec("visible")?)?;
        let xray = Preprocessor::new(spec("xray")?)?;
        let decoder = Decoder {
            input: (visible.width, visible.height),
            score_threshold: model.manifest.threshold("score").unwrap_or(0.5),
            nms_iou: model.manifest.threshold("nms_iou").unwrap_or(DEFAULT_NMS_IOU),
        };
        Ok(Self { model, visible, xray, decoder, visible_buf: Vec::new(), xray_buf: Vec::new(), run_options })
    }

    pub fn model(&self) -> &LoadedModel {
        &self.model
    }

    pub fn score_threshold(&self) -> f32 {
        self.decoder.score_threshold
    }

    /// The station's own detection threshold instead of the manifest's.
    pub fn set_score_threshold(&mut self, t: f32) {
        self.decoder.score_threshold = t;
    }

    /// Model input size (width, height).
    pub fn input_size(&self) -> (u32, u32) {
        (self.visible.width, self.visible.height)
    }

    /// Runs the pairs (visible, X-ray) as one batch and returns a copy of the raw outputs.
    pub fn infer_raw(&mut self, pairs: &[(&Frame, &Frame)]) -> Result<RawOutputs, InspectError> {
        self.run(pairs, |raw| raw.to_outputs())
    }

    /// Runs and decodes the pairs; boxes and areas in the pixels of each pair's visible frame. The outer
    /// error fails the batch; an inner one is one pair's unusable output (a model fault for that part).
    #[allow(clippy::type_complexity)]
    pub fn infer(
        &mut self,
        pairs: &[(&Frame, &Frame)],
    ) -> Result<Vec<Result<ElectrodeResult, InspectError>>, InspectError> {
        let decoder = self.decoder;
        self.run(pairs, |raw| {
            pairs.iter().enumerate().map(|(i, (v, _))| decoder.decode(raw, i, (v.width, v.height))).collect()
        })
    }

    /// Decodes image `i` of a batch for a frame of `frame` (width, height), after checking its outputs.
    pub fn decode(&self, raw: &RawView, i: usize, frame: (u32, u32)) -> Result<ElectrodeResult, InspectError> {
        self.decoder.decode(raw, i, frame)
    }

    /// Runs the pairs as one batch and hands the outputs, checked for size, to `use_outputs` while
    /// they are still ONNX Runtime's buffers.
    fn run<R>(
        &mut self,
        pairs: &[(&Frame, &Frame)],
        use_outputs: impl FnOnce(&RawView) -> R,
    ) -> Result<R, InspectError> {
        let n = pairs.len();
        let (lv, lx) = (self.visible.len(), self.xray.len());
        self.visible_buf.resize(n * lv, 0.0);
        self.xray_buf.resize(n * lx, 0.0);
        for (i, (v, x)) in pairs.iter().enumerate() {
            self.visible.write(v, &mut self.visible_buf[i * lv..(i + 1) * lv])?;
            self.xray.write(x, &mut self.xray_buf[i * lx..(i + 1) * lx])?;
        }
        let (h, w) = (self.visible.height as usize, self.visible.width as usize);
        let vis = TensorRef::from_array_view(([n, 3, h, w], &self.visible_buf[..]))?;
        let xr = TensorRef::from_array_view(([n, 1, h, w], &self.xray_buf[..]))?;
        let out =
            self.model.session.run_with_options(ort::inputs!["visible" => vis, "xray" => xr], &*self.run_options)?;
        let (det_shape, det) = out["det"].try_extract_tensor::<f32>()?;
        let (seg_shape, seg) = out["seg"].try_extract_tensor::<f32>()?;
        let (_, cls) = out["cls"].try_extract_tensor::<f32>()?;
        let dim = |s: &ort::value::Shape, i: usize| s.get(i).map(|&d| d as usize).unwrap_or(0);
        let raw = RawView {
            n,
            anchors: dim(det_shape, 1),
            det,
            seg_h: dim(seg_shape, 2),
            seg_w: dim(seg_shape, 3),
            seg,
            cls,
        };
        if raw.det.len() != n * raw.anchors * (4 + C)
            || raw.seg.len() != n * (C + 1) * raw.seg_h * raw.seg_w
            || raw.cls.len() != n * C
        {
            let (det, seg, cls) = (raw.det.len(), raw.seg.len(), raw.cls.len());
            return Err(OutputError::DetectorSizes { det, seg, cls, n }.into());
        }
        Ok(use_outputs(&raw))
    }
}
