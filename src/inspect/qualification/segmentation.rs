//! The electrode detector's segmentation figures, computed as `scripts/ml/electrode_metrics.py` computes
//! them: for the background and each defect class, the pixels where the predicted map (the argmax of the
//! `seg` output) and the label map agree and where either has the class, summed over every image; a
//! class's IoU is their ratio, measured only when some label has the class.

use std::collections::BTreeMap;

use serde::Serialize;

use super::figures::pct;
use crate::model::manifest::ELECTRODE_LABELS;

/// Map values: 0 background, k + 1 the defect class k.
const VALUES: usize = ELECTRODE_LABELS.len() + 1;

/// Intersections and unions so far.
#[derive(Debug, Clone, Default)]
pub struct SegmentationTally {
    inter: [u64; VALUES],
    union: [u64; VALUES],
    labelled: [u64; VALUES],
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SegmentationFigures {
    /// The mean over the classes some label has.
    pub seg_iou_mean: Option<f64>,
    pub seg_iou: BTreeMap<&'static str, Option<f64>>,
    pub background_iou: f64,
}

impl SegmentationTally {
    /// One image: its predicted map and its label map, the same pixels in the same order.
    pub fn add(&mut self, predicted: &[u8], label: &[u8]) {
        debug_assert_eq!(predicted.len(), label.len());
        for (&p, &t) in predicted.iter().zip(label) {
            let (p, t) = (usize::from(p), usize::from(t));
            if p == t {
                if p < VALUES {
                    self.inter[p] += 1;
                    self.union[p] += 1;
                    self.labelled[p] += 1;
                }
                continue;
            }
            if p < VALUES {
                self.union[p] += 1;
            }
            if t < VALUES {
                self.union[t] += 1;
                self.labelled[t] += 1;
            }
        }
    }

    pub fn figures(&self) -> SegmentationFigures {
        let ratio = |v: usize| self.inter[v] as f64 / self.union[v] as f64;
        let seg_iou: BTreeMap<&'static str, Option<f64>> = ELECTRODE_LABELS
            .iter()
            .enumerate()
            .map(|(k, &class)| (class, (self.labelled[k + 1] > 0).then(|| ratio(k + 1))))
            .collect();
        let measured: Vec<f64> = seg_iou.values().flatten().copied().collect();
        SegmentationFigures {
            seg_iou_mean: (!measured.is_empty()).then(|| measured.iter().sum::<f64>() / measured.len() as f64),
            seg_iou,
            background_iou: self.inter[0] as f64 / self.union[0].max(1) as f64,
        }
    }
}

impl SegmentationFigures {
    pub fn text(&self) -> String {
        let mut s = format!(
            "mean seg IoU        {}\nbackground IoU      {}\nper class            seg IoU\n",
            pct(self.seg_iou_mean),
            pct(Some(self.background_iou))
        );
        for class in ELECTRODE_LABELS {
            s.push_str(&format!("  {class:16} {:>8}\n", pct(self.seg_iou.get(class).copied().flatten())));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_is_summed_over_images_per_class_and_a_class_no_label_has_is_not_measured() {
        let mut t = SegmentationTally::default();
        // Image 1: scratch (1) labelled on 4 pixels, predicted on 3 of them and 1 more.
        t.add(&[1, 1, 1, 0, 1, 0], &[1, 1, 1, 1, 0, 0]);
        // Image 2: a crack (5) labelled, predicted as a dark spot (2): crack 0 %, dark spot predicted only.
        t.add(&[2, 2, 0, 0], &[5, 5, 0, 0]);
        let f = t.figures();
        assert_eq!(f.seg_iou["scratch"], Some(3.0 / 5.0));
        assert_eq!(f.seg_iou["crack"], Some(0.0));
        assert_eq!(f.seg_iou["dark_spot"], None, "predicted but never labelled: its pixels are false positives");
        assert_eq!(f.seg_iou_mean, Some(0.3));
        // Background: both say it on 3 pixels, either on 5.
        assert_eq!(f.background_iou, 3.0 / 5.0);
        assert!(f.text().contains("mean seg IoU        30.00%"), "{}", f.text());
    }

    #[test]
    fn a_set_without_defects_has_no_mean_and_an_empty_one_no_background_division_by_zero() {
        let mut t = SegmentationTally::default();
        t.add(&[0, 0, 3], &[0, 0, 0]);
        let f = t.figures();
        assert_eq!((f.seg_iou_mean, f.background_iou), (None, 2.0 / 3.0));
        assert_eq!(SegmentationTally::default().figures().background_iou, 0.0);
    }
}
