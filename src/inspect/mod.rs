//! Preprocess -> infer -> decide: from frames to a verdict per part. Each kind of inspection is a folder
//! (`seal/`, `electrode/`) behind the `Inspection` trait (`inspection`), its config one variant of
//! `InspectionConfig` (`config`).

pub mod active_recipe;
pub mod config;
pub mod decision;
pub mod electrode;
mod grey_samples;
mod inspection;
mod judgement;
pub mod output_check;
pub mod plausibility;
pub mod preprocess;
pub mod qualification;
pub mod reference_similarity;
pub mod seal;
pub mod synthetic;
#[cfg(test)]
pub(crate) mod test_model;

pub use config::InspectionConfig;
pub use inspection::{Inspection, InspectionLoader, ModelIdentity, PartError, PartFrames};
pub use judgement::{Judgement, StageLatency};

use crate::model::manifest::{Contract, Task};
use crate::model::ModelError;
use crate::sources::replay::ReplayError;
use output_check::OutputError;
use preprocess::PreprocessError;

/// The model contract of the kind a manifest's `task` names.
pub fn contract(task: Task) -> &'static dyn Contract {
    match task {
        Task::SealClassifier => &seal::SealContract,
        Task::ElectrodeDetector => &electrode::ElectrodeContract,
    }
}

/// Why an inspection (seal or electrode) could not judge a part or could not start.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Preprocess(#[from] PreprocessError),
    #[error("reference of recipe '{recipe}': {source}")]
    Reference { recipe: String, source: ReplayError },
    /// The reference file read for its SHA-256 (what each part's record names).
    #[error("reference of recipe '{recipe}': {source}")]
    ReferenceFile { recipe: String, source: crate::model::file::FileError },
    #[error("recipe '{0}' has no reference image configured")]
    UnknownRecipe(String),
    #[error("inference failed: {0}")]
    Run(#[from] ort::Error),
    #[error("model output is unusable: {0}")]
    Output(#[from] OutputError),
    #[error("self-test failed: {0}")]
    SelfTest(#[from] SelfTestError),
    /// Boxed: the figures make it the largest variant, and every inference result carries this type.
    #[error(transparent)]
    Qualification(Box<qualification::QualificationError>),
}

impl From<qualification::QualificationError> for InspectError {
    fn from(e: qualification::QualificationError) -> Self {
        InspectError::Qualification(Box::new(e))
    }
}

/// How a model failed the self-test it must pass before it judges a part.
#[derive(Debug, thiserror::Error)]
pub enum SelfTestError {
    #[error("the reference judged against itself is NG (p_ng {p_ng:.4}, threshold {threshold})")]
    ReferenceNg { p_ng: f32, threshold: f32 },
    #[error(
        "a {defect} drawn on the reference is judged OK (p_ng {p_ng:.4}, threshold {threshold}): this model \
         does not tell a defect from a good seal"
    )]
    DefectOk { defect: &'static str, p_ng: f32, threshold: f32 },
    #[error(
        "of {drawn} defects drawn on a blank sheet it found {} ({found:?}) at score threshold {threshold}; at \
         least {min} must be found: this model does not find defects",
        .found.len()
    )]
    DefectsMissed { drawn: usize, found: Vec<&'static str>, threshold: f32, min: usize },
}
