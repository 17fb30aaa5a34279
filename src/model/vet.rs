//! Vetting a model file in a disposable child process before the station loads it.
//!
//! ONNX Runtime builds a session (graph optimisation, constant folding) in one call that cannot be
//! interrupted, and a file of a few hundred bytes can make that call run for hours. In-process, the load
//! is abandoned at its deadline but its thread keeps a core busy. So the station first has this same
//! executable (`cellgate models vet FILE`) build the session on the CPU and check the manifest against the
//! graph; at the deadline that process is killed, and the file is loaded in-process only after it passed.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the wait looks at the child and the stop flag.
const POLL: Duration = Duration::from_millis(20);

/// The first word of the line `models vet` prints: `vetted <sha256>` or `refused <reason>`.
pub const PASSED: &str = "vetted";
pub const REFUSED: &str = "refused";

/// How to vet: the station's own executable and what the child needs to build a session like the
/// station does (the ONNX Runtime library, the file size limit).
#[derive(Debug, Clone)]
pub struct Vetter {
    pub exe: PathBuf,
    pub library: PathBuf,
    pub max_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum VetError {
    #[error("{path}: cannot start the vetting process {exe}: {source}")]
    Spawn { path: PathBuf, exe: PathBuf, source: std::io::Error },
    #[error("{path}: its session was not built within {ms} ms (model_updates.load_timeout_ms): refused, the vetting process killed")]
    Timeout { path: PathBuf, ms: u128 },
    #[error("{path}: vetting abandoned: the station is stopping")]
    Stopped { path: PathBuf },
    /// The child refused the file: its last error line is the reason.
    #[error("{reason}")]
    Refused { reason: String },
    #[error("{path}: the vetting process ended without a verdict ({status})")]
    NoVerdict { path: PathBuf, status: String },
}

impl Vetter {
    /// Builds `model`'s session in a child process, killed after `limit` or once `stop` is set. Returns the
    /// SHA-256 of the file the child read, so the caller can check it loads the same bytes.
    pub fn vet(&self, model: &Path, limit: Duration, stop: Option<&AtomicBool>) -> Result<String, VetError> {
        let path = model.to_path_buf();
        let mut child = Command::new(&self.exe)
            .args(["models", "vet"])
            .arg(model)
            .arg("--library")
            .arg(&self.library)
            .arg("--max-bytes")
            .arg(self.max_bytes.to_string())
            .env("RUST_LOG", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| VetError::Spawn { path: path.clone(), exe: self.exe.clone(), source })?;
        log::info!(
            "{}: vetting in a child process (pid {}), at most {} ms",
            path.display(),
            child.id(),
            limit.as_millis()
        );
        // Drained while it runs, so a chatty child never blocks on a full pipe.
        let out = drain(child.stdout.take());
        let err = drain(child.stderr.take());
        let deadline = Instant::now() + limit;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) => {}
                Err(e) => {
                    end(&mut child);
                    return Err(VetError::NoVerdict { path, status: e.to_string() });
                }
            }
            if stop.is_some_and(|s| s.load(Ordering::SeqCst)) {
                end(&mut child);
                return Err(VetError::Stopped { path });
            }
            if Instant::now() >= deadline {
                end(&mut child);
                return Err(VetError::Timeout { path, ms: limit.as_millis() });
            }
            std::thread::sleep(POLL);
        };
        let (out, err) = (joined(out), joined(err));
        for line in out.lines() {
            match line.split_once(' ') {
                Some((PASSED, sha)) if status.success() => return Ok(sha.trim().to_string()),
                Some((REFUSED, reason)) => return Err(VetError::Refused { reason: reason.trim().to_string() }),
                _ => {}
            }
        }
        // Crashed (e.g. ONNX Runtime aborted on the file): what it said last is the best reason there is.
        let said = err.lines().rev().map(str::trim).find(|l| !l.is_empty()).unwrap_or("nothing");
        Err(VetError::NoVerdict { path, status: format!("{status}; it said: {said}") })
    }
}

/// This executable, which vets model files for the station it runs (`models vet` in a child process).
/// Without it a load past its deadline is still refused, but leaves a thread busy until ONNX Runtime
/// returns.
pub fn this_exe() -> Option<PathBuf> {
    // /proc/self/exe is the running image even after an upgrade replaced the file on disk (whose old
    // path then reads "... (deleted)"); current_exe() is the fallback where /proc is not mounted.
    let own = PathBuf::from("/proc/self/exe");
    if own.exists() {
        return Some(own);
    }
    match std::env::current_exe() {
        Ok(exe) => Some(exe),
        Err(e) => {
            log::warn!("cannot find this executable ({e}): model files are not vetted in a child process");
            None
        }
    }
}

/// Kills and reaps the child (no zombie is left behind).
fn end(child: &mut Child) {
    if let Err(e) = child.kill() {
        log::warn!("cannot kill the vetting process {}: {e}", child.id());
    }
    let _ = child.wait();
}

/// Reads a pipe to its end on its own thread (the pipe ends when the child does, killed or not).
fn drain(pipe: Option<impl Read + Send + 'static>) -> Option<JoinHandle<String>> {
    let mut p = pipe?;
    std::thread::Builder::new()
        .name("model-vet-pipe".into())
        .spawn(move || {
            let mut bytes = Vec::new();
            let _ = p.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
        .ok()
}

fn joined(h: Option<JoinHandle<String>>) -> String {
    h.and_then(|h| h.join().ok()).unwrap_or_default()
}
