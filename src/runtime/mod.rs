//! ONNX Runtime, loaded at run time (`ort` with `load-dynamic`), and sessions on the configured providers.
//!
//! ONNX Runtime silently falls back to the CPU when a provider cannot be used, so each provider is
//! registered on its own with `error_on_failure`, in the configured order: the first one that takes the
//! session is the one the model really runs on, and it is reported.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

mod config;

pub use config::{Provider, RuntimeConfig, TensorRtConfig, MAX_INTRA_THREADS};
use ort::environment::{Environment, GlobalThreadPoolOptions};
use ort::ep::{self, ExecutionProvider};
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;

use crate::model::vet::Vetter;
use crate::model::FilePolicy;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(
        "ONNX Runtime library not found: set runtime.library in the config or ORT_DYLIB_PATH \
         (tried: {tried}); `scripts/setup.sh` puts one in .ort/"
    )]
    LibraryMissing { tried: String },
    #[error("{path}: cannot load ONNX Runtime: {source}")]
    LibraryLoad { path: PathBuf, source: SetupError },
    #[error("{path}: no execution provider could run it: {}", one_line(.reasons))]
    NoProvider { path: PathBuf, reasons: Vec<(Provider, ProviderError)> },
}

/// Why ONNX Runtime could not be set up. The library loads once per process, so every later load
/// reports this same failure: it is shared, hence the `Arc`s.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SetupError {
    #[error("{0}")]
    Library(#[source] Arc<ort::LoadDynamicError>),
    #[error("thread pool: {0}")]
    ThreadPool(#[source] Arc<ort::Error>),
    #[error("environment: {0}")]
    Environment(#[source] Arc<ort::Error>),
}

/// Why one execution provider did not take a session.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("not built into this ONNX Runtime library")]
    NotBuiltIn,
    #[error(transparent)]
    Ort(#[from] ort::Error),
}

/// Each provider's reason, shortened to one line: `cuda: ...; cpu: ...`.
fn one_line(reasons: &[(Provider, ProviderError)]) -> String {
    reasons.iter().map(|(p, e)| format!("{p}: {}", brief(&e.to_string()))).collect::<Vec<_>>().join("; ")
}

/// The loaded runtime; one per process (ONNX Runtime's library can only be loaded once).
#[derive(Clone)]
pub struct Runtime {
    env: Environment,
    pub library: PathBuf,
    cfg: RuntimeConfig,
    files: FilePolicy,
    vetter: Option<Vetter>,
}

static LOADED: OnceLock<Result<(Environment, PathBuf), SetupError>> = OnceLock::new();

/// Where the library is: the config's path, else `ORT_DYLIB_PATH`, else `.ort/` beside the
/// executable's project (development machines), else the station image's install path.
pub fn find_library(configured: Option<&Path>) -> Result<PathBuf, RuntimeError> {
    let mut tried = Vec::new();
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = configured {
        candidates.push(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        candidates.push(PathBuf::from(p));
    }
    if let Ok(exe) = std::env::current_exe() {
        // target/{debug,release}/cellgate -> project root/.ort
        for up in exe.ancestors().skip(1).take(4) {
            candidates.push(up.join(".ort/libonnxruntime.so"));
        }
    }
    candidates.push(PathBuf::from(".ort/libonnxruntime.so"));
    candidates.push(PathBuf::from("/usr/lib/libonnxruntime.so"));
    for c in candidates {
        if c.is_file() {
            return Ok(c);
        }
        tried.push(c.display().to_string());
    }
    Err(RuntimeError::LibraryMissing { tried: tried.join(", ") })
}

impl Runtime {
    pub fn load(cfg: &RuntimeConfig, library: Option<&Path>) -> Result<Self, RuntimeError> {
        let path = find_library(library.or(cfg.library.as_deref()))?;
        let loaded = LOADED.get_or_init(|| {
            let builder = ort::init_from(&path).map_err(|e| SetupError::Library(Arc::new(e)))?;
            // One intra-op pool for every session of the process. With a pool per session, the
            // seal encoder's threads still spin for work while the head's threads start, and on a
            // 2-core box the two pools fight: p99 of an encoder+head part went from 0.9 ms to 5 ms.
            let pool = GlobalThreadPoolOptions::default()
                .with_intra_threads(cfg.intra_threads)
                .and_then(|p| p.with_inter_threads(1))
                .map_err(|e| SetupError::ThreadPool(Arc::new(e)))?;
            let env = builder
                .with_name("cellgate")
                .with_global_thread_pool(pool)
                .build()
                .map_err(|e| SetupError::Environment(Arc::new(e)))?;
            Ok((env, path.clone()))
        });
        match loaded {
            Ok((env, lib)) => Ok(Self {
                env: env.clone(),
                library: lib.clone(),
                cfg: cfg.clone(),
                files: FilePolicy::default(),
                vetter: None,
            }),
            Err(e) => Err(RuntimeError::LibraryLoad { path, source: e.clone() }),
        }
    }

    pub fn config(&self) -> &RuntimeConfig {
        &self.cfg
    }

    /// The rules every model file loaded through this runtime is read and checked under.
    pub fn with_file_policy(mut self, files: FilePolicy) -> Self {
        self.files = files;
        self
    }

    pub fn file_policy(&self) -> &FilePolicy {
        &self.files
    }

    /// Every model file loaded through this runtime is first vetted in a child process running `exe`
    /// (the station's own executable; see `model::vet`).
    pub fn with_vetting(mut self, exe: PathBuf) -> Self {
        self.vetter = Some(Vetter { exe, library: self.library.clone(), max_bytes: self.files.max_bytes });
        self
    }

    pub fn vetter(&self) -> Option<&Vetter> {
        self.vetter.as_ref()
    }

    /// Builds a session from the model's bytes (`model` names it in messages) on the first configured
    /// provider that takes it.
    pub fn session(&self, model: &Path, bytes: &[u8]) -> Result<(Session, Provider), RuntimeError> {
        let mut reasons = Vec::new();
        for &provider in &self.cfg.providers {
            match self.try_provider(bytes, provider) {
                Ok(s) => {
                    if !reasons.is_empty() {
                        log::info!("{}: runs on {provider} ({})", model.display(), one_line(&reasons));
                    }
                    return Ok((s, provider));
                }
                Err(e) => reasons.push((provider, e)),
            }
        }
        Err(RuntimeError::NoProvider { path: model.to_path_buf(), reasons })
    }

    fn try_provider(&self, model: &[u8], provider: Provider) -> Result<Session, ProviderError> {
        // A builder step's error hands the builder back (`ort::Error<SessionBuilder>`); it is not needed.
        let mut b = Session::builder(&self.env)?
            .with_no_environment_execution_providers()
            .map_err(ort::Error::from)?
            .with_optimization_level(GraphOptimizationLevel::Level3)
            .map_err(ort::Error::from)?;
        let dispatch = match provider {
            Provider::Cpu => None,
            Provider::Cuda => {
                if !ep::CUDA::is_available().unwrap_or(false) {
                    return Err(ProviderError::NotBuiltIn);
                }
                Some(ep::CUDA::default().build().error_on_failure())
            }
            Provider::Tensorrt => {
                if !ep::TensorRT::is_available().unwrap_or(false) {
                    return Err(ProviderError::NotBuiltIn);
                }
                let t = &self.cfg.tensorrt;
                Some(
                    ep::TensorRT::default()
                        .with_fp16(t.fp16)
                        .with_engine_cache(true)
                        .with_engine_cache_path(t.engine_cache.display())
                        .build()
                        .error_on_failure(),
                )
            }
        };
        if let Some(d) = dispatch {
            b = b.with_execution_providers([d]).map_err(ort::Error::from)?;
        }
        Ok(b.commit_from_memory(model)?)
    }
}

/// ONNX Runtime's provider errors carry its source location and span lines; the log and the tools
/// show one line from "[ONNXRuntimeError] : code : STATUS : " on, e.g. which library failed to load.
fn brief(reason: &str) -> String {
    let text = match reason.find("[ONNXRuntimeError]") {
        Some(at) => reason[at..].splitn(4, " : ").nth(3).unwrap_or(&reason[at..]),
        None => reason,
    };
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_provider_that_refused_is_named_with_its_reason() {
        let e = RuntimeError::NoProvider {
            path: "m.onnx".into(),
            reasons: vec![(Provider::Tensorrt, ProviderError::NotBuiltIn), (Provider::Cuda, ProviderError::NotBuiltIn)],
        };
        assert_eq!(
            e.to_string(),
            "m.onnx: no execution provider could run it: tensorrt: not built into this ONNX Runtime library; \
             cuda: not built into this ONNX Runtime library"
        );
    }

    #[test]
    fn provider_errors_are_shown_on_one_line_without_the_source_location() {
        let raw = "/onnxruntime_src/onnxruntime/core/session/provider_bridge_ort.cc:2043 onnxruntime::Provider& \
                   onnxruntime::ProviderLibrary::Get() [ONNXRuntimeError] : 1 : FAIL : Failed to load library \
                   libonnxruntime_providers_tensorrt.so with error: libnvinfer.so.10: cannot open shared object \
                   file: No such file or directory\n    ";
        assert_eq!(
            brief(raw),
            "Failed to load library libonnxruntime_providers_tensorrt.so with error: libnvinfer.so.10: cannot \
             open shared object file: No such file or directory"
        );
        assert_eq!(brief("not built into this\nlibrary"), "not built into this library");
    }
}
