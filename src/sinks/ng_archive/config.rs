//! `records.archive`: the NG archive's folder, byte quota and free-space floor, checked against the file
//! system so that a folder that would be refused at start fails `check-config` first.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::{foreign_entry, ArchiveError, NgArchive};
use crate::key_problem::{bad, KeyProblem};
use crate::metrics::StationMetrics;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveConfig {
    /// Folder for NG images (PNG), the archive's own: its quota deletes old images.
    pub dir: PathBuf,
    /// Byte quota of the folder; the oldest images go first.
    #[serde(default = "default_quota")]
    pub quota_bytes: u64,
    /// No image is archived while the disk has less free than this, so the archive never takes the room
    /// the results log needs.
    #[serde(default = "default_min_free")]
    pub min_free_bytes: u64,
}

fn default_quota() -> u64 {
    512 * 1024 * 1024
}

fn default_min_free() -> u64 {
    128 * 1024 * 1024
}

impl ArchiveConfig {
    /// Checks the section; a relative `dir` is taken from `base_dir` (the config file's folder).
    pub fn validate(&self, base_dir: &Path) -> Result<(), KeyProblem> {
        if self.quota_bytes < 1024 * 1024 {
            return bad("records.archive.quota_bytes", format!("{} is under 1 MiB", self.quota_bytes));
        }
        let dir = base_dir.join(&self.dir);
        if dir.exists() && !dir.is_dir() {
            return bad("records.archive.dir", format!("{} is not a folder", dir.display()));
        }
        match foreign_entry(&dir) {
            Ok(None) => Ok(()),
            Ok(Some(name)) => bad(
                "records.archive.dir",
                format!(
                    "{} holds {name}, which the archive did not write: its quota deletes old files, so it needs a \
                     folder of its own",
                    dir.display()
                ),
            ),
            // check-config run by another user than the service's: the start checks it again.
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Ok(()),
            Err(e) => bad("records.archive.dir", format!("{}: {e}", dir.display())),
        }
    }

    /// Opens the archive (its folder made if needed, refused if it holds files the archive did not write).
    pub fn build(&self, base_dir: &Path, metrics: Arc<StationMetrics>) -> Result<NgArchive, ArchiveError> {
        NgArchive::open(&base_dir.join(&self.dir), self.quota_bytes, self.min_free_bytes, metrics)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> ArchiveConfig {
        serde_json::from_str(json).expect("archive section")
    }

    #[test]
    fn the_documented_defaults_apply_and_the_folder_is_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = parse(r#"{"dir": "ng"}"#);
        assert_eq!((a.quota_bytes, a.min_free_bytes), (512 << 20, 128 << 20));
        assert_eq!(a.validate(dir.path()), Ok(()));
        let small = parse(r#"{"dir": "ng", "quota_bytes": 1000}"#).validate(dir.path());
        assert_eq!(small.map_err(|p| p.key), Err("records.archive.quota_bytes".into()));
        std::fs::write(dir.path().join("reference.png"), b"x").expect("write");
        let shared = parse(r#"{"dir": "."}"#).validate(dir.path()).expect_err("a folder with other files");
        assert_eq!(shared.key, "records.archive.dir");
        assert!(shared.problem.contains("reference.png"), "{}", shared.problem);
        let file = parse(r#"{"dir": "reference.png"}"#).validate(dir.path()).map_err(|p| p.key);
        assert_eq!(file, Err("records.archive.dir".into()));
        a.build(dir.path(), Arc::default()).expect("the archive opens its folder under the config's");
        assert!(dir.path().join("ng").is_dir());
    }
}
