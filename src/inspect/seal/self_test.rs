//! The seal classifier's self-test, passed before it judges a part (at start and at each swap). It must
//! discriminate: a model that calls everything OK (a constant graph, broken weights) loads, keeps every
//! contract and would pass every part, so a known-good image must come out OK *and* a known-bad one NG.
//!
//! Measured on the shipped classifier (`cargo test --test hostile_models self_test`): 2.1.0 gives p_ng
//! 1.0000 to the drawn crack on each demo recipe's reference and on vivid's horizontal colour bars (the
//! HIL test's reference), against 0.0010..0.0020 and 0.06 for the references themselves (threshold
//! 0.45); (2.0.0 scored a 16x16 checkers reference 0.45-0.51 against itself).

use crate::inspect::synthetic::{seal_defect, SealDefect};
use crate::inspect::InspectError;
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
        _ => return Err(InspectError::Output(format!("{} scores for 2 self-test frames", scores.len()))),
    };
    if good >= threshold {
        return Err(InspectError::SelfTest(format!(
            "the reference judged against itself is NG (p_ng {good:.4}, threshold {threshold})"
        )));
    }
    if bad < threshold {
        return Err(InspectError::SelfTest(format!(
            "a {} drawn on the reference is judged OK (p_ng {bad:.4}, threshold {threshold}): this model \
             does not tell a defect from a good seal",
            defect.name(),
        )));
    }
    Ok(())
}
