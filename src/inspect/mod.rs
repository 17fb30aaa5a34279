//! Preprocess -> infer -> decide: from frames to a verdict per part. Each kind of inspection is a folder
//! (`seal/`, `electrode/`) behind the `Inspection` trait (`inspection`), its config one variant of
//! `InspectionConfig` (`config`).

pub mod config;
pub mod decision;
pub mod electrode;
mod inspection;
pub mod output_check;
pub mod plausibility;
pub mod preprocess;
pub mod reference_similarity;
pub mod seal;
pub mod synthetic;

pub use config::InspectionConfig;
pub use inspection::{Inspection, InspectionLoader, Judgement, ModelIdentity, PartError, PartFrames};

use crate::model::manifest::{Contract, Task};
use crate::model::ModelError;
use crate::sources::replay::ReplayError;
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
    #[error("recipe '{0}' has no reference image configured")]
    UnknownRecipe(String),
    #[error("inference failed: {0}")]
    Run(String),
    #[error("model output is unusable: {0}")]
    Output(String),
    #[error("self-test failed: {0}")]
    SelfTest(String),
}

fn run_err(e: impl std::fmt::Display) -> InspectError {
    InspectError::Run(e.to_string())
}
