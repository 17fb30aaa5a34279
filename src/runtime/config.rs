//! `runtime`: ONNX Runtime's library, execution providers and session threads.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::key_problem::{bad, KeyProblem};

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
    /// FP16 engines.
    #[serde(default = "default_fp16")]
    pub fp16: bool,
}

impl Default for TensorRtConfig {
    fn default() -> Self {
        Self { engine_cache: default_engine_cache(), fp16: true }
    }
}

fn default_fp16() -> bool {
    true
}

fn default_engine_cache() -> PathBuf {
    PathBuf::from("/var/lib/cellgate/trt-cache")
}

impl RuntimeConfig {
    /// Checks the section; a relative `library` is taken from `base_dir` (the config file's folder).
    pub fn validate(&self, base_dir: &Path) -> Result<(), KeyProblem> {
        if self.providers.is_empty() {
            return bad("runtime.providers", "needs at least one provider (e.g. [\"cpu\"])");
        }
        if !(1..=MAX_INTRA_THREADS).contains(&self.intra_threads) {
            return bad("runtime.intra_threads", format!("{} is outside 1..={MAX_INTRA_THREADS}", self.intra_threads));
        }
        if let Some(lib) = &self.library {
            let lib = base_dir.join(lib);
            if !lib.is_file() {
                return bad("runtime.library", format!("{} is not a file", lib.display()));
            }
        }
        Ok(())
    }

    /// The library and the engine cache as the config means them: relative paths from `base_dir` (the
    /// config file's folder), not from wherever the station was started (`/` under systemd).
    pub fn resolve_paths(&mut self, base_dir: &Path) {
        if let Some(lib) = &mut self.library {
            *lib = base_dir.join(&*lib);
        }
        self.tensorrt.engine_cache = base_dir.join(&self.tensorrt.engine_cache);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> RuntimeConfig {
        serde_json::from_str(json).expect("runtime section")
    }

    #[test]
    fn an_empty_section_takes_the_documented_defaults() {
        let c = parse("{}");
        assert_eq!(c.providers, vec![Provider::Tensorrt, Provider::Cuda, Provider::Cpu]);
        assert_eq!((c.library, c.intra_threads), (None, 2));
        assert_eq!(c.tensorrt.engine_cache, Path::new("/var/lib/cellgate/trt-cache"));
        assert!(c.tensorrt.fp16);
        assert_eq!(parse("{}").validate(Path::new("/")), Ok(()));
    }

    #[test]
    fn each_bad_value_names_its_key() {
        let key = |json: &str| parse(json).validate(Path::new("/")).map_err(|p| p.key);
        assert_eq!(key(r#"{"providers": []}"#), Err("runtime.providers".into()));
        assert_eq!(key(r#"{"intra_threads": 0}"#), Err("runtime.intra_threads".into()));
        assert_eq!(key(r#"{"intra_threads": 65}"#), Err("runtime.intra_threads".into()));
        assert_eq!(key(r#"{"library": "no-such-lib.so"}"#), Err("runtime.library".into()));
        assert!(serde_json::from_str::<RuntimeConfig>(r#"{"threads": 2}"#).is_err(), "unknown key taken");
    }

    #[test]
    fn relative_paths_are_taken_from_the_configs_folder() {
        let mut c = parse(r#"{"library": "ort/libonnxruntime.so", "tensorrt": {"engine_cache": "trt"}}"#);
        c.resolve_paths(Path::new("/etc/cellgate"));
        assert_eq!(c.library.as_deref(), Some(Path::new("/etc/cellgate/ort/libonnxruntime.so")));
        assert_eq!(c.tensorrt.engine_cache, Path::new("/etc/cellgate/trt"));
        let mut absolute = parse(r#"{"library": "/usr/lib/libonnxruntime.so"}"#);
        absolute.resolve_paths(Path::new("/etc/cellgate"));
        assert_eq!(absolute.library.as_deref(), Some(Path::new("/usr/lib/libonnxruntime.so")));
    }
}
