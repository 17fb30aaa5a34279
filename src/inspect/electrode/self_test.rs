//! The electrode detector's self-test, passed before it judges a part (at start and at each swap): it
//! must discriminate, so a sheet with the five defect kinds drawn on it must yield detections of their
//! classes. Measured on the shipped detector (`cargo test --test hostile_models self_test`): each of the
//! five drawn defects found with its class (scores 0.83..0.96 at threshold 0.5).

use super::ElectrodeDetector;
use crate::inspect::output_check::OutputError;
use crate::inspect::synthetic::{electrode_sheet, ElectrodeDefect};
use crate::inspect::{InspectError, SelfTestError};
use crate::model::manifest::ELECTRODE_LABELS;

/// Of the five defects drawn on the electrode sheet, at least this many must be found with their class
/// (all five are with the shipped detector; some slack for a retrained one or a stricter threshold).
const MIN_FOUND: usize = 3;

/// A sheet with the five defect kinds drawn on it must yield detections of their classes.
pub fn self_test(detector: &mut ElectrodeDetector) -> Result<(), InspectError> {
    let (w, h) = detector.input_size();
    let (visible, xray) = electrode_sheet(w, h, &ElectrodeDefect::ALL);
    let result =
        detector.infer(&[(&visible, &xray)])?.into_iter().next().ok_or(OutputError::SelfTestResults(0, 1))??;
    let found: Vec<&str> = ElectrodeDefect::ALL
        .iter()
        .map(|d| ELECTRODE_LABELS[d.class()])
        .filter(|label| result.detections.iter().any(|det| det.label == *label))
        .collect();
    if found.len() < MIN_FOUND {
        let (drawn, threshold) = (ElectrodeDefect::ALL.len(), detector.score_threshold());
        return Err(SelfTestError::DefectsMissed { drawn, found, threshold, min: MIN_FOUND }.into());
    }
    Ok(())
}
