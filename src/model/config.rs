//! `model_updates`: technicians' model swaps (watching, size and time limits, signatures).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::key_problem::{bad, KeyProblem};

/// Technicians' model swaps: the model folder is watched, new files are validated and warmed off the
/// inspection path and take over between two parts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelUpdatesConfig {
    /// Watch the model files and swap in replacements.
    #[serde(default = "default_watch")]
    pub watch: bool,
    /// Quiet time after the last write before a file is read.
    #[serde(default = "default_settle_ms")]
    pub settle_ms: u64,
    /// Copies of the active and previous models, and `status.json`.
    #[serde(default = "default_model_state")]
    pub state_dir: PathBuf,
    /// Refuse model files without a valid `<file>.sig`.
    #[serde(default)]
    pub require_signature: bool,
    /// ed25519 public key (64 hex characters) that signatures are checked with.
    #[serde(default)]
    pub public_key: Option<PathBuf>,
    /// Largest model file read (bytes): a bigger one is refused before it is read.
    #[serde(default = "default_max_model_bytes")]
    pub max_model_bytes: u64,
    /// Deadline for loading, warming and self-testing a model (start and swaps).
    #[serde(default = "default_load_timeout_ms")]
    pub load_timeout_ms: u64,
}

impl Default for ModelUpdatesConfig {
    fn default() -> Self {
        Self {
            watch: true,
            settle_ms: default_settle_ms(),
            state_dir: default_model_state(),
            require_signature: false,
            public_key: None,
            max_model_bytes: default_max_model_bytes(),
            load_timeout_ms: default_load_timeout_ms(),
        }
    }
}

fn default_watch() -> bool {
    true
}

fn default_max_model_bytes() -> u64 {
    256 * 1024 * 1024
}

fn default_load_timeout_ms() -> u64 {
    60_000
}

fn default_settle_ms() -> u64 {
    500
}

fn default_model_state() -> PathBuf {
    PathBuf::from("/var/lib/cellgate/models")
}

impl ModelUpdatesConfig {
    /// Checks the section; a relative `public_key` is taken from `base_dir` (the config file's folder).
    pub fn validate(&self, base_dir: &Path) -> Result<(), KeyProblem> {
        if !(50..=60_000).contains(&self.settle_ms) {
            return bad("model_updates.settle_ms", format!("{} is outside 50..60000", self.settle_ms));
        }
        if !(1024..=(4u64 << 30)).contains(&self.max_model_bytes) {
            return bad("model_updates.max_model_bytes", format!("{} is outside 1 KiB..4 GiB", self.max_model_bytes));
        }
        if !(100..=600_000).contains(&self.load_timeout_ms) {
            return bad("model_updates.load_timeout_ms", format!("{} is outside 100..600000", self.load_timeout_ms));
        }
        match &self.public_key {
            Some(k) => {
                if let Err(e) = super::integrity::read_public_key(&base_dir.join(k)) {
                    return bad("model_updates.public_key", e.to_string());
                }
            }
            None if self.require_signature => {
                return bad("model_updates.public_key", "require_signature needs a public key to check with");
            }
            None => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(json: &str) -> Result<(), String> {
        let c: ModelUpdatesConfig = serde_json::from_str(json).expect("model_updates section");
        c.validate(Path::new("/")).map_err(|p| p.key)
    }

    #[test]
    fn an_empty_section_takes_the_documented_defaults() {
        let c: ModelUpdatesConfig = serde_json::from_str("{}").expect("model_updates section");
        assert!(c.watch && !c.require_signature && c.public_key.is_none());
        assert_eq!((c.settle_ms, c.max_model_bytes, c.load_timeout_ms), (500, 256 << 20, 60_000));
        assert_eq!(c.state_dir, Path::new("/var/lib/cellgate/models"));
        assert_eq!(key_of("{}"), Ok(()));
    }

    #[test]
    fn each_bad_value_names_its_key() {
        assert_eq!(key_of(r#"{"settle_ms": 10}"#), Err("model_updates.settle_ms".into()));
        assert_eq!(key_of(r#"{"max_model_bytes": 10}"#), Err("model_updates.max_model_bytes".into()));
        assert_eq!(key_of(r#"{"load_timeout_ms": 0}"#), Err("model_updates.load_timeout_ms".into()));
        assert_eq!(key_of(r#"{"require_signature": true}"#), Err("model_updates.public_key".into()));
        assert_eq!(key_of(r#"{"public_key": "no-such.pub"}"#), Err("model_updates.public_key".into()));
    }
}
