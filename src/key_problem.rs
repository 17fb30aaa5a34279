//! What a config section's check finds wrong: the key path and the problem. A leaf module, so that each
//! component checks its own config section without importing `config` (which composes the components);
//! `config` makes it a `ConfigError::Invalid` with the file's name.

/// A bad config value: `key` is the full path (`source.visible.width`), `problem` what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct KeyProblem {
    pub key: String,
    pub problem: String,
}

impl KeyProblem {
    pub fn new(key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self { key: key.into(), problem: problem.into() }
    }

    /// The same problem one level down: `section` before the key (`camera.min_mean` ->
    /// `plausibility.camera.min_mean`).
    pub fn under(self, section: &str) -> Self {
        Self { key: format!("{section}.{}", self.key), problem: self.problem }
    }
}

/// The error a check returns for `key`.
pub fn bad(key: impl Into<String>, problem: impl Into<String>) -> Result<(), KeyProblem> {
    Err(KeyProblem::new(key, problem))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_moved_under_a_section_keeps_its_text() {
        let p = KeyProblem::new("camera.min_mean", "2 is not a fraction").under("plausibility");
        assert_eq!(p.key, "plausibility.camera.min_mean");
        assert_eq!(p.to_string(), "plausibility.camera.min_mean: 2 is not a fraction");
    }
}
