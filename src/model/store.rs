//! What the station keeps about its models under its state folder:
//! `active/` (copies of the files now judging parts), `previous/` (the set before the last swap), and
//! `status.json` (the model in use, swaps, refusals and the last events), read by `cellgate models status`.
//!
//! Rollback copies `previous/` back over the model files (write beside, then rename), which the watcher
//! takes like any technician's drop: validated, warmed, swapped between two parts.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Why `cellgate models rollback` could not put the previous model back.
#[derive(Debug, thiserror::Error)]
pub enum RollbackError {
    #[error("model path has no folder")]
    NoFolder,
    #[error("{path}: no previous model kept ({source})")]
    NoPrevious { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0}: empty, nothing to roll back to")]
    Empty(PathBuf),
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ModelStatus {
    /// The model judging parts now.
    pub active: Option<ActiveModel>,
    pub swaps: u64,
    pub refusals: u64,
    /// Newest last, at most `EVENTS_KEPT`.
    pub events: Vec<ModelEvent>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ActiveModel {
    pub file: PathBuf,
    pub name: String,
    pub version: String,
    pub sha256: String,
    pub provider: String,
    pub graph: String,
    pub since: String,
    /// The decision threshold in effect with this model (config's or manifest's).
    #[serde(default)]
    pub threshold: Option<f32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelEvent {
    pub time: String,
    /// `loaded`, `swapped`, `refused`, `deleted`, `unchanged`.
    pub event: String,
    pub file: PathBuf,
    pub detail: String,
}

const EVENTS_KEPT: usize = 50;

/// The store as the model-swap step and a taught reference's takeover share it: each records its events.
pub type SharedModelStore = std::sync::Arc<std::sync::Mutex<ModelStore>>;

pub struct ModelStore {
    dir: PathBuf,
    pub status: ModelStatus,
}

fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

impl ModelStore {
    /// Opens (creating) the state folder; a folder that cannot be written leaves the station running
    /// without rollback copies, with a warning.
    pub fn open(dir: &Path) -> Self {
        if let Err(e) = std::fs::create_dir_all(dir) {
            log::warn!("{}: {e}; model rollback copies are not kept", dir.display());
        }
        let status = Self::read_status(dir).unwrap_or_default();
        Self { dir: dir.to_path_buf(), status }
    }

    pub fn read_status(dir: &Path) -> Option<ModelStatus> {
        let text = std::fs::read_to_string(dir.join("status.json")).ok()?;
        serde_json::from_str(&text).ok()
    }

    pub fn record(&mut self, event: &str, file: &Path, detail: String) {
        self.status.events.push(ModelEvent { time: now(), event: event.into(), file: file.into(), detail });
        let n = self.status.events.len();
        if n > EVENTS_KEPT {
            self.status.events.drain(..n - EVENTS_KEPT);
        }
        match event {
            "swapped" => self.status.swaps += 1,
            "refused" => self.status.refusals += 1,
            _ => {}
        }
        self.write_status();
    }

    pub fn set_active(&mut self, active: ActiveModel) {
        self.status.active = Some(ActiveModel { since: now(), ..active });
        self.write_status();
    }

    fn write_status(&self) {
        let tmp = self.dir.join(".status.json.tmp");
        let res = serde_json::to_vec_pretty(&self.status)
            .map_err(std::io::Error::from)
            .and_then(|b| std::fs::write(&tmp, b))
            .and_then(|_| std::fs::rename(&tmp, self.dir.join("status.json")));
        if let Err(e) = res {
            log::warn!("{}: cannot write model status: {e}", self.dir.display());
        }
    }

    /// Keeps copies of the model files now in use: `active/` becomes `previous/`.
    pub fn keep_active(&self, files: &[PathBuf], rotate: bool) {
        let active = self.dir.join("active");
        let previous = self.dir.join("previous");
        let res = (|| -> std::io::Result<()> {
            if rotate && active.is_dir() {
                if previous.exists() {
                    std::fs::remove_dir_all(&previous)?;
                }
                std::fs::rename(&active, &previous)?;
            } else if active.exists() {
                std::fs::remove_dir_all(&active)?;
            }
            std::fs::create_dir_all(&active)?;
            for f in files {
                if let Some(name) = f.file_name() {
                    std::fs::copy(f, active.join(name))?;
                }
            }
            Ok(())
        })();
        if let Err(e) = res {
            log::warn!("{}: cannot keep a copy of the active model: {e}", self.dir.display());
        }
    }

    /// Puts the previous model set back beside `model` (write beside, rename over). Returns the files.
    pub fn rollback(dir: &Path, model: &Path) -> Result<Vec<PathBuf>, RollbackError> {
        let previous = dir.join("previous");
        let target_dir = model.parent().ok_or(RollbackError::NoFolder)?;
        let entries = std::fs::read_dir(&previous)
            .map_err(|source| RollbackError::NoPrevious { path: previous.clone(), source })?;
        let mut restored = Vec::new();
        for e in entries {
            let src = e.map_err(|source| RollbackError::Io { path: previous.clone(), source })?.path();
            let Some(name) = src.file_name() else { continue };
            let dst = target_dir.join(name);
            let tmp = target_dir.join(format!(".{}.rollback", name.to_string_lossy()));
            std::fs::copy(&src, &tmp).map_err(|source| RollbackError::Io { path: tmp.clone(), source })?;
            std::fs::rename(&tmp, &dst).map_err(|source| RollbackError::Io { path: dst.clone(), source })?;
            restored.push(dst);
        }
        if restored.is_empty() {
            return Err(RollbackError::Empty(previous));
        }
        Ok(restored)
    }
}
