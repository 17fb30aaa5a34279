//! The `Inspection` trait: what the station's inference step and its model swaps see of any kind of
//! inspection (the seal classifier, the electrode detector). Each kind lives in its own folder
//! (`seal/`, `electrode/`) with its config, its loader, its decision and its self-test; the station
//! holds a `Box<dyn Inspection>` and an `Arc<dyn InspectionLoader>` and never matches on the kind.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ort::session::RunOptions;

use super::electrode::align::AlignError;
use super::{InspectError, Judgement};
use crate::runtime::Provider;
use crate::runtime::Runtime;
use crate::sources::Frame;

/// A model kind, loaded, checked against its contract, warmed and self-tested: it judges parts.
pub trait Inspection: Send {
    /// The model judging parts, written into every result.
    fn identity(&self) -> &ModelIdentity;

    /// The threshold results are logged with (seal: NG probability; electrode: detection score).
    fn threshold(&self) -> f32;

    /// The self-test it passed when loaded: a failing model is tried with it while no part comes, so
    /// its alarm can clear without waiting for a part.
    fn self_test(&mut self) -> Result<(), InspectError>;

    /// Judges one fixture cycle as one batch. The outer error fails the whole batch (a model fault); an
    /// inner one only its part (its frames cannot be used, or the model gave it an unusable output).
    fn judge(&mut self, parts: &[PartFrames<'_>]) -> Result<Vec<Result<Judgement, PartError>>, InspectError>;

    /// Decode detections down to `floor` instead of the decision threshold (`None`: back to it), for a
    /// figure over every score such as AP. A kind without detections has nothing to change.
    fn decode_floor(&mut self, _floor: Option<f32>) {}
}

/// How a station makes its inspection from a model file: its start and every model swap load the
/// same way.
pub trait InspectionLoader: Send + Sync {
    /// Loads `model` (its manifest checked against the kind's contract), warms and self-tests it, every
    /// model run under `run_options` (terminated when the load overruns its deadline).
    fn load(
        &self,
        rt: &Runtime,
        model: &Path,
        run_options: Arc<RunOptions>,
    ) -> Result<Box<dyn Inspection>, InspectError>;

    /// The files of a model set, watched and swapped together (the full graph first).
    fn files(&self, model: &Path) -> Vec<PathBuf> {
        vec![model.to_path_buf()]
    }

    /// Recipe name -> reference image file, for a kind that judges against references (seal); empty
    /// for one that has none (electrode), which is then never taught.
    fn references(&self) -> BTreeMap<String, PathBuf> {
        BTreeMap::new()
    }

    /// This loader with `recipe`'s reference read from `path` instead (a taught candidate, loaded before
    /// it is renamed into place); `None` for a kind without references or an unknown recipe.
    fn with_reference(&self, _recipe: &str, _path: &Path) -> Option<Arc<dyn InspectionLoader>> {
        None
    }
}

/// The frames of one part, as the inspection gets them.
#[derive(Debug, Clone, Copy)]
pub struct PartFrames<'a> {
    /// The camera frame (the visible frame of an electrode pair).
    pub frame: &'a Frame,
    /// The electrode station's X-ray frame, as captured.
    pub xray: Option<&'a Frame>,
}

impl AsRef<Frame> for PartFrames<'_> {
    fn as_ref(&self) -> &Frame {
        self.frame
    }
}

/// Which model judged a part: written into every result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModelIdentity {
    pub name: String,
    pub version: String,
    pub sha256: String,
    pub provider: Provider,
    /// "split" (encoder + head, cached references) or "full".
    pub graph: &'static str,
}

/// Why one part of a batch was not judged; the part is rejected either way.
#[derive(Debug, thiserror::Error)]
pub enum PartError {
    /// Its frames cannot be used: the camera or the config's fault, not the model's.
    #[error("no x-ray frame for this part")]
    NoXray,
    #[error(
        "x-ray frame {}x{} and visible frame {}x{} differ and no inspection.homography is set",
        .xray.0, .xray.1, .visible.0, .visible.1
    )]
    Unaligned { xray: (u32, u32), visible: (u32, u32) },
    #[error("x-ray alignment: {0}")]
    Align(#[from] AlignError),
    /// The model gave this part an unusable output (not finite, out of range): a model fault.
    #[error("model fault for this part: {0}")]
    Model(#[source] InspectError),
    #[error("model fault: it returned fewer results than pairs")]
    MissingResult,
}

impl PartError {
    /// A fault of the model in use (alarm), rather than of the part's frames.
    pub fn is_model_fault(&self) -> bool {
        matches!(self, PartError::Model(_) | PartError::MissingResult)
    }
}
