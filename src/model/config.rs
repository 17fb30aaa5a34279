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
    /// A labelled folder of the line's own parts (DESIGN format) every model must pass before it judges
    /// parts: the qualification gate (`inspect::qualification`).
    #[serde(default)]
    pub golden: Option<PathBuf>,
    /// Seal: least accuracy and NG recall on the golden set (shares, 0..1).
    #[serde(default)]
    pub min_accuracy: Option<f64>,
    #[serde(default)]
    pub min_ng_recall: Option<f64>,
    /// Electrode: least mAP50 and most miss rate on the golden set (shares, 0..1).
    #[serde(default)]
    pub min_map50: Option<f64>,
    #[serde(default)]
    pub max_miss_rate: Option<f64>,
    /// How much worse than the running model a replacement may be on any of those figures.
    #[serde(default = "default_max_regression")]
    pub max_regression: f64,
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
            golden: None,
            min_accuracy: None,
            min_ng_recall: None,
            min_map50: None,
            max_miss_rate: None,
            max_regression: default_max_regression(),
        }
    }
}

fn default_max_regression() -> f64 {
    0.01
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
        self.validate_gate(base_dir)?;
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

    /// The qualification gate's keys: shares in 0..1, and limits only with a golden set to measure them.
    fn validate_gate(&self, base_dir: &Path) -> Result<(), KeyProblem> {
        let shares = [
            ("min_accuracy", self.min_accuracy),
            ("min_ng_recall", self.min_ng_recall),
            ("min_map50", self.min_map50),
            ("max_miss_rate", self.max_miss_rate),
            ("max_regression", Some(self.max_regression)),
        ];
        for (key, v) in shares {
            if let Some(v) = v.filter(|v| !(0.0..=1.0).contains(v)) {
                return bad(format!("model_updates.{key}"), format!("{v} is outside 0..1 (a share: 0.98 is 98%)"));
            }
        }
        match &self.golden {
            Some(g) if !base_dir.join(g).is_dir() => {
                bad("model_updates.golden", format!("{} is not a folder", base_dir.join(g).display()))
            }
            Some(_) => Ok(()),
            None => match shares[..4].iter().find(|(_, v)| v.is_some()) {
                Some((key, _)) => {
                    bad(format!("model_updates.{key}"), "needs model_updates.golden, the set it is measured on")
                }
                None => Ok(()),
            },
        }
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
        assert_eq!(key_of(r#"{"min_accuracy": 0.9}"#), Err("model_updates.min_accuracy".into()));
        assert_eq!(key_of(r#"{"golden": "no-such-folder"}"#), Err("model_updates.golden".into()));
        assert_eq!(key_of(r#"{"golden": "/", "min_ng_recall": 99}"#), Err("model_updates.min_ng_recall".into()));
        assert_eq!(key_of(r#"{"golden": "/", "max_regression": -0.1}"#), Err("model_updates.max_regression".into()));
        assert_eq!(key_of(r#"{"golden": "/", "min_accuracy": 0.95, "max_miss_rate": 0.1}"#), Ok(()));
    }
}
