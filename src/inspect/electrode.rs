//! The electrode inspection: an aligned visible + X-ray pair through the dual-stream detector, decoded as
//! DESIGN.md fixes it: score = max class probability, keep scores over the threshold, class-wise NMS,
//! boxes back in frame pixels, the segmentation argmax as per-class defect area.

use std::path::Path;
use std::sync::Arc;

use ort::session::RunOptions;
use ort::value::TensorRef;

use super::preprocess::Preprocessor;
use super::{output_check, run_err, InspectError};
use crate::model::manifest::ELECTRODE_LABELS;
use crate::model::{GraphRole, LoadedModel, Task};
use crate::runtime::Runtime;
use crate::sources::Frame;

/// At most this many detections per image, best first (as the Python evaluation keeps).
const MAX_DETECTIONS: usize = 100;
const DEFAULT_NMS_IOU: f32 = 0.5;

/// One decoded defect, its box in frame pixels.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Detection {
    pub class: usize,
    pub label: &'static str,
    pub score: f32,
    /// x0, y0, x1, y1.
    pub bbox: [f32; 4],
    /// Pixels of this class inside the box in the segmentation map, in frame pixels.
    pub area_px: f64,
}

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

/// Everything the station decides on for one pair.
#[derive(Debug, Clone)]
pub struct ElectrodeResult {
    pub detections: Vec<Detection>,
    /// Image-level presence probability per class.
    pub presence: Vec<f32>,
    /// Segmented defect area per class, in frame pixels (index = class, background left out).
    pub area_px: Vec<f64>,
    /// The segmentation argmax (0 = background, k + 1 = class k) at `mask_size`, for the NG archive.
    pub mask: Vec<u8>,
    pub mask_size: (usize, usize),
}

pub struct ElectrodeInspector {
    model: LoadedModel,
    visible: Preprocessor,
    xray: Preprocessor,
    decoder: Decoder,
    visible_buf: Vec<f32>,
    xray_buf: Vec<f32>,
    /// Every run goes through these: a load that overruns its deadline is terminated through them.
    run_options: Arc<RunOptions>,
}

/// What decoding needs, apart from the model (so it can run while the outputs borrow the session).
#[derive(Debug, Clone, Copy)]
struct Decoder {
    input: (u32, u32),
    score_threshold: f32,
    nms_iou: f32,
}

const C: usize = ELECTRODE_LABELS.len();

impl ElectrodeInspector {
    pub fn load(rt: &Runtime, path: &Path) -> Result<Self, InspectError> {
        Self::load_with(rt, path, Arc::new(RunOptions::new().map_err(run_err)?))
    }

    /// `load`, with every run under `run_options`, which another thread may terminate.
    pub fn load_with(rt: &Runtime, path: &Path, run_options: Arc<RunOptions>) -> Result<Self, InspectError> {
        let model = LoadedModel::load(rt, path, Task::ElectrodeDetector, GraphRole::Full)?;
        let spec = |name: &str| {
            model.manifest.input(name).ok_or_else(|| InspectError::Output(format!("manifest lost input '{name}'")))
        };
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
        let vis = TensorRef::from_array_view(([n, 3, h, w], &self.visible_buf[..])).map_err(run_err)?;
        let xr = TensorRef::from_array_view(([n, 1, h, w], &self.xray_buf[..])).map_err(run_err)?;
        let out = self
            .model
            .session
            .run_with_options(ort::inputs!["visible" => vis, "xray" => xr], &*self.run_options)
            .map_err(run_err)?;
        let (det_shape, det) = out["det"].try_extract_tensor::<f32>().map_err(run_err)?;
        let (seg_shape, seg) = out["seg"].try_extract_tensor::<f32>().map_err(run_err)?;
        let (_, cls) = out["cls"].try_extract_tensor::<f32>().map_err(run_err)?;
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
            return Err(InspectError::Output(format!(
                "output sizes det {}, seg {}, cls {} do not fit a batch of {n}",
                raw.det.len(),
                raw.seg.len(),
                raw.cls.len()
            )));
        }
        Ok(use_outputs(&raw))
    }
}

