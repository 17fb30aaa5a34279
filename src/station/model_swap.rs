//! The model-swap step: watches the model files, and for each replacement checks integrity, loads and
//! validates it (manifest, task, graph), warms it (sessions created on the configured providers,
//! references encoded) and self-tests it, all off the inspection path. A model that passes is handed to
//! the inference thread, which takes it between two batches; one that fails is refused with its reason:
//! logged once, counted, shown in the status file. The alarm is not set: the line runs on the old model.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use super::model_load::{load_within, LoadError};
use crate::inspect::qualification::{Gate, LoadTicket};
use crate::inspect::{Inspection, InspectionLoader, ModelIdentity};
use crate::metrics::StationMetrics;
use crate::model::integrity;
use crate::model::store::{ActiveModel, ModelStore, SharedModelStore};
use crate::model::watch::{FileEvent, ModelWatcher};
use crate::runtime::Runtime;

/// "name version on provider" of the model judging parts, shared with the systemd status line.
#[derive(Debug, Clone, Default)]
pub struct ModelInUse(Arc<Mutex<String>>);

impl ModelInUse {
    pub fn new(description: String) -> Self {
        Self(Arc::new(Mutex::new(description)))
    }

    pub fn set(&self, description: String) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = description;
    }

    pub fn get(&self) -> String {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// A checked, warmed model on its way to the inference thread.
pub struct Candidate {
    pub inspection: Box<dyn Inspection>,
    /// When the first file of this replacement was seen settled (for takeover timing).
    pub seen: Instant,
}

pub struct ModelSwap {
    pub rt: Runtime,
    pub loader: Arc<dyn InspectionLoader>,
    pub model_path: PathBuf,
    pub watcher: ModelWatcher,
    pub store: SharedModelStore,
    pub tx: Sender<Candidate>,
    /// Deadline for loading, warming and self-testing a replacement.
    pub load_timeout: Duration,
    /// The decision threshold in effect (a replacement that changes it is logged and recorded).
    pub threshold: f32,
    pub in_use: ModelInUse,
    pub metrics: Arc<StationMetrics>,
    /// SHA-256 over the model set now active (full graph and companions), to ignore a rewrite of the
    /// same files.
    pub active_set: String,
    /// Held from a load's start until its result is queued, here and by a taught reference's takeover:
    /// a model loaded with the old reference never lands after one loaded with the new.
    pub load_turn: LoadTurn,
    /// The qualification gate every replacement passed (its figures become the baseline at takeover).
    pub gate: Option<Arc<Gate>>,
    /// The gate's claim of the load in progress (its figures become the baseline if it takes over).
    pub ticket: Option<LoadTicket>,
}

/// One load and hand-over at a time (model swaps and reference takeovers).
pub type LoadTurn = Arc<Mutex<()>>;

impl ModelSwap {
    fn store(&self) -> std::sync::MutexGuard<'_, ModelStore> {
        self.store.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn run(mut self, stop: &AtomicBool) {
        let mut last_refused = LastRefusal::default();
        while !stop.load(Ordering::Relaxed) {
            let events = match self.watcher.poll(Duration::from_millis(200)) {
                Ok(ev) => ev,
                Err(e) => {
                    log::error!("model watch stopped: {e}; swaps need a restart");
                    return;
                }
            };
            for ev in events {
                match ev {
                    FileEvent::Removed(path) => {
                        log::warn!("{}: deleted; the loaded model keeps running", path.display());
                        self.store().record("deleted", &path, "the loaded model keeps running".into());
                    }
                    FileEvent::Replaced(files) => {
                        let turn = self.load_turn.clone();
                        let _turn = turn.lock().unwrap_or_else(|e| e.into_inner());
                        let seen = Instant::now();
                        match self.try_candidate(seen, stop) {
                            Ok(Some(c)) => {
                                let id = c.inspection.identity().clone();
                                let threshold = c.inspection.threshold();
                                if self.tx.send(c).is_err() {
                                    return; // inference has stopped: the station is shutting down
                                }
                                // Taken over at the next batch, milliseconds from now.
                                self.in_use.set(describe(&id));
                                if let (Some(g), Some(t)) = (&self.gate, self.ticket.take()) {
                                    if let Some(f) = g.took_over(t) {
                                        self.store().record("qualified", &self.model_path, f.to_string());
                                    }
                                }
                                last_refused = LastRefusal::default();
                                self.metrics.inc(&self.metrics.model_swaps);
                                log::info!(
                                    "model {} {} ({}) validated and warmed; takes over at the next part",
                                    id.name,
                                    id.version,
                                    &id.sha256[..12]
                                );
                                let kept: Vec<PathBuf> =
                                    self.loader.files(&self.model_path).into_iter().filter(|p| p.is_file()).collect();
                                self.store().keep_active(&kept, true);
                                if threshold != self.threshold {
                                    let change = format!("{} -> {threshold}", self.threshold);
                                    log::warn!(
                                        "model {} {}: the decision threshold changes {change}",
                                        id.name,
                                        id.version
                                    );
                                    self.store().record("threshold", &self.model_path, change);
                                    self.threshold = threshold;
                                }
                                self.store().set_active(active_model(&self.model_path, &id, threshold));
                                // Counted last: whoever waits for the swap count sees the rest written.
                                self.store().record("swapped", &self.model_path, format!("{} {}", id.name, id.version));
                            }
                            Ok(None) => {
                                self.store().record(
                                    "unchanged",
                                    &self.model_path,
                                    "same file as the active model".into(),
                                );
                            }
                            Err(e) => {
                                let reason = e.to_string();
                                self.metrics.inc(&self.metrics.model_loads_refused);
                                let max = self.rt.file_policy().max_bytes;
                                let sha = crate::model::file_sha256(&self.model_path, max).unwrap_or_default();
                                if last_refused.is_new(sha, &reason) {
                                    log::error!(
                                        "model update refused, the line keeps running on the old model: {reason} (files: {})",
                                        files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", ")
                                    );
                                }
                                self.store().record("refused", &self.model_path, reason);
                            }
                        }
                    }
                }
            }
        }
    }

    /// SHA-256 over the set of model files present (full graph first, then its companions).
    pub fn set_sha256(files: &[PathBuf], max_bytes: u64) -> String {
        let hashes: Vec<String> = files.iter().filter_map(|f| crate::model::file_sha256(f, max_bytes).ok()).collect();
        combine(&hashes)
    }

    /// Checks, loads, warms and self-tests the model files as they are now. `Ok(None)`: unchanged.
    fn try_candidate(&mut self, seen: Instant, stop: &AtomicBool) -> Result<Option<Candidate>, CandidateError> {
        // Each file is read once (a regular file, bounded): its integrity is checked and its hash taken
        // from the same bytes. The load checks the files it loads again, as a start does.
        let policy = self.rt.file_policy().clone();
        let mut hashes = Vec::new();
        let mut sha = String::new();
        for f in self.loader.files(&self.model_path) {
            if f == self.model_path || f.symlink_metadata().is_ok() {
                let h = policy.admit(&f)?;
                if f == self.model_path {
                    sha = h.clone();
                }
                hashes.push(h);
            }
        }
        let set = combine(&hashes);
        if set == self.active_set {
            return Ok(None);
        }
        log::info!("{}: replaced; loading, warming and self-testing it", self.model_path.display());
        self.ticket = self.gate.as_ref().map(|g| g.begin());
        let inspection = load_within(&self.loader, &self.rt, &self.model_path, self.load_timeout, Some(stop))?;
        if inspection.identity().sha256 != sha {
            return Err(CandidateError::ChangedWhileLoading);
        }
        self.active_set = set;
        Ok(Some(Candidate { inspection, seen }))
    }
}

