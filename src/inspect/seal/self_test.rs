//! The seal classifier's self-test, passed before it judges a part (at start and at each swap). It must
//! discriminate: a model that calls everything OK (a constant graph, broken weights) loads, keeps every
//! contract and would pass every part, so a known-good image must come out OK *and* a known-bad one NG.
//!
//! Measured on the shipped classifier (`cargo test --test hostile_models self_test`): 2.2.0 gives p_ng
//! 1.0000 to the drawn crack on each demo recipe's reference and on vivid's horizontal colour bars (the
//! HIL test's reference), against 0.0001..0.0013 and 0.03 for the references themselves (threshold
//! 0.34); (2.0.0 scored a 16x16 checkers reference 0.45-0.51 against itself).

use crate::inspect::output_check::OutputError;
use crate::inspect::synthetic::{seal_defect, SealDefect};
use crate::inspect::{InspectError, SelfTestError};
use crate::sources::Frame;

/// The reference against itself is OK, the reference with a drawn crack is NG. `infer` gives
/// `[p_ok, p_ng]` per frame.
pub fn self_test(
    reference: &Frame,
    threshold: f32,
    mut infer: impl FnMut(&[&Frame]) -> Result<Vec<[f32; 2]>, InspectError>,
) -> Result<(), InspectError> {
    let defect = SealDefect::Crack;
    let cracked = seal_defect(reference, defect);
    let scores = infer(&[reference, &cracked])?;
    let (good, bad) = match scores.as_slice() {
        [g, b] => (g[1], b[1]),
        _ => return Err(OutputError::SelfTestResults(scores.len(), 2).into()),
    };
    if good >= threshold {
        return Err(SelfTestError::ReferenceNg { p_ng: good, threshold }.into());
    }
    if bad < threshold {
        return Err(SelfTestError::DefectOk { defect: defect.name(), p_ng: bad, threshold }.into());
    }
    Ok(())
}
