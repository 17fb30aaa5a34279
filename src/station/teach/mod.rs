//! Teaching a recipe's reference from the live camera (issue 21): `teach` keeps the next good part of a
//! recipe as a candidate beside its reference, `confirm` makes it the reference, `discard` drops it,
//! `rollback` puts the previous one back. A new reference takes over as a model swap does: the model set
//! is loaded with it under the deadline (vetted, warmed, self-tested), off the inspection path, and the
//! result handed to the inference thread, which takes it between two batches. Until then every part is
//! judged against the old reference; after, against the new; never a mix in one batch, and each part's
//! record names the SHA-256 of the reference it was judged against. A load that is refused leaves the
//! files and the running inspection as they were. A model swap and a takeover load and hand over one at
//! a time (`LoadTurn`): a model set loaded with the old reference never lands after one with the new.

mod files;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

pub use files::Paths;

use super::model_load::{load_within, LoadError};
use super::model_swap::{Candidate, LoadTurn};
use crate::control::{Refusal, Taught, Teach, TookOver};
use crate::inspect::qualification::Gate;
use crate::inspect::reference_similarity::{ReferenceCheck, ReferenceLayoutError};
use crate::inspect::InspectionLoader;
use crate::metrics::{Counter, StationMetrics};
use crate::model::store::SharedModelStore;
use crate::runtime::Runtime;
use crate::sources::replay::{read_rgb, ReplayError};
use crate::sources::Frame;

