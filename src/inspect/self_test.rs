//! The self-test every model passes before it judges a part, at start and at each swap. It must
//! discriminate: a model that calls everything OK (a constant graph, broken weights) loads, keeps every
//! contract and would pass every part, so a known-good image must come out OK *and* a known-bad one NG.
//!
//! Measured on the shipped models (`cargo test --test hostile_models self_test`): the seal classifier
//! (2.1.0) gives p_ng 1.0000 to the drawn crack on each demo recipe's reference and on vivid's horizontal
//! colour bars (the HIL test's reference), against 0.0010..0.0020 and 0.06 for the references themselves
//! (threshold 0.45); (2.0.0 scored a 16x16 checkers reference 0.45-0.51 against itself); the electrode
//! detector finds each of the five drawn defects with its class (scores 0.83..0.96 at threshold 0.5).

use super::electrode::ElectrodeInspector;
use super::seal::SealScore;
use super::synthetic::{electrode_sheet, seal_defect, ElectrodeDefect, SealDefect};
use super::InspectError;
use crate::model::manifest::ELECTRODE_LABELS;
use crate::sources::Frame;

/// Of the five defects drawn on the electrode sheet, at least this many must be found with their class
/// (all five are with the shipped detector; some slack for a retrained one or a stricter threshold).
pub const ELECTRODE_MIN_FOUND: usize = 3;

fn refuse(what: String) -> InspectError {
    InspectError::SelfTest(what)
}

/// Seal: the reference against itself is OK, the reference with a drawn crack is NG.
pub fn seal(
    reference: &Frame,
    threshold: f32,
    mut infer: impl FnMut(&[&Frame]) -> Result<Vec<SealScore>, InspectError>,
) -> Result<SealScore, InspectError> {
    let defect = SealDefect::Crack;
    let cracked = seal_defect(reference, defect);
    let scores = infer(&[reference, &cracked])?;
    let (good, bad) = match scores.as_slice() {
        [g, b] => (*g, *b),
        _ => return Err(InspectError::Output(format!("{} scores for 2 self-test frames", scores.len()))),
    };
    if good.p_ng >= threshold {
        return Err(refuse(format!(
            "the reference judged against itself is NG (p_ng {:.4}, threshold {threshold})",
            good.p_ng
        )));
    }
    if bad.p_ng < threshold {
        return Err(refuse(format!(
            "a {} drawn on the reference is judged OK (p_ng {:.4}, threshold {threshold}): this model \
             does not tell a defect from a good seal",
            defect.name(),
            bad.p_ng
        )));
    }
    Ok(good)
}

/// Electrode: a sheet with the five defect kinds drawn on it must yield detections of their classes.
pub fn electrode(inspector: &mut ElectrodeInspector) -> Result<(), InspectError> {
    let (w, h) = inspector.input_size();
    let (visible, xray) = electrode_sheet(w, h, &ElectrodeDefect::ALL);
    let result = inspector
        .infer(&[(&visible, &xray)])?
        .into_iter()
        .next()
        .ok_or_else(|| InspectError::Output("no result for the self-test sheet".into()))??;
    let found: Vec<&str> = ElectrodeDefect::ALL
        .iter()
        .map(|d| ELECTRODE_LABELS[d.class()])
        .filter(|label| result.detections.iter().any(|det| det.label == *label))
        .collect();
    if found.len() < ELECTRODE_MIN_FOUND {
        return Err(refuse(format!(
            "of {} defects drawn on a blank sheet it found {} ({found:?}) at score threshold {}; at least \
             {ELECTRODE_MIN_FOUND} must be found: this model does not find defects",
            ElectrodeDefect::ALL.len(),
            found.len(),
            inspector.score_threshold()
        )));
    }
    Ok(())
}
