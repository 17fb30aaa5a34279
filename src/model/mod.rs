//! Loading a model file per the DESIGN contract: session on a provider, manifest from the metadata,
//! manifest checked against the graph and the task. A model that fails any check is refused with the reason.

pub mod integrity;
pub mod manifest;
pub mod store;
pub mod watch;

use std::io::Read;
use std::path::{Path, PathBuf};

use ort::session::Session;
use ort::value::ValueType;
use sha2::{Digest, Sha256};

use crate::config::Provider;
use crate::runtime::{Runtime, RuntimeError};
pub use manifest::{GraphRole, Manifest, ManifestError, Task};
use manifest::{GraphTensor, METADATA_KEY};

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{path}: cannot read: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: ONNX Runtime refused it: {source}")]
    Session { path: PathBuf, source: RuntimeError },
    #[error("{path}: {source}")]
    Manifest { path: PathBuf, source: ManifestError },
    #[error("{path}: cannot read its metadata: {reason}")]
    Metadata { path: PathBuf, reason: String },
}

/// A model that passed every check, with the session it runs in.
pub struct LoadedModel {
    pub session: Session,
    pub manifest: Manifest,
    pub provider: Provider,
    pub path: PathBuf,
    /// SHA-256 of the file, recorded with every result it judges.
    pub sha256: String,
    pub inputs: Vec<GraphTensor>,
    pub outputs: Vec<GraphTensor>,
}

impl LoadedModel {
    /// Loads `path` and checks it is a `task` model holding the `role` graph.
    pub fn load(rt: &Runtime, path: &Path, task: Task, role: GraphRole) -> Result<Self, ModelError> {
        let m = Self::open(rt, path)?;
        m.manifest
            .check_contract(task, role)
            .map_err(|source| ModelError::Manifest { path: path.to_path_buf(), source })?;
        Ok(m)
    }

    /// Loads a model and checks its manifest against its own graph, whatever its task.
    pub fn open(rt: &Runtime, path: &Path) -> Result<Self, ModelError> {
        let sha256 = file_sha256(path).map_err(|source| ModelError::Read { path: path.to_path_buf(), source })?;
        let (session, provider) =
            rt.session(path).map_err(|source| ModelError::Session { path: path.to_path_buf(), source })?;
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
        Ok(Self { session, manifest, provider, path: path.to_path_buf(), sha256, inputs, outputs })
    }

    /// `name version` as written into results.
    pub fn label(&self) -> String {
        format!("{} {}", self.manifest.name, self.manifest.version)
    }
}

pub fn file_sha256(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(integrity::hex(&h.finalize()))
}
