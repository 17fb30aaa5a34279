//! The manifest every model carries in its ONNX metadata (`cellgate.manifest`), and its checks against
//! the graph ONNX Runtime actually loaded.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::image_input::check_image_input;
pub use super::image_input::ImageInputError;

pub const METADATA_KEY: &str = "cellgate.manifest";

/// Thresholds a manifest may set (seal `ng`, electrode `score`): a model file cannot move the decision
/// to where it passes every part (1.0) or rejects every part (0.0). The station's config may pin the
/// threshold anywhere in 0..1 instead (`inspection.threshold`, `inspection.score_threshold`).
pub const THRESHOLD_BAND: (f32, f32) = (0.05, 0.95);

/// Overlap above which the electrode decoder drops the weaker of two boxes of a class.
pub const NMS_IOU_BAND: (f32, f32) = (0.1, 0.9);

/// Largest height or width a model's image input may declare: far above any crop a line camera gives
/// this station, and it bounds what a model file makes the station allocate per part.
pub const MAX_IMAGE_SIDE: i64 = 8192;

/// Largest seal embedding (values per part) a model may declare, for the same reason.
pub const MAX_EMBEDDING_VALUES: usize = 1 << 24;

/// The electrode detector's classes, in the output order DESIGN.md fixes.
pub const ELECTRODE_LABELS: [&str; 5] = ["scratch", "dark_spot", "foreign_object", "inclusion", "crack"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    SealClassifier,
    ElectrodeDetector,
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Task::SealClassifier => "seal_classifier",
            Task::ElectrodeDetector => "electrode_detector",
        })
    }
}

