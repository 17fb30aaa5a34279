//! Loading a model under a deadline, at start and at every swap. A hostile file can make ONNX Runtime
//! work forever (a Loop of 2^62 iterations in the self-test, a graph whose optimisation never ends):
//! the load, warm-up and self-test run on a disposable thread, every model run of it under run options
//! that are terminated when the deadline passes or the station stops. Session creation itself cannot be
//! interrupted: a thread stuck there is abandoned (it exits when the process does), so the caller is
//! free again either way and a later swap or the shutdown never waits for it. The station binary
//! therefore vets every file in a child process first (`model::vet`), killed at the deadline, so such a
//! thread is only left where no vetting is set up (library users, tests).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;
use ort::session::RunOptions;

use crate::inspect::{InspectError, Inspection, InspectionLoader};
use crate::model::vet::{VetError, Vetter};
use crate::model::FilePolicy;
use crate::runtime::Runtime;

/// How often a wait looks at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(50);

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Refused(#[from] InspectError),
    #[error(
        "{path}: not loaded, warmed and self-tested within {ms} ms (model_updates.load_timeout_ms): \
         refused, its runs terminated"
    )]
    Timeout { path: PathBuf, ms: u128 },
    #[error("{path}: load abandoned: the station is stopping")]
    Stopped { path: PathBuf },
    #[error("{path}: the model-load thread failed: {source}")]
    Spawn { path: PathBuf, source: std::io::Error },
    #[error("{path}: the model-load thread failed: it panicked")]
    Panicked { path: PathBuf },
    #[error(transparent)]
    Vet(#[from] VetError),
}

/// Loads, warms and self-tests `model` as `loader` does, giving up after `limit` or once `stop` is set.
/// With a vetter, each file is first vetted in a child process (also within `limit`), so a file whose
/// session creation never ends is refused without leaving a thread busy here.
pub fn load_within(
    loader: &Arc<dyn InspectionLoader>,
    rt: &Runtime,
    model: &Path,
    limit: Duration,
    stop: Option<&AtomicBool>,
) -> Result<Box<dyn Inspection>, LoadError> {
    match rt.vetter() {
        Some(v) => {
            // The load may build sessions only from the bytes that were vetted (checked as each file is
            // read, before its session): a file swapped in between is refused, never built unvetted.
            let vetted = vet_set(v, rt.file_policy(), loader.as_ref(), model, limit, stop)?;
            let policy = FilePolicy { vetted: Some(vetted), ..rt.file_policy().clone() };
            load_in_process(loader, &rt.clone().with_file_policy(policy), model, limit, stop)
        }
        None => load_in_process(loader, rt, model, limit, stop),
    }
}

/// Vets the model file and the other files its kind loads beside it (the seal's encoder/head pair);
/// returns the SHA-256 of each file that passed. Each is first admitted by the file policy (regular,
/// bounded, signed when signatures are required): a model file that is not is refused before any
/// vetting, at start as at a swap. A companion that is merely refused is left out (its load is then
/// refused and the kind runs on without it, as with any broken companion); one that does not build in
/// time refuses the set, as its in-process load would.
fn vet_set(
    v: &Vetter,
    policy: &FilePolicy,
    loader: &dyn InspectionLoader,
    model: &Path,
    limit: Duration,
    stop: Option<&AtomicBool>,
) -> Result<BTreeMap<PathBuf, String>, LoadError> {
    policy.admit(model).map_err(InspectError::from)?;
    let mut vetted = BTreeMap::from([(model.to_path_buf(), v.vet(model, limit, stop)?)]);
    for c in loader.files(model).into_iter().filter(|c| c.as_path() != model && c.is_file()) {
        if policy.admit(&c).is_err() {
            continue;
        }
        match v.vet(&c, limit, stop) {
            Ok(sha) => {
                vetted.insert(c, sha);
            }
            Err(VetError::Refused { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(vetted)
}

fn load_in_process(
    loader: &Arc<dyn InspectionLoader>,
    rt: &Runtime,
    model: &Path,
    limit: Duration,
    stop: Option<&AtomicBool>,
) -> Result<Box<dyn Inspection>, LoadError> {
    let path = model.to_path_buf();
    let run_options = Arc::new(RunOptions::new().map_err(InspectError::from)?);
    let (tx, rx) = crossbeam_channel::bounded(1);
    let (l, r, p, ro) = (loader.clone(), rt.clone(), path.clone(), run_options.clone());
    std::thread::Builder::new()
        .name("model-load".into())
        .spawn(move || {
            let _ = tx.send(l.load(&r, &p, ro));
        })
        .map_err(|source| LoadError::Spawn { path: path.clone(), source })?;
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left.min(STOP_POLL)) {
            Ok(res) => return res.map_err(LoadError::from),
            Err(RecvTimeoutError::Disconnected) => {
                return Err(LoadError::Panicked { path });
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        let stopping = stop.is_some_and(|s| s.load(Ordering::SeqCst));
        if stopping || Instant::now() >= deadline {
            // Ends a run in progress and fails every later one of this load at once.
            if let Err(e) = run_options.terminate() {
                log::warn!("{}: cannot terminate the load's model runs: {e}", path.display());
            }
            return Err(if stopping {
                LoadError::Stopped { path }
            } else {
                LoadError::Timeout { path, ms: limit.as_millis() }
            });
        }
    }
}