impl Decoder {
    fn decode(&self, raw: &RawView, i: usize, frame: (u32, u32)) -> Result<ElectrodeResult, InspectError> {
        let (iw, ih) = self.input;
        let (sx, sy) = (frame.0 as f32 / iw as f32, frame.1 as f32 / ih as f32);
        let row_len = 4 + C;
        let det = &raw.det[i * raw.anchors * row_len..(i + 1) * raw.anchors * row_len];
        let plane = raw.seg_h * raw.seg_w;
        let seg = &raw.seg[i * (C + 1) * plane..(i + 1) * (C + 1) * plane];
        let presence = &raw.cls[i * C..(i + 1) * C];
        let fault = |e: output_check::OutputFault| InspectError::Output(e.to_string());
        output_check::check_det(det, row_len, self.score_threshold).map_err(fault)?;
        output_check::check_presence(presence).map_err(fault)?;
        output_check::check_logits(seg).map_err(fault)?;
        let mut detections = decode_det(det, self.score_threshold, self.nms_iou);
        // Boxes in frame pixels, clamped to the frame: a box reaching outside it is drawn and measured
        // on the part of it that is there.
        let (fw, fh) = (frame.0 as f32, frame.1 as f32);
        for d in &mut detections {
            d.bbox = [
                (d.bbox[0] * sx).clamp(0.0, fw),
                (d.bbox[1] * sy).clamp(0.0, fh),
                (d.bbox[2] * sx).clamp(0.0, fw),
                (d.bbox[3] * sy).clamp(0.0, fh),
            ];
        }
        let mask = argmax_map(seg, plane);
        let mut counts = [0u64; C + 1];
        for &k in &mask {
            counts[k as usize] += 1;
        }
        let px = (frame.0 as f64 * frame.1 as f64) / plane as f64;
        // Each defect's area: its class's mask pixels inside its box (box scaled to the mask grid).
        let (mx, my) = (raw.seg_w as f32 / frame.0 as f32, raw.seg_h as f32 / frame.1 as f32);
        for d in &mut detections {
            let x0 = (d.bbox[0] * mx).floor().clamp(0.0, raw.seg_w as f32) as usize;
            let x1 = ((d.bbox[2] * mx).ceil().clamp(0.0, raw.seg_w as f32) as usize).max(x0);
            let y0 = (d.bbox[1] * my).floor().clamp(0.0, raw.seg_h as f32) as usize;
            let y1 = ((d.bbox[3] * my).ceil().clamp(0.0, raw.seg_h as f32) as usize).max(y0);
            let k = d.class as u8 + 1;
            let n = (y0..y1).map(|y| mask[y * raw.seg_w + x0..y * raw.seg_w + x1].iter().filter(|&&v| v == k).count());
            d.area_px = n.sum::<usize>() as f64 * px;
        }
        Ok(ElectrodeResult {
            detections,
            presence: presence.to_vec(),
            area_px: counts[1..].iter().map(|&c| c as f64 * px).collect(),
            mask,
            mask_size: (raw.seg_w, raw.seg_h),
        })
    }
}

fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    inter / union.max(1e-9)
}

/// `det` rows `(cx, cy, w, h, p_0..p_C)` in input pixels -> detections, best first.
pub fn decode_det(det: &[f32], threshold: f32, nms_iou: f32) -> Vec<Detection> {
    let mut candidates: Vec<Detection> = det
        .chunks_exact(4 + C)
        .filter_map(|r| {
            let (class, score) =
                r[4..].iter().enumerate().fold((0, f32::MIN), |best, (k, &p)| if p > best.1 { (k, p) } else { best });
            (score > threshold).then(|| Detection {
                class,
                label: ELECTRODE_LABELS[class],
                score,
                bbox: [r[0] - r[2] / 2.0, r[1] - r[3] / 2.0, r[0] + r[2] / 2.0, r[1] + r[3] / 2.0],
                area_px: 0.0,
            })
        })
        .collect();
    // Class-wise greedy NMS: within a class, best score first; a box overlapping a kept one is dropped.
    candidates.sort_by(|a, b| a.class.cmp(&b.class).then(b.score.total_cmp(&a.score)));
    let mut kept: Vec<Detection> = Vec::new();
    let mut class_start = 0;
    for d in candidates {
        if kept.last().is_some_and(|k| k.class != d.class) {
            class_start = kept.len();
        }
        if kept[class_start..].iter().all(|k| iou(&k.bbox, &d.bbox) <= nms_iou) {
            kept.push(d);
        }
    }
    kept.sort_by(|a, b| b.score.total_cmp(&a.score));
    kept.truncate(MAX_DETECTIONS);
    kept
}

