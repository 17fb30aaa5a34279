//! The electrode detector's figures from judged samples, computed as
//! `scripts/ml/electrode_metrics.py` computes them: per-class AP at IoU 0.5 (all-point interpolated) over
//! every detection decoded down to the AP floor, mAP50 over the classes the set has, and at the decision
//! threshold the miss rate (labelled defects no same-class detection finds at IoU >= 0.5), the
//! false-detection rate (detections that find none) and the image accuracy (any detection = NG).

use std::collections::BTreeMap;

use serde::Serialize;

use super::figures::{pct, Boxed, Scored};
use crate::inspect::electrode::iou;
use crate::model::manifest::ELECTRODE_LABELS;

/// Detections for AP are decoded down to this score, as the Python evaluator keeps them.
pub const AP_FLOOR: f32 = 0.05;
/// A detection finds a labelled defect of its class at this IoU or more.
const MATCH_IOU: f32 = 0.5;

#[derive(Debug, Clone, Serialize)]
pub struct DetectionFigures {
    pub images: usize,
    pub defects: usize,
    pub defects_per_class: BTreeMap<&'static str, usize>,
    pub score_threshold: f32,
    pub map50: Option<f64>,
    pub ap50: BTreeMap<&'static str, Option<f64>>,
    pub miss_rate: Option<f64>,
    pub false_detection_rate: f64,
    pub detections: usize,
    pub image_accuracy: f64,
}

/// `at_threshold`: the samples as the station judged them (decoded at its threshold); `at_floor`: the same
/// samples decoded down to `AP_FLOOR`, for AP alone.
pub fn figures(at_threshold: &[Scored], at_floor: &[Scored], threshold: f32) -> DetectionFigures {
    let (mut defects, mut missed, mut detections, mut false_hits, mut right) = (0, 0, 0, 0, 0);
    for r in at_threshold {
        let kept: Vec<(f32, Boxed)> = r.detections.iter().copied().filter(|(s, _)| *s >= threshold).collect();
        let (hit, seen) = matched(&kept, &r.label_boxes);
        defects += r.label_boxes.len();
        missed += seen.iter().filter(|f| !**f).count();
        detections += kept.len();
        false_hits += hit.iter().filter(|h| !**h).count();
        right += usize::from(kept.is_empty() == r.label_boxes.is_empty());
    }
    let mut ap50 = BTreeMap::new();
    let mut per_class = BTreeMap::new();
    for class in ELECTRODE_LABELS {
        let (mut scores, mut hits, mut n_gt) = (Vec::new(), Vec::new(), 0);
        for r in at_floor {
            let dets: Vec<(f32, Boxed)> = r.detections.iter().copied().filter(|(_, (c, _))| *c == class).collect();
            let gts: Vec<Boxed> = r.label_boxes.iter().copied().filter(|(c, _)| *c == class).collect();
            let (hit, _) = matched(&dets, &gts);
            scores.extend(dets.iter().map(|(s, _)| *s));
            hits.extend(hit);
            n_gt += gts.len();
        }
        ap50.insert(class, average_precision(&scores, &hits, n_gt));
        per_class.insert(class, n_gt);
    }
    let valid: Vec<f64> = ap50.values().flatten().copied().collect();
    DetectionFigures {
        images: at_threshold.len(),
        defects,
        defects_per_class: per_class,
        score_threshold: threshold,
        map50: (!valid.is_empty()).then(|| valid.iter().sum::<f64>() / valid.len() as f64),
        ap50,
        miss_rate: (defects > 0).then(|| missed as f64 / defects as f64),
        false_detection_rate: false_hits as f64 / detections.max(1) as f64,
        detections,
        image_accuracy: right as f64 / at_threshold.len().max(1) as f64,
    }
}

