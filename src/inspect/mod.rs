//! Preprocess -> infer -> decide: from frames to a verdict per part.

pub mod align;
pub mod decision;
pub mod defect_rules;
pub mod electrode;
pub mod output_check;
pub mod plausibility;
pub mod preprocess;
pub mod reference_similarity;
pub mod seal;
pub mod self_test;
pub mod synthetic;

use crate::model::ModelError;
use crate::sources::replay::ReplayError;
use preprocess::PreprocessError;

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
