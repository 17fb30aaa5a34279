//! The verdict of a part: from its score, the threshold, and the station's health.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Ok,
    Ng,
    /// No usable result (bad frame, model error, camera lost): rejected fail-safe.
    Error,
}

impl Verdict {
    pub fn from_score(p_ng: f32, threshold: f32) -> Self {
        if p_ng >= threshold {
            Verdict::Ng
        } else {
            Verdict::Ok
        }
    }

    /// Whether the part must leave the line (anything but a clean OK).
    pub fn rejects(self) -> bool {
        self != Verdict::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_is_inclusive_and_errors_reject() {
        assert_eq!(Verdict::from_score(0.5, 0.5), Verdict::Ng);
        assert_eq!(Verdict::from_score(0.4999, 0.5), Verdict::Ok);
        assert!(Verdict::Error.rejects());
        assert!(Verdict::Ng.rejects());
        assert!(!Verdict::Ok.rejects());
    }
}
