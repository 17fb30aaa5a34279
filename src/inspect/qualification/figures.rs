//! The figures of a labelled set judged by a model, as the model cards give them: what `cellgate evaluate`
//! prints and what the qualification gate compares. A sample counts as NG when the station would reject
//! it: an NG verdict or an error (a part it cannot judge leaves the line, as on the line).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::inspect::decision::Verdict;
use crate::inspect::electrode::rules::DefectRecord;
use crate::inspect::Judgement;
use crate::part::PartRecord;
use crate::sources::FrameInfo;

/// A class name and a box (x0, y0, x1, y1, frame pixels).
pub type Boxed = (&'static str, [f32; 4]);

/// One judged sample with its ground truth, as the figures need it.
#[derive(Debug, Clone)]
pub struct Scored {
    /// true = labelled NG; `None`: unlabelled (judged, not counted).
    pub label_ng: Option<bool>,
    pub defect: Option<String>,
    pub verdict: Verdict,
    /// Electrode: every decoded detection, best first, as (score, (class, box)).
    pub detections: Vec<(f32, Boxed)>,
    /// Electrode ground truth.
    pub label_boxes: Vec<Boxed>,
}

impl Scored {
    /// A judgement of a frame whose source knows its labels.
    pub fn judged(j: &Judgement, info: &FrameInfo) -> Self {
        Self {
            label_ng: info.label_ng,
            defect: info.defect.clone(),
            verdict: j.verdict,
            detections: best_first(j.defects.as_deref()),
            label_boxes: info.label_boxes.clone(),
        }
    }
}

impl From<&PartRecord> for Scored {
    fn from(r: &PartRecord) -> Self {
        Self {
            label_ng: r.label.map(|l| l == "ng"),
            defect: r.label_defect.clone(),
            verdict: r.verdict,
            detections: best_first(r.defects.as_deref()),
            label_boxes: r.label_boxes.clone(),
        }
    }
}

/// Decoded defects as (score, (class, box)), best first.
fn best_first(defects: Option<&[DefectRecord]>) -> Vec<(f32, Boxed)> {
    let mut d: Vec<(f32, Boxed)> = defects.unwrap_or_default().iter().map(|d| (d.score, (d.class, d.bbox))).collect();
    d.sort_by(|a, b| b.0.total_cmp(&a.0));
    d
}

#[derive(Debug, Clone, Serialize)]
pub struct Recall {
    pub n: usize,
    pub recall: f64,
}

/// OK/NG figures, with the keys of `scripts/ml/seal_metrics.py` so either evaluator's JSON reads alike.
#[derive(Debug, Clone, Serialize)]
pub struct Verdicts {
    /// Labelled samples.
    pub samples: usize,
    pub accuracy: Option<f64>,
    pub ng_recall: Option<f64>,
    pub false_reject_rate: Option<f64>,
    /// Rows true OK, true NG; columns predicted OK, predicted NG.
    pub confusion_matrix: [[usize; 2]; 2],
    pub per_defect_recall: BTreeMap<String, Recall>,
    /// Parts the station rejected without a verdict (frame refused, model error): predicted NG.
    pub errors: usize,
    /// Samples without a label: judged, not counted in the figures.
    pub unlabelled: usize,
}

impl Verdicts {
    pub fn of(scored: &[Scored]) -> Self {
        let mut cm = [[0usize; 2]; 2];
        let mut defects: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        let (mut errors, mut unlabelled) = (0, 0);
        for s in scored {
            let predicted_ng = s.verdict.rejects();
            errors += usize::from(s.verdict == Verdict::Error);
            let Some(truth) = s.label_ng else {
                unlabelled += 1;
                continue;
            };
            cm[usize::from(truth)][usize::from(predicted_ng)] += 1;
            if let Some(d) = &s.defect {
                let e = defects.entry(d.clone()).or_default();
                e.0 += 1;
                e.1 += usize::from(predicted_ng);
            }
        }
        let share = |num: usize, den: usize| (den > 0).then(|| num as f64 / den as f64);
        let labelled = cm[0][0] + cm[0][1] + cm[1][0] + cm[1][1];
        Self {
            samples: labelled,
            accuracy: share(cm[0][0] + cm[1][1], labelled),
            ng_recall: share(cm[1][1], cm[1][0] + cm[1][1]),
            false_reject_rate: share(cm[0][1], cm[0][0] + cm[0][1]),
            confusion_matrix: cm,
            per_defect_recall: defects
                .into_iter()
                .map(|(d, (n, caught))| (d, Recall { n, recall: caught as f64 / n as f64 }))
                .collect(),
            errors,
            unlabelled,
        }
    }
}

/// A share as a percentage with two decimals ("n/a" when there is none).
pub fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_string(), |v| format!("{:.2}%", 100.0 * v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(label_ng: Option<bool>, verdict: Verdict, defect: Option<&str>) -> Scored {
        Scored { label_ng, defect: defect.map(String::from), verdict, detections: Vec::new(), label_boxes: Vec::new() }
    }

    #[test]
    fn an_error_counts_as_a_rejected_part_and_unlabelled_samples_are_left_out() {
        let v = Verdicts::of(&[
            s(Some(false), Verdict::Ok, None),
            s(Some(false), Verdict::Error, None),
            s(Some(true), Verdict::Error, Some("crack")),
            s(Some(true), Verdict::Ok, Some("crack")),
            s(None, Verdict::Ng, None),
        ]);
        assert_eq!(v.confusion_matrix, [[1, 1], [1, 1]]);
        assert_eq!((v.samples, v.errors, v.unlabelled), (4, 2, 1));
        assert_eq!((v.accuracy, v.ng_recall, v.false_reject_rate), (Some(0.5), Some(0.5), Some(0.5)));
        assert_eq!(v.per_defect_recall["crack"].recall, 0.5);
    }

    #[test]
    fn a_set_without_ng_samples_has_no_ng_recall() {
        let v = Verdicts::of(&[s(Some(false), Verdict::Ok, None)]);
        assert_eq!((v.accuracy, v.ng_recall, v.false_reject_rate), (Some(1.0), None, Some(0.0)));
    }
}
