//! `runtime`: ONNX Runtime's library, execution providers and session threads.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

use super::{bad, default_true, KeyProblem, StationConfig};

/// ONNX Runtime intra-op threads: more than this is a typo, not a machine.
pub const MAX_INTRA_THREADS: usize = 64;

/// ONNX Runtime: where its library is and how sessions are built.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Path of `libonnxruntime.so`; when absent, `ORT_DYLIB_PATH`, then the project-local `.ort/`.
    #[serde(default)]
    pub library: Option<PathBuf>,
    /// Execution providers tried in order; the first that registers runs the model.
    #[serde(default = "default_providers")]
    pub providers: Vec<Provider>,
    /// Intra-op threads of the one thread pool every session shares (0 = ONNX Runtime's choice).
    #[serde(default = "default_intra_threads")]
    pub intra_threads: usize,
    #[serde(default)]
    pub tensorrt: TensorRtConfig,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            library: None,
            providers: default_providers(),
            intra_threads: default_intra_threads(),
            tensorrt: TensorRtConfig::default(),
        }
    }
}

fn default_providers() -> Vec<Provider> {
    vec![Provider::Tensorrt, Provider::Cuda, Provider::Cpu]
}

fn default_intra_threads() -> usize {
    2
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Tensorrt,
    Cuda,
    Cpu,
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Provider::Tensorrt => "tensorrt",
            Provider::Cuda => "cuda",
            Provider::Cpu => "cpu",
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TensorRtConfig {
    /// Where built engines are cached (building one can take minutes on a Jetson).
    #[serde(default = "default_engine_cache")]
    pub engine_cache: PathBuf,
    #[serde(default = "default_true")]
    pub fp16: bool,
}

impl Default for TensorRtConfig {
    fn default() -> Self {
        Self { engine_cache: default_engine_cache(), fp16: true }
    }
}

fn default_engine_cache() -> PathBuf {
    PathBuf::from("/var/lib/cellgate/trt-cache")
}

impl RuntimeConfig {
    pub(super) fn validate(&self, cfg: &StationConfig) -> Result<(), KeyProblem> {
        if self.providers.is_empty() {
            return bad("runtime.providers", "needs at least one provider (e.g. [\"cpu\"])");
        }
        if !(1..=MAX_INTRA_THREADS).contains(&self.intra_threads) {
            return bad("runtime.intra_threads", format!("{} is outside 1..={MAX_INTRA_THREADS}", self.intra_threads));
        }
        if let Some(lib) = &self.library {
            let lib = cfg.resolve(lib);
            if !lib.is_file() {
                return bad("runtime.library", format!("{} is not a file", lib.display()));
            }
        }
        Ok(())
    }
}
