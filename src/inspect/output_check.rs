//! What a model's outputs must be before a verdict is drawn from them. A hostile or broken model can
//! return anything (NaN, probabilities of 7, boxes of negative width); such an output is a model fault
//! for that part, which is rejected with the reason, never a panic in the decoder.

/// Probabilities may overshoot by rounding, not more.
const PROB_SLACK: f32 = 1e-3;

/// Outputs a model gave that cannot be used: their sizes, or values no model should give.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("manifest has no '{0}' input")]
    NoInput(&'static str),
    #[error("encoder 'embedding' needs fixed dimensions")]
    EmbeddingNotFixed,
    #[error("embedding has {got} values, expected {expected}")]
    EmbeddingSize { got: usize, expected: usize },
    #[error("{tensor} has {got} values for {parts} parts")]
    BatchSize { tensor: &'static str, got: usize, parts: usize },
    #[error("probs {0:?} are not probabilities")]
    NotProbabilities([f32; 2]),
    #[error("output sizes det {det}, seg {seg}, cls {cls} do not fit a batch of {n}")]
    DetectorSizes { det: usize, seg: usize, cls: usize, n: usize },
    #[error("{0} results for {1} self-test frames")]
    SelfTestResults(usize, usize),
    #[error(transparent)]
    Fault(#[from] OutputFault),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OutputFault {
    #[error("{0}: not a finite number")]
    NotFinite(&'static str),
    #[error("{what} {value} is not a probability")]
    NotProbability { what: &'static str, value: f32 },
    #[error("detection with score {score} has a box of negative size ({w} x {h})")]
    NegativeBox { score: f32, w: f32, h: f32 },
}

pub fn is_probability(v: f32) -> bool {
    (-PROB_SLACK..=1.0 + PROB_SLACK).contains(&v)
}

/// One image's detector rows `(cx, cy, w, h, p_0..p_C)`: every value finite, every class score a
/// probability, and every row the decoder would keep (score over `threshold`) a box of non-negative size.
pub fn check_det(det: &[f32], row_len: usize, threshold: f32) -> Result<(), OutputFault> {
    for r in det.chunks_exact(row_len) {
        if !r.iter().all(|v| v.is_finite()) {
            return Err(OutputFault::NotFinite("det"));
        }
        let mut score = f32::MIN;
        for &p in &r[4..] {
            if !is_probability(p) {
                return Err(OutputFault::NotProbability { what: "class score", value: p });
            }
            score = score.max(p);
        }
        if score > threshold && (r[2] < 0.0 || r[3] < 0.0) {
            return Err(OutputFault::NegativeBox { score, w: r[2], h: r[3] });
        }
    }
    Ok(())
}

/// Presence probabilities per class.
pub fn check_presence(cls: &[f32]) -> Result<(), OutputFault> {
    match cls.iter().find(|v| !v.is_finite() || !is_probability(**v)) {
        Some(v) if !v.is_finite() => Err(OutputFault::NotFinite("cls")),
        Some(&value) => Err(OutputFault::NotProbability { what: "class presence", value }),
        None => Ok(()),
    }
}

/// Segmentation logits: any finite value.
pub fn check_logits(seg: &[f32]) -> Result<(), OutputFault> {
    if seg.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(OutputFault::NotFinite("seg"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(w: f32, h: f32, p: f32) -> Vec<f32> {
        vec![10.0, 10.0, w, h, p, 0.0, 0.0, 0.0, 0.0]
    }

    #[test]
    fn bad_detector_rows_are_faults() {
        assert_eq!(check_det(&row(4.0, 4.0, 0.9), 9, 0.5), Ok(()));
        // Negative size under the threshold is never decoded: not a fault.
        assert_eq!(check_det(&row(-4.0, 4.0, 0.1), 9, 0.5), Ok(()));
        assert!(matches!(check_det(&row(-4.0, 4.0, 0.9), 9, 0.5), Err(OutputFault::NegativeBox { .. })));
        assert!(matches!(check_det(&row(4.0, f32::NAN, 0.9), 9, 0.5), Err(OutputFault::NotFinite("det"))));
        assert!(matches!(check_det(&row(4.0, 4.0, 7.0), 9, 0.5), Err(OutputFault::NotProbability { .. })));
        assert!(matches!(check_presence(&[0.1, f32::INFINITY]), Err(OutputFault::NotFinite("cls"))));
        assert!(matches!(check_presence(&[0.1, -0.5]), Err(OutputFault::NotProbability { .. })));
        assert!(matches!(check_logits(&[1.0, f32::NAN]), Err(OutputFault::NotFinite("seg"))));
    }
}
