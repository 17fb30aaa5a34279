//! Preprocess -> infer -> decide: from frames to a verdict per part.

pub mod decision;
pub mod preprocess;
pub mod seal;
