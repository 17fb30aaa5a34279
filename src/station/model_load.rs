//! Loading a model under a deadline, at start and at every swap. A hostile file can make ONNX Runtime
//! work forever (a Loop of 2^62 iterations in the self-test, a graph whose optimisation never ends):
//! the load, warm-up and self-test run on a disposable thread, every model run of it under run options
//! that are terminated when the deadline passes or the station stops. Session creation itself cannot be
//! interrupted: a thread stuck there is abandoned (it exits when the process does), so the caller is
//! free again either way and a later swap or the shutdown never waits for it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;
use ort::session::RunOptions;

use crate::inspect::{InspectError, Inspection, InspectionLoader};
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
}

/// Loads, warms and self-tests `model` as `loader` does, giving up after `limit` or once `stop` is set.
pub fn load_within(
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
