//! Decoding the detector's outputs as DESIGN.md fixes it: score = max class probability, keep scores over
//! the threshold, class-wise NMS, boxes back in frame pixels, the segmentation argmax as per-class defect
//! area. Outputs a model should never give (NaN, negative boxes) are a fault for that image.

use super::detector::RawView;
use super::rules::ClassPresence;
use super::C;
use crate::inspect::output_check::{self, OutputError};
use crate::inspect::InspectError;
use crate::model::manifest::ELECTRODE_LABELS;

/// At most this many detections per image, best first (as the Python evaluation keeps).
const MAX_DETECTIONS: usize = 100;

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

/// Everything the station decides on for one pair.
#[derive(Debug, Clone)]
pub struct ElectrodeResult {
    pub detections: Vec<Detection>,
    /// Image-level presence probability per class (DESIGN's `cls` output), recorded with the result.
    pub presence: ClassPresence,
    /// Segmented defect area per class, in frame pixels (index = class, background left out).
    pub area_px: Vec<f64>,
    /// The segmentation argmax (0 = background, k + 1 = class k) at `mask_size`, for the NG archive.
    pub mask: Vec<u8>,
    pub mask_size: (usize, usize),
}

/// What decoding needs, apart from the model (so it can run while the outputs borrow the session).
#[derive(Debug, Clone, Copy)]
pub(super) struct Decoder {
    pub(super) input: (u32, u32),
    pub(super) score_threshold: f32,
    pub(super) nms_iou: f32,
}

impl Decoder {
    pub(super) fn decode(&self, raw: &RawView, i: usize, frame: (u32, u32)) -> Result<ElectrodeResult, InspectError> {
        let (iw, ih) = self.input;
        let (sx, sy) = (frame.0 as f32 / iw as f32, frame.1 as f32 / ih as f32);
        let row_len = 4 + C;
        let det = &raw.det[i * raw.anchors * row_len..(i + 1) * raw.anchors * row_len];
        let plane = raw.seg_h * raw.seg_w;
        let seg = &raw.seg[i * (C + 1) * plane..(i + 1) * (C + 1) * plane];
        let presence = &raw.cls[i * C..(i + 1) * C];
        let fault = |e: output_check::OutputFault| InspectError::from(OutputError::from(e));
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
            presence: ClassPresence(presence.try_into().map_err(|_| OutputError::BatchSize {
                tensor: "cls",
                got: presence.len(),
                parts: 1,
            })?),
            area_px: counts[1..].iter().map(|&c| c as f64 * px).collect(),
            mask,
            mask_size: (raw.seg_w, raw.seg_h),
        })
    }
}

/// Intersection over union of two boxes (x0, y0, x1, y1).
pub fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    inter / union.max(1e-9)
}

/// `det` rows `(cx, cy, w, h, p_0..p_C)` in input pixels -> detections, best first.
fn decode_det(det: &[f32], threshold: f32, nms_iou: f32) -> Vec<Detection> {
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
fn argmax_map(seg: &[f32], plane: usize) -> Vec<u8> {
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
    use crate::inspect::electrode::detector::RawOutputs;

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