impl DetectionFigures {
    /// As `scripts/ml/electrode_metrics.py` prints them (no segmentation IoU: the records carry boxes only).
    pub fn text(&self) -> String {
        let mut s = format!(
            "detector: images {}  defects {}  score threshold {}\nmAP@0.5             {}\nmiss rate           {}\n\
             false-detection     {}  ({} detections)\nimage accuracy      {}\nper class            AP@0.5   instances\n",
            self.images,
            self.defects,
            self.score_threshold,
            pct(self.map50),
            pct(self.miss_rate),
            pct(Some(self.false_detection_rate)),
            self.detections,
            pct(Some(self.image_accuracy)),
        );
        for class in ELECTRODE_LABELS {
            let ap = self.ap50.get(class).copied().flatten();
            let n = self.defects_per_class.get(class).copied().unwrap_or(0);
            s.push_str(&format!("  {class:16} {:>8}  {n:>9}\n", pct(ap)));
        }
        s
    }
}

/// Greedy same-class matching, best score first: (each detection found a defect, each defect was found).
/// A detection takes the unfound defect it overlaps most (the first of equals).
fn matched(dets: &[(f32, Boxed)], gts: &[Boxed]) -> (Vec<bool>, Vec<bool>) {
    let mut hit = vec![false; dets.len()];
    let mut seen = vec![false; gts.len()];
    let mut order: Vec<usize> = (0..dets.len()).collect();
    order.sort_by(|&a, &b| dets[b].0.total_cmp(&dets[a].0));
    for i in order {
        let (_, (class, bbox)) = dets[i];
        let mut best: Option<(usize, f32)> = None;
        for (j, (c, g)) in gts.iter().enumerate() {
            let o = iou(&bbox, g);
            if *c == class && !seen[j] && o >= MATCH_IOU && best.is_none_or(|(_, b)| o > b) {
                best = Some((j, o));
            }
        }
        if let Some((j, _)) = best {
            hit[i] = true;
            seen[j] = true;
        }
    }
    (hit, seen)
}

/// All-point interpolated AP: the area under the precision envelope; none without a labelled defect.
fn average_precision(scores: &[f32], hits: &[bool], n_gt: usize) -> Option<f64> {
    if n_gt == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut fp) = (0.0f64, 0.0f64);
    let (mut recall, mut precision) = (vec![0.0], vec![1.0]);
    for i in order {
        if hits[i] {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        recall.push(tp / n_gt as f64);
        precision.push(tp / (tp + fp).max(1e-9));
    }
    recall.push(*recall.last().unwrap_or(&0.0));
    precision.push(0.0);
    for k in (0..precision.len() - 1).rev() {
        precision[k] = precision[k].max(precision[k + 1]);
    }
    Some((1..recall.len()).map(|k| (recall[k] - recall[k - 1]) * precision[k]).sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_perfect_ranking_has_ap_one_and_a_false_first_detection_costs_what_the_envelope_says() {
        assert_eq!(average_precision(&[0.9, 0.8], &[true, true], 2), Some(1.0));
        // Ranked false, hit: recall 0.5 reached at precision 0.5.
        assert_eq!(average_precision(&[0.9, 0.8], &[false, true], 2), Some(0.25));
        assert_eq!(average_precision(&[], &[], 0), None);
        assert_eq!(average_precision(&[], &[], 3), Some(0.0));
    }

    #[test]
    fn matching_is_per_class_best_score_first_and_a_defect_is_found_once() {
        let g = [("crack", [0.0, 0.0, 10.0, 10.0]), ("scratch", [20.0, 20.0, 30.0, 30.0])];
        let d = [
            (0.6, ("crack", [1.0, 1.0, 10.0, 10.0])),
            (0.9, ("crack", [0.0, 0.0, 10.0, 11.0])),
            (0.8, ("crack", [20.0, 20.0, 30.0, 30.0])),
        ];
        let (hit, seen) = matched(&d, &g);
        assert_eq!(hit, [false, true, false], "the best crack takes it; a crack on the scratch finds nothing");
        assert_eq!(seen, [true, false]);
    }
}
