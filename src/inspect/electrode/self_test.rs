//! The electrode detector's self-test, passed before it judges a part (at start and at each swap): it
//! must discriminate, so a sheet with the five defect kinds drawn on it must yield detections of their
//! classes. Measured on the shipped detector (`cargo test --test hostile_models self_test`): each of the
//! five drawn defects found with its class (scores 0.83..0.96 at threshold 0.5).

use super::ElectrodeDetector;
use crate::inspect::synthetic::{electrode_sheet, ElectrodeDefect};
use crate::inspect::InspectError;
use crate::model::manifest::ELECTRODE_LABELS;

/// Of the five defects drawn on the electrode sheet, at least this many must be found with their class
/// (all five are with the shipped detector; some slack for a retrained one or a stricter threshold).
const MIN_FOUND: usize = 3;

/// A sheet with the five defect kinds drawn on it must yield detections of their classes.
pub fn self_test(detector: &mut ElectrodeDetector) -> Result<(), InspectError> {
    let (w, h) = detector.input_size();
    let (visible, xray) = electrode_sheet(w, h, &ElectrodeDefect::ALL);
    let result = detector
        .infer(&[(&visible, &xray)])?
        .into_iter()
        .next()
        .ok_or_else(|| InspectError::Output("no result for the self-test sheet".into()))??;
    let found: Vec<&str> = ElectrodeDefect::ALL
        .iter()
        .map(|d| ELECTRODE_LABELS[d.class()])
        .filter(|label| result.detections.iter().any(|det| det.label == *label))
        .collect();
    if found.len() < MIN_FOUND {
        return Err(InspectError::SelfTest(format!(
            "of {} defects drawn on a blank sheet it found {} ({found:?}) at score threshold {}; at least \
             {MIN_FOUND} must be found: this model does not find defects",
            ElectrodeDefect::ALL.len(),
            found.len(),
            detector.score_threshold()
        )));
    }
    Ok(())
}