/// Why a replaced model set was not taken; the line keeps running on the old model.
/// The last refusal logged: a refusal is logged once per file and reason, however many file events it
/// causes (an editor that writes a file twice, a set landing file by file).
#[derive(Default)]
struct LastRefusal(Option<(String, String)>);

impl LastRefusal {
    /// Whether the file `sha` refused for `reason` is news to the log; it is the last refusal from now on.
    fn is_new(&mut self, sha: String, reason: &str) -> bool {
        let new = self.0.as_ref().is_none_or(|(s, r)| *s != sha || r != reason);
        self.0 = Some((sha, reason.to_string()));
        new
    }
}

#[derive(Debug, thiserror::Error)]
enum CandidateError {
    #[error(transparent)]
    File(#[from] crate::model::ModelError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("the file changed while it was being loaded; waiting for the next write")]
    ChangedWhileLoading,
}

/// One hash over the per-file hashes of a model set.
fn combine(hashes: &[String]) -> String {
    let mut h = <sha2::Sha256 as sha2::Digest>::new();
    for x in hashes {
        sha2::Digest::update(&mut h, x.as_bytes());
    }
    integrity::hex(&sha2::Digest::finalize(h))
}

/// "name version on provider".
pub fn describe(id: &ModelIdentity) -> String {
    format!("{} {} on {}", id.name, id.version, id.provider)
}

pub fn active_model(file: &Path, id: &ModelIdentity, threshold: f32) -> ActiveModel {
    ActiveModel {
        file: file.to_path_buf(),
        name: id.name.clone(),
        version: id.version.clone(),
        sha256: id.sha256.clone(),
        provider: id.provider.to_string(),
        graph: id.graph.to_string(),
        since: String::new(),
        threshold: Some(threshold),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::Provider;

    #[test]
    fn the_model_in_use_is_one_description_shared_by_every_holder() {
        let id = ModelIdentity {
            name: "seal-siamese-attention".into(),
            version: "2.1.0".into(),
            sha256: String::new(),
            provider: Provider::Cpu,
            graph: "split",
        };
        let shown = ModelInUse::new(describe(&id));
        let page = shown.clone();
        assert_eq!(page.get(), "seal-siamese-attention 2.1.0 on cpu");
        shown.set("seal-siamese-attention 2.2.0 on cpu".into());
        assert_eq!(page.get(), "seal-siamese-attention 2.2.0 on cpu", "a takeover shows everywhere");
    }

    #[test]
    fn a_refusal_is_logged_once_per_file_and_reason() {
        let mut last = LastRefusal::default();
        assert!(last.is_new("aa".into(), "self-test failed"));
        assert!(!last.is_new("aa".into(), "self-test failed"), "the same file refused again");
        assert!(last.is_new("aa".into(), "contract"), "the same file, another reason");
        assert!(last.is_new("bb".into(), "contract"), "another file, the same reason");
        assert!(!last.is_new("bb".into(), "contract"));
    }

    #[test]
    fn a_model_set_has_one_hash_that_changes_with_any_of_its_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (a, b) = (dir.path().join("encoder.onnx"), dir.path().join("head.onnx"));
        std::fs::write(&a, b"encoder").expect("write");
        std::fs::write(&b, b"head").expect("write");
        let set = ModelSwap::set_sha256(&[a.clone(), b.clone()], 1 << 20);
        assert!(set.len() == 64 && set.bytes().all(|c| c.is_ascii_hexdigit()), "{set}");
        assert_eq!(set, ModelSwap::set_sha256(&[a.clone(), b.clone()], 1 << 20), "the same files, the same hash");
        assert_ne!(set, ModelSwap::set_sha256(std::slice::from_ref(&a), 1 << 20), "a file fewer");
        std::fs::write(&b, b"head, retrained").expect("write");
        assert_ne!(set, ModelSwap::set_sha256(&[a, b], 1 << 20), "one file changed");
    }
}