#[derive(Debug, thiserror::Error)]
pub enum TeachError {
    #[error("this station's inspection has no reference images: only a seal station is taught")]
    NoReferences,
    #[error("unknown recipe {name:?}; this station has: {known}")]
    UnknownRecipe { name: String, known: String },
    #[error("a teach of recipe '{0}' is already waiting for its part")]
    Busy(String),
    #[error(
        "no {what} part of recipe '{recipe}' came within {secs} s: nothing taught (is '{recipe}' the active \
         recipe and the line running? a recipe whose look changed is taught with --force)"
    )]
    Timeout { recipe: String, what: &'static str, secs: u64 },
    #[error("encoding the candidate: {0}")]
    Encode(#[source] image::ImageError),
    #[error("{path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("rename {from} -> {to}: {source}")]
    Rename { from: PathBuf, to: PathBuf, source: std::io::Error },
    #[error("recipe '{recipe}': no {what} ({path})")]
    Missing { recipe: String, what: &'static str, path: PathBuf },
    #[error("{}: not a usable reference: {source}; nothing changed, the current reference keeps working", path.display())]
    Corrupt { path: PathBuf, source: ReplayError },
    #[error("{0}; nothing changed, the current reference keeps working")]
    Layout(#[source] ReferenceLayoutError),
    #[error("recipe '{recipe}': refused, the current reference and model keep working: {source}")]
    Refused { recipe: String, source: LoadError },
    #[error("reference SHA-256: {0}")]
    Hash(#[from] crate::model::file::FileError),
    #[error("recipe '{0}': a takeover is already waiting for the next part; nothing changed, try again")]
    Queued(String),
}

/// How a new reference is loaded and handed over: the station's model loader, runtime, model file and
/// deadline, the inference thread's swap queue, and the capture thread's reference layouts.
pub struct Takeover {
    pub loader: Arc<dyn InspectionLoader>,
    pub rt: Runtime,
    pub model: PathBuf,
    pub limit: Duration,
    pub tx: Sender<Candidate>,
    pub layouts: Option<ReferenceCheck>,
    /// Shared with the model-swap step: one load and hand-over at a time.
    pub load_turn: LoadTurn,
    /// The qualification gate the new reference's model set passed (its figures become the baseline).
    pub gate: Option<Arc<Gate>>,
    /// The model history (`models status`, the Station page): each takeover and refusal is an event.
    pub store: SharedModelStore,
}

/// What the teach step counts, in the station's metrics registry.
struct Counts {
    /// Candidates written from the camera.
    taught: Counter,
    /// Confirms and rollbacks handed to inference.
    took_over: Counter,
    /// Confirms and rollbacks refused (corrupt image, refused load, queue busy, a rename failed).
    refused: Counter,
}

/// What a takeover puts in the reference's place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Candidate,
    Previous,
}

/// A reference file is read for its SHA-256 within the image decoder's file bound.
const REFERENCE_MAX_BYTES: u64 = 64 << 20;

/// A teach waiting for its part.
struct Pending {
    recipe: String,
    /// Any plausible frame (offered by capture), not only one judged OK (offered by inference).
    force: bool,
    tx: Sender<Frame>,
}

pub struct Teacher {
    references: BTreeMap<String, PathBuf>,
    takeover: Takeover,
    counts: Counts,
    pending: Mutex<Option<Pending>>,
    /// A teach is waiting: the pipeline's threads look at this flag only, not at the lock.
    wanted: AtomicBool,
    /// One confirm, rollback or discard at a time.
    busy: Mutex<()>,
}

impl Teacher {
    /// `None` for a kind without references (electrode).
    pub fn new(takeover: Takeover, metrics: &StationMetrics) -> Option<Self> {
        let references = takeover.loader.references();
        let count = |name| metrics.register(name).unwrap_or_default();
        (!references.is_empty()).then(|| Self {
            references,
            takeover,
            counts: Counts {
                taught: count("references_taught"),
                took_over: count("reference_takeovers"),
                refused: count("reference_takeovers_refused"),
            },
            pending: Mutex::new(None),
            wanted: AtomicBool::new(false),
            busy: Mutex::new(()),
        })
    }

    /// Capture: a frame whose exposure shows a part (a `--force` teach takes it whatever the model says).
    pub fn offer_plausible(&self, frame: &Frame) {
        self.offer(frame, true);
    }

    /// Inference: a part judged OK against its recipe's current reference.
    pub fn offer_judged_ok(&self, frame: &Frame) {
        self.offer(frame, false);
    }

    fn offer(&self, frame: &Frame, plausible_only: bool) {
        if !self.wanted.load(Ordering::Relaxed) {
            return;
        }
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let fits = pending
            .as_ref()
            .is_some_and(|p| p.force == plausible_only && frame.info.recipe.as_deref() == Some(p.recipe.as_str()));
        if let Some(p) = pending.take_if(|_| fits) {
            self.wanted.store(false, Ordering::Relaxed);
            // The teach's thread encodes and writes it: no file work on the pipeline's threads.
            let _ = p.tx.try_send(frame.clone());
        }
    }

    /// Waits (at most `timeout`) for the next good part of `recipe` (`force`: the next plausible frame)
    /// and writes it as the recipe's candidate.
    pub fn teach(&self, recipe: &str, force: bool, timeout: Duration) -> Result<Taught, TeachError> {
        let paths = self.paths(recipe)?;
        let (tx, rx) = crossbeam_channel::bounded(1);
        {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(p) = pending.as_ref() {
                return Err(TeachError::Busy(p.recipe.clone()));
            }
            *pending = Some(Pending { recipe: recipe.to_string(), force, tx });
            self.wanted.store(true, Ordering::Relaxed);
        }
        let what = if force { "plausible" } else { "good" };
        log::info!("teach: recipe '{recipe}': waiting for its next {what} part");
        let frame = match rx.recv_timeout(timeout) {
            Ok(f) => f,
            Err(_) => {
                self.pending.lock().unwrap_or_else(PoisonError::into_inner).take();
                self.wanted.store(false, Ordering::Relaxed);
                // A frame offered just as the wait ended is still taken.
                rx.try_recv().map_err(|_| TeachError::Timeout {
                    recipe: recipe.to_string(),
                    what,
                    secs: timeout.as_secs(),
                })?
            }
        };
        let taught = files::write_candidate(&paths, &frame)?;
        self.counts.taught.inc();
        log::info!(
            "teach: recipe '{recipe}': candidate {} ({}x{}, {} bytes) from frame {}",
            taught.path.display(),
            taught.width,
            taught.height,
            taught.bytes,
            frame.info.name
        );
        Ok(taught)
    }

    /// The candidate becomes the reference (the reference is kept as `previous`), taking over between two
    /// parts once loaded, vetted and self-tested with it.
    pub fn confirm(&self, recipe: &str) -> Result<TookOver, TeachError> {
        self.take_over(recipe, Source::Candidate)
    }

    /// The previous reference comes back (the current one becomes `previous`), as a confirm does.
    pub fn rollback(&self, recipe: &str) -> Result<TookOver, TeachError> {
        self.take_over(recipe, Source::Previous)
    }

    /// Drops the candidate.
    pub fn discard(&self, recipe: &str) -> Result<PathBuf, TeachError> {
        let paths = self.paths(recipe)?;
        let _busy = self.busy.lock().unwrap_or_else(PoisonError::into_inner);
        std::fs::remove_file(&paths.candidate).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => missing(recipe, "candidate", &paths.candidate),
            _ => TeachError::Write { path: paths.candidate.clone(), source },
        })?;
        log::info!("teach: recipe '{recipe}': candidate {} discarded", paths.candidate.display());
        Ok(paths.candidate)
    }

    /// The candidate image, when there is one (the station page shows it).
    pub fn candidate(&self, recipe: &str) -> Option<PathBuf> {
        self.paths(recipe).ok().map(|p| p.candidate).filter(|p| p.is_file())
    }

    fn take_over(&self, recipe: &str, source: Source) -> Result<TookOver, TeachError> {
        let done = self.try_take_over(recipe, source);
        let what = match source {
            Source::Candidate => "taught candidate",
            Source::Previous => "previous reference",
        };
        // The Station page's and `models status`'s history shows reference takeovers beside model swaps.
        let event = match &done {
            Ok(t) => {
                self.counts.took_over.inc();
                Some((
                    "reference",
                    &t.reference,
                    format!("recipe '{recipe}': the {what} took over (sha256 {})", &t.sha256[..12]),
                ))
            }
            Err(TeachError::Missing { .. } | TeachError::UnknownRecipe { .. }) => None,
            Err(e) => {
                self.counts.refused.inc();
                self.references
                    .get(recipe)
                    .map(|r| ("reference refused", r, format!("recipe '{recipe}': the {what}: {e}")))
            }
        };
        if let Some((event, file, detail)) = event {
            self.takeover.store.lock().unwrap_or_else(PoisonError::into_inner).record(event, file, detail);
        }
        done
    }

    fn try_take_over(&self, recipe: &str, source: Source) -> Result<TookOver, TeachError> {
        let paths = self.paths(recipe)?;
        let (new, what) = match source {
            Source::Candidate => (&paths.candidate, "candidate"),
            Source::Previous => (&paths.previous, "previous reference"),
        };
        let _busy = self.busy.lock().unwrap_or_else(PoisonError::into_inner);
        if !new.is_file() {
            return Err(missing(recipe, what, new));
        }
        let t = &self.takeover;
        let _turn = t.load_turn.lock().unwrap_or_else(PoisonError::into_inner);
        // The image first (bounded decode), then its layout, then the whole model set with it: the
        // station's own load, under its deadline, before any file is renamed.
        read_rgb(new).map_err(|source| TeachError::Corrupt { path: new.clone(), source })?;
        let layout = match &t.layouts {
            Some(_) => Some(ReferenceCheck::layout(recipe, new).map_err(TeachError::Layout)?),
            None => None,
        };
        let loader = t.loader.with_reference(recipe, new).ok_or(TeachError::NoReferences)?;
        let ticket = t.gate.as_ref().map(|g| g.begin());
        let inspection = load_within(&loader, &t.rt, &t.model, t.limit, None)
            .map_err(|source| TeachError::Refused { recipe: recipe.to_string(), source })?;
        let sha256 = crate::model::file_sha256(new, REFERENCE_MAX_BYTES)?;
        if t.tx.is_full() {
            return Err(TeachError::Queued(recipe.to_string()));
        }
        files::install(&paths, new)?;
        if t.tx.try_send(Candidate { inspection, seen: Instant::now() }).is_err() {
            // A model swap took the queue in between: the files go back as they were, nothing takes over.
            files::install(&paths, &paths.previous)?;
            if source == Source::Candidate {
                files::rename(&paths.previous, &paths.candidate)?;
            }
            return Err(TeachError::Queued(recipe.to_string()));
        }
        if let (Some(check), Some(layout)) = (&t.layouts, layout) {
            check.set(recipe, layout);
        }
        if let Some(f) = t.gate.as_ref().zip(ticket).and_then(|(g, ticket)| g.took_over(ticket)) {
            let mut store = t.store.lock().unwrap_or_else(PoisonError::into_inner);
            store.record("qualified", &paths.reference, f.to_string());
        }
        log::info!(
            "teach: recipe '{recipe}': the {what} is the reference {} now (sha256 {}), the old one {}; it \
             takes over at the next part",
            paths.reference.display(),
            &sha256[..12],
            paths.previous.display()
        );
        Ok(TookOver { recipe: recipe.to_string(), reference: paths.reference, previous: paths.previous, sha256 })
    }

    fn paths(&self, recipe: &str) -> Result<Paths, TeachError> {
        match self.references.get(recipe) {
            Some(r) => Ok(Paths::of(r)),
            None => Err(TeachError::UnknownRecipe {
                name: recipe.to_string(),
                known: self.references.keys().cloned().collect::<Vec<_>>().join(", "),
            }),
        }
    }
}

/// The writers' surface (socket, page): the same steps, their errors boxed whole.
impl Teach for Teacher {
    fn teach(&self, recipe: &str, force: bool, wait: Duration) -> Result<Taught, Refusal> {
        Ok(Teacher::teach(self, recipe, force, wait)?)
    }

    fn confirm(&self, recipe: &str) -> Result<TookOver, Refusal> {
        Ok(Teacher::confirm(self, recipe)?)
    }

    fn rollback(&self, recipe: &str) -> Result<TookOver, Refusal> {
        Ok(Teacher::rollback(self, recipe)?)
    }

    fn discard(&self, recipe: &str) -> Result<PathBuf, Refusal> {
        Ok(Teacher::discard(self, recipe)?)
    }

    fn candidate(&self, recipe: &str) -> Option<PathBuf> {
        Teacher::candidate(self, recipe)
    }
}

fn missing(recipe: &str, what: &'static str, path: &Path) -> TeachError {
    TeachError::Missing { recipe: recipe.to_string(), what, path: path.to_path_buf() }
}
