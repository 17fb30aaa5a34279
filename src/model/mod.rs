//! Loading a model file per the DESIGN contract: session on a provider, manifest from the metadata,
//! manifest checked against the graph and the task. A model that fails any check is refused with the reason.

mod config;
pub mod external_data;
pub mod file;
mod image_input;
pub mod integrity;
pub mod manifest;
pub mod store;
pub mod vet;
pub mod watch;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ort::session::Session;
use ort::value::ValueType;
use sha2::{Digest, Sha256};

use crate::runtime::{Provider, Runtime, RuntimeError};
pub use config::ModelUpdatesConfig;
pub use manifest::{Contract, GraphRole, Manifest, ManifestError, Task};
use manifest::{GraphTensor, METADATA_KEY};

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    File(#[from] file::FileError),
    #[error(transparent)]
    Integrity(#[from] integrity::IntegrityError),
    #[error("{path}: {source}")]
    ExternalData { path: PathBuf, source: external_data::ExternalDataError },
    #[error("{path}: ONNX Runtime refused it: {source}")]
    Session { path: PathBuf, source: RuntimeError },
    #[error("{path}: {source}")]
    Manifest { path: PathBuf, source: ManifestError },
    #[error(
        "{path}: not the file that was vetted (changed since, or refused by its vetting); waiting for the next write"
    )]
    NotVetted { path: PathBuf },
    #[error("{path}: cannot read its metadata: {reason}")]
    Metadata { path: PathBuf, reason: String },
}

/// What a station accepts as a model file, checked on every load: at start, at each swap, after a
/// rollback, so a restart never loads what a swap would refuse.
#[derive(Debug, Clone)]
pub struct FilePolicy {
    /// `None`: sidecars not checked (`models inspect` without a station config, which has no key).
    pub integrity: Option<integrity::IntegrityPolicy>,
    /// Largest file read (`model_updates.max_model_bytes`).
    pub max_bytes: u64,
    /// Files vetted in a child process for this load, with the SHA-256 each had then (`model::vet`):
    /// any other file, or one whose bytes changed since, is refused before a session is built from it.
    /// `None`: no vetting.
    pub vetted: Option<BTreeMap<PathBuf, String>>,
}

impl Default for FilePolicy {
    fn default() -> Self {
        Self { integrity: Some(integrity::IntegrityPolicy::default()), max_bytes: 256 * 1024 * 1024, vetted: None }
    }
}

impl FilePolicy {
    /// Reads `path` as the policy allows (a regular file, bounded) and checks its sidecars when it asks;
    /// returns the file's SHA-256. Done before a file is vetted or loaded, so the bytes of an unsigned
    /// file never reach ONNX Runtime, not even in the vetting child.
    pub fn admit(&self, path: &Path) -> Result<String, ModelError> {
        let bytes = file::read_regular(path, self.max_bytes)?;
        if let Some(p) = &self.integrity {
            integrity::check(path, &bytes, p)?;
        }
        Ok(integrity::hex(&Sha256::digest(&bytes)))
    }
}

/// A model that passed every check, with the session it runs in.
pub struct LoadedModel {
    pub session: Session,
    pub manifest: Manifest,
    pub provider: Provider,
    pub path: PathBuf,
    /// SHA-256 of the file, recorded with every result it judges.
    pub sha256: String,
    /// What its sidecars proved (hash, signature); `None` when the policy did not check them.
    pub integrity: Option<integrity::Integrity>,
    pub inputs: Vec<GraphTensor>,
    pub outputs: Vec<GraphTensor>,
}

impl LoadedModel {
    /// Loads `path` and checks it keeps `contract` (a model of that kind) for the `role` graph.
    pub fn load(rt: &Runtime, path: &Path, contract: &dyn Contract, role: GraphRole) -> Result<Self, ModelError> {
        let m = Self::open(rt, path)?;
        m.manifest
            .check_contract(contract, role)
            .map_err(|source| ModelError::Manifest { path: path.to_path_buf(), source })?;
        Ok(m)
    }

    /// Loads a model and checks its manifest against its own graph, whatever its task. The file is
    /// read once, under the runtime's file policy (regular file, size, integrity, no external data), and
    /// the session is made from exactly the bytes that were checked.
    pub fn open(rt: &Runtime, path: &Path) -> Result<Self, ModelError> {
        let policy = rt.file_policy();
        let bytes = file::read_regular(path, policy.max_bytes)?;
        let integrity = match &policy.integrity {
            Some(p) => Some(integrity::check(path, &bytes, p)?),
            None => None,
        };
        let sha256 = integrity::hex(&Sha256::digest(&bytes));
        if let Some(vetted) = &policy.vetted {
            if vetted.get(path) != Some(&sha256) {
                return Err(ModelError::NotVetted { path: path.to_path_buf() });
            }
        }
        let ext = |source| ModelError::ExternalData { path: path.to_path_buf(), source };
        // Not understood by this walk: ONNX Runtime's parser has the last word, unless it accepts it.
        let malformed = match external_data::check(&bytes) {
            Err(e @ external_data::ExternalDataError::External(_)) => return Err(ext(e)),
            Err(e) => Some(e),
            Ok(()) => None,
        };
        let (session, provider) =
            rt.session(path, &bytes).map_err(|source| ModelError::Session { path: path.to_path_buf(), source })?;
        if let Some(e) = malformed {
            return Err(ext(e));
        }
        let meta_err = |reason: String| ModelError::Metadata { path: path.to_path_buf(), reason };
        let json = session
            .metadata()
            .map_err(|e| meta_err(e.to_string()))?
            .custom(METADATA_KEY)
            .ok_or(ModelError::Manifest { path: path.to_path_buf(), source: ManifestError::Missing })?;
        let manifest =
            Manifest::parse(&json).map_err(|source| ModelError::Manifest { path: path.to_path_buf(), source })?;
        let describe = |outlets: &[ort::value::Outlet]| -> Vec<GraphTensor> {
            outlets
                .iter()
                .map(|o| match o.dtype() {
                    ValueType::Tensor { ty, shape, .. } => GraphTensor {
                        name: o.name().to_string(),
                        shape: shape.iter().copied().collect(),
                        is_f32: *ty == ort::value::TensorElementType::Float32,
                    },
                    _ => GraphTensor { name: o.name().to_string(), shape: vec![], is_f32: false },
                })
                .collect()
        };
        let inputs = describe(session.inputs());
        let outputs = describe(session.outputs());
        manifest
            .check_graph(&inputs, &outputs)
            .map_err(|source| ModelError::Manifest { path: path.to_path_buf(), source })?;
        Ok(Self { session, manifest, provider, path: path.to_path_buf(), sha256, integrity, inputs, outputs })
    }

    /// `name version` as written into results.
    pub fn label(&self) -> String {
        format!("{} {}", self.manifest.name, self.manifest.version)
    }
}

/// SHA-256 of a model file, read under `policy` (a FIFO or a device is refused, not read).
pub fn file_sha256(path: &Path, max_bytes: u64) -> Result<String, file::FileError> {
    Ok(integrity::hex(&Sha256::digest(file::read_regular(path, max_bytes)?)))
}
