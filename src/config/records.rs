//! `records`: the results log and the NG archive. Checked against the file system as well as for
//! ranges, so that a config that would fail at start fails `check-config` first, naming the key.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{bad, GpioConfig, KeyProblem, StationConfig};
use crate::sinks::record::SinkConfig;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordsConfig {
    /// Results log, one JSON line per part.
    pub results: PathBuf,
    #[serde(default)]
    pub archive: Option<ArchiveConfig>,
}

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

/// A path with its folder resolved through links, so two spellings of one file compare equal.
fn canonical(p: &Path) -> PathBuf {
    match (p.parent().and_then(|d| d.canonicalize().ok()), p.file_name()) {
        (Some(dir), Some(name)) => dir.join(name),
        _ => p.to_path_buf(),
    }
}

impl RecordsConfig {
    /// The record sinks this section asks for, in the order each part is handed to them: the results
    /// log first, then the NG archive. (A new sink adds its key above and its entry here.)
    pub fn sinks(&self, cfg: &StationConfig) -> Vec<SinkConfig> {
        let mut sinks = vec![SinkConfig::ResultsLog { path: cfg.resolve(&self.results) }];
        if let Some(a) = &self.archive {
            sinks.push(SinkConfig::NgArchive {
                dir: cfg.resolve(&a.dir),
                quota_bytes: a.quota_bytes,
                min_free_bytes: a.min_free_bytes,
            });
        }
        sinks
    }

    pub(super) fn validate(&self, cfg: &StationConfig) -> Result<(), KeyProblem> {
        let results = cfg.resolve(&self.results);
        if results.is_dir() {
            return bad("records.results", format!("{} is a folder; it must name a file", results.display()));
        }
        let timeline = match &cfg.gpio {
            GpioConfig::Sim { timeline, .. } => timeline.as_ref(),
            GpioConfig::Chardev(c) => c.timeline.as_ref(),
        };
        if let Some(t) = timeline {
            if canonical(&cfg.resolve(t)) == canonical(&results) {
                return bad(
                    "records.results",
                    format!("{} is also gpio.timeline: each needs its own file", results.display()),
                );
            }
        }
        if let Some(arch) = &self.archive {
            if arch.quota_bytes < 1024 * 1024 {
                return bad("records.archive.quota_bytes", format!("{} is under 1 MiB", arch.quota_bytes));
            }
            let dir = cfg.resolve(&arch.dir);
            if dir.exists() && !dir.is_dir() {
                return bad("records.archive.dir", format!("{} is not a folder", dir.display()));
            }
            if canonical(&dir) == canonical(&results) {
                return bad("records.archive.dir", format!("{} is also records.results", dir.display()));
            }
            match crate::sinks::ng_archive::foreign_entry(&dir) {
                Ok(None) => {}
                Ok(Some(name)) => {
                    return bad(
                        "records.archive.dir",
                        format!(
                            "{} holds {name}, which the archive did not write: its quota deletes old files, so it \
                             needs a folder of its own",
                            dir.display()
                        ),
                    )
                }
                // check-config run by another user than the service's: the start checks it again.
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {}
                Err(e) => return bad("records.archive.dir", format!("{}: {e}", dir.display())),
            }
        }
        Ok(())
    }
}
