//! The seal inspection: the Siamese classifier (`classifier`) scores each part's seal edge against its
//! recipe's reference, and a part is NG when its NG probability reaches the threshold (`inspection`).
//! `config` is the `inspection` section of a seal station; `self_test` the check every model passes.

mod classifier;
mod config;
mod contract;
mod inspection;
mod self_test;

use std::path::{Path, PathBuf};

pub use classifier::SealClassifier;
pub use config::{RecipeConfig, SealConfig};
pub use contract::SealContract;
use inspection::SealLoader;

/// `<stem>.<role>.onnx` beside the full model.
pub fn companion(full: &Path, role: &str) -> PathBuf {
    let stem = full.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    full.with_file_name(format!("{stem}.{role}.onnx"))
}