/// Which graph of a model family a file holds (the seal classifier ships a full graph and an
/// encoder/head pair with the same weights).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum GraphRole {
    #[default]
    Full,
    Encoder,
    Head,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Colour {
    Rgb,
    Gray,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Resize {
    /// Stretch to the input size with a bilinear filter.
    Bilinear,
}

/// One dimension: `"N"` (the batch) or a fixed size.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Dim {
    Fixed(i64),
    Named(String),
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TensorSpec {
    pub name: String,
    pub shape: Vec<Dim>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colour: Option<Colour>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<Vec<f32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub std: Option<Vec<f32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resize: Option<Resize>,
}

impl TensorSpec {
    /// Fixed dimensions after the batch (`None` where the manifest names one).
    pub fn fixed_dims(&self) -> Vec<Option<i64>> {
        self.shape
            .iter()
            .skip(1)
            .map(|d| match d {
                Dim::Fixed(v) => Some(*v),
                Dim::Named(_) => None,
            })
            .collect()
    }

    /// Values per batch item, when every dimension after the batch is fixed and positive.
    pub fn fixed_len(&self) -> Option<usize> {
        self.fixed_dims()
            .into_iter()
            .try_fold(1usize, |n, d| n.checked_mul(usize::try_from(d?).ok().filter(|&d| d > 0)?))
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Manifest {
    pub task: Task,
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub graph: GraphRole,
    pub inputs: Vec<TensorSpec>,
    pub outputs: Vec<TensorSpec>,
    pub labels: Vec<String>,
    pub thresholds: BTreeMap<String, f32>,
    /// Hash of the weights: the encoder/head pair must carry the full graph's.
    #[serde(default)]
    pub weights_sha256: Option<String>,
    /// Everything else (training data, metrics, architecture) is kept for `models inspect`.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("no '{METADATA_KEY}' entry in the model's metadata: not a cellgate model")]
    Missing,
    #[error("manifest is not valid: {0}")]
    Malformed(String),
    #[error("manifest says task '{found}', this inspection needs '{wanted}'")]
    WrongTask { wanted: Task, found: Task },
    #[error("manifest says graph '{found:?}', expected '{wanted:?}'")]
    WrongGraph { wanted: GraphRole, found: GraphRole },
    #[error("manifest and graph disagree: {0}")]
    GraphMismatch(String),
    #[error("manifest breaks the {task} contract: {problem}")]
    Contract { task: Task, problem: String },
    #[error("manifest breaks the {task} contract: {source}")]
    Threshold { task: Task, source: ThresholdError },
    #[error("manifest breaks the {task} contract: {source}")]
    ImageInput { task: Task, source: ImageInputError },
}

/// What a model kind's manifest must declare for each graph role (DESIGN.md), beyond what every model
/// declares: each inspection kind has its own (`inspect/<kind>/contract.rs`).
pub trait Contract: Sync {
    /// The `task` its manifests name.
    fn task(&self) -> Task;

    /// The kind's own rules, for the graph role the file holds.
    fn check(&self, manifest: &Manifest, role: GraphRole) -> Result<(), ManifestError>;
}

/// A decision threshold the contract needs, missing or outside its band.
#[derive(Debug, thiserror::Error)]
pub enum ThresholdError {
    #[error("thresholds.{key} {value} is outside {lo}..{hi}: refused")]
    OutOfBand { key: &'static str, value: f32, lo: f32, hi: f32 },
    #[error("thresholds.{key} is missing")]
    Missing { key: &'static str },
}

/// What the graph declares for one tensor, as ONNX Runtime reports it (-1 for a dynamic dimension).
#[derive(Debug, Clone)]
pub struct GraphTensor {
    pub name: String,
    pub shape: Vec<i64>,
    pub is_f32: bool,
}

impl Manifest {
    pub fn parse(json: &str) -> Result<Self, ManifestError> {
        let de = &mut serde_json::Deserializer::from_str(json);
        let m: Self = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            ManifestError::Malformed(format!("{path}: {}", e.into_inner()))
        })?;
        // A tensor named twice is ambiguous: which spec does the graph's tensor follow? (found by fuzzing)
        for (side, specs) in [("inputs", &m.inputs), ("outputs", &m.outputs)] {
            if let Some((i, s)) = specs.iter().enumerate().find(|(i, s)| specs[..*i].iter().any(|t| t.name == s.name)) {
                return Err(ManifestError::Malformed(format!("{side}[{i}]: '{}' is named twice", s.name)));
            }
        }
        Ok(m)
    }

    pub fn input(&self, name: &str) -> Option<&TensorSpec> {
        self.inputs.iter().find(|t| t.name == name)
    }

    pub fn output(&self, name: &str) -> Option<&TensorSpec> {
        self.outputs.iter().find(|t| t.name == name)
    }

    /// Checks the manifest against the loaded graph: same tensor names, ranks, fixed sizes, float32.
    pub fn check_graph(&self, inputs: &[GraphTensor], outputs: &[GraphTensor]) -> Result<(), ManifestError> {
        check_side("input", &self.inputs, inputs)?;
        check_side("output", &self.outputs, outputs)
    }

    /// Checks a kind's contract (DESIGN.md) for the graph role the file holds: the task and role the
    /// file says, every input batched first, then the kind's own rules.
    pub fn check_contract(&self, contract: &dyn Contract, role: GraphRole) -> Result<(), ManifestError> {
        let task = contract.task();
        if self.task != task {
            return Err(ManifestError::WrongTask { wanted: task, found: self.task });
        }
        if self.graph != role {
            return Err(ManifestError::WrongGraph { wanted: role, found: self.graph });
        }
        for spec in &self.inputs {
            if spec.shape.first() != Some(&Dim::Named("N".into())) {
                return Err(ManifestError::Contract {
                    task,
                    problem: format!("input '{}' must have the batch 'N' first", spec.name),
                });
            }
        }
        contract.check(self, role)
    }

    /// One image input of a kind's contract, with `channels` channels.
    pub fn check_image_input(&self, task: Task, name: &str, channels: i64) -> Result<&TensorSpec, ManifestError> {
        let spec = self
            .input(name)
            .ok_or_else(|| ManifestError::Contract { task, problem: format!("input '{name}' is missing") })?;
        check_image_input(spec, channels).map_err(|source| ManifestError::ImageInput { task, source })?;
        Ok(spec)
    }

    /// A decision threshold of a kind's contract: in its band, and present when `required`.
    pub fn check_threshold(
        &self,
        task: Task,
        key: &'static str,
        (lo, hi): (f32, f32),
        required: bool,
    ) -> Result<(), ManifestError> {
        let source = match self.thresholds.get(key) {
            Some(t) if (lo..=hi).contains(t) => return Ok(()),
            Some(&value) => ThresholdError::OutOfBand { key, value, lo, hi },
            None if required => ThresholdError::Missing { key },
            None => return Ok(()),
        };
        Err(ManifestError::Threshold { task, source })
    }

    pub fn threshold(&self, key: &str) -> Option<f32> {
        self.thresholds.get(key).copied()
    }
}

fn check_side(side: &str, specs: &[TensorSpec], graph: &[GraphTensor]) -> Result<(), ManifestError> {
    let mismatch = |m: String| Err(ManifestError::GraphMismatch(m));
    let mut want: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    let mut have: Vec<&str> = graph.iter().map(|g| g.name.as_str()).collect();
    want.sort_unstable();
    have.sort_unstable();
    if want != have {
        return mismatch(format!("{side}s: manifest {want:?}, graph {have:?}"));
    }
    for g in graph {
        let Some(s) = specs.iter().find(|s| s.name == g.name) else {
            continue;
        };
        if !g.is_f32 {
            return mismatch(format!("{side} '{}' is not float32 in the graph", g.name));
        }
        if s.shape.len() != g.shape.len() {
            return mismatch(format!(
                "{side} '{}': manifest rank {}, graph rank {}",
                g.name,
                s.shape.len(),
                g.shape.len()
            ));
        }
        for (i, (d, &gd)) in s.shape.iter().zip(&g.shape).enumerate() {
            if let Dim::Fixed(v) = d {
                if gd >= 0 && gd != *v {
                    return mismatch(format!("{side} '{}' dim {i}: manifest {v}, graph {gd}", g.name));
                }
            }
        }
    }
    Ok(())
}
