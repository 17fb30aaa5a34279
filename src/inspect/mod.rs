//! Preprocess -> infer -> decide: from frames to a verdict per part.

pub mod align;
pub mod decision;
pub mod defect_rules;
pub mod electrode;
pub mod preprocess;
pub mod seal;