/// Channel-wise argmax of `[channels, plane]` logits (the first maximum wins ties).
pub fn argmax_map(seg: &[f32], plane: usize) -> Vec<u8> {
    let channels = seg.len() / plane.max(1);
    let mut best = vec![0u8; plane];
    if channels == 0 {
        return best;
    }
    // Plane by plane, so each pass is a straight vectorisable loop rather than a strided gather.
    let mut top = seg[..plane].to_vec();
    for c in 1..channels {
        let logits = &seg[c * plane..(c + 1) * plane];
        for ((t, b), &v) in top.iter_mut().zip(best.iter_mut()).zip(logits) {
            if v > *t {
                *t = v;
                *b = c as u8;
            }
        }
    }
    best
}

/// Pixels per class of the argmax map.
pub fn argmax_counts(seg: &[f32], plane: usize) -> Vec<u64> {
    let mut counts = vec![0u64; seg.len() / plane.max(1)];
    for k in argmax_map(seg, plane) {
        counts[k as usize] += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cx: f32, cy: f32, w: f32, h: f32, class: usize, p: f32) -> Vec<f32> {
        let mut r = vec![cx, cy, w, h, 0.0, 0.0, 0.0, 0.0, 0.0];
        r[4 + class] = p;
        r
    }

    #[test]
    fn nms_is_per_class_and_keeps_the_best_of_overlapping_boxes() {
        let det: Vec<f32> = [
            row(10.0, 10.0, 4.0, 4.0, 0, 0.9),
            row(10.5, 10.0, 4.0, 4.0, 0, 0.8), // same class, overlaps: dropped
            row(10.0, 10.0, 4.0, 4.0, 1, 0.7), // other class, same place: kept
            row(50.0, 50.0, 4.0, 4.0, 0, 0.6), // same class, apart: kept
            row(90.0, 90.0, 4.0, 4.0, 4, 0.4), // under the threshold
        ]
        .concat();
        let d = decode_det(&det, 0.5, 0.5);
        let got: Vec<(&str, f32)> = d.iter().map(|d| (d.label, d.score)).collect();
        assert_eq!(got, vec![("scratch", 0.9), ("dark_spot", 0.7), ("scratch", 0.6)]);
        assert_eq!(d[0].bbox, [8.0, 8.0, 12.0, 12.0]);
    }

    #[test]
    fn unusable_outputs_are_a_fault_for_that_image_not_a_panic() {
        let decoder = Decoder { input: (64, 64), score_threshold: 0.5, nms_iou: 0.5 };
        let raw = |det: Vec<f32>| RawOutputs {
            n: 1,
            anchors: det.len() / (4 + C),
            det,
            seg: vec![0.0; (C + 1) * 16 * 16],
            seg_h: 16,
            seg_w: 16,
            cls: vec![0.1; C],
        };
        // Above the threshold with a negative width: the box's start is after its end.
        let bad = raw(row(30.0, 30.0, -20.0, 8.0, 0, 0.9));
        let e = decoder.decode(&bad.view(), 0, (64, 64)).expect_err("negative width is a model fault");
        assert!(e.to_string().contains("negative size"), "{e}");
        assert!(decoder.decode(&raw(row(30.0, f32::NAN, 4.0, 4.0, 0, 0.9)).view(), 0, (64, 64)).is_err());
        assert!(decoder.decode(&raw(row(30.0, 30.0, 4.0, 4.0, 0, 3.0)).view(), 0, (64, 64)).is_err());
        // A box reaching out of the frame is clamped to it.
        let r = decoder.decode(&raw(row(60.0, 2.0, 20.0, 10.0, 1, 0.9)).view(), 0, (64, 64)).expect("valid");
        assert_eq!(r.detections[0].bbox, [50.0, 0.0, 64.0, 7.0]);
    }

    #[test]
    fn argmax_counts_pixels_per_class() {
        // 3 channels over 4 pixels: background, class 1, class 2, class 1.
        let seg = [5.0, 0.0, 0.0, 0.0, 1.0, 3.0, 0.0, 2.0, 0.0, 0.0, 4.0, 1.0];
        assert_eq!(argmax_counts(&seg, 4), vec![1, 2, 1]);
    }
}
