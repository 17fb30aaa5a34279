//! The electrode inspection: an aligned visible + X-ray pair through the dual-stream detector
//! (`detector`), its outputs decoded (`decode`) as DESIGN.md fixes it (score = max class probability,
//! keep scores over the threshold, class-wise NMS, boxes back in frame pixels, the segmentation argmax
//! as per-class defect area), the decoded defects judged by the configured per-class rules (`rules`),
//! which name the outputs to fire (`inspection`). `align` maps the X-ray frame onto the visible one;
//! `config` is the `inspection` section of an electrode station.

pub mod align;
mod config;
mod contract;
mod decode;
mod detector;
mod inspection;
pub mod rules;
mod self_test;

use crate::model::manifest::ELECTRODE_LABELS;
pub use config::ElectrodeConfig;
pub use contract::ElectrodeContract;
pub use decode::{argmax_counts, iou, Detection, ElectrodeResult};
pub use detector::{ElectrodeDetector, RawOutputs, RawView};
pub use inspection::align_xray;
use inspection::ElectrodeLoader;

/// Defect classes the detector knows.
const C: usize = ELECTRODE_LABELS.len();
