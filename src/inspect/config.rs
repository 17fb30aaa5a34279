//! `inspection`: what the station inspects and with which model. One variant per kind (serde picks it by
//! `kind`); each kind's own config lives in its folder (`seal/config.rs`, `electrode/config.rs`) and
//! answers everything the station asks of it through `KindConfig`, so the kind is matched here, once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::electrode::align::AlignError;
use super::electrode::rules::RuleProblem;
use super::electrode::ElectrodeConfig;
use super::seal::SealConfig;
use super::InspectionLoader;
use crate::model::manifest::THRESHOLD_BAND;

/// What the station inspects and with which model.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum InspectionConfig {
    Seal(SealConfig),
    Electrode(ElectrodeConfig),
}

/// What every kind's config tells the station.
pub trait KindConfig {
    /// The model file, as the config names it.
    fn model(&self) -> &Path;

    /// Parts per trigger (a seal fixture's cavities), inferred as one batch.
    fn cavities(&self) -> usize {
        1
    }

    /// The recipe of frames that name none, written into their results.
    fn recipe(&self) -> &str;

    /// Recipe name -> reference image (as the config names it) when the kind judges parts against
    /// references (seal); `None` when it does not.
    fn references(&self) -> Option<BTreeMap<String, PathBuf>> {
        None
    }

    /// The kind's own checks, against the rest of the station's config.
    fn validate(&self, ctx: &ConfigContext<'_>) -> Result<(), InspectionConfigError>;

    /// How the station loads this kind's model, at start and at every swap.
    fn loader(&self, station: StationSide) -> Arc<dyn InspectionLoader>;

    /// What `check-config` says of it ("seal inspection, model M, ...").
    fn describe(&self, resolve: &dyn Fn(&Path) -> PathBuf) -> String;
}

/// What a kind's config is checked against: the rest of the station's config.
pub struct ConfigContext<'a> {
    /// A path from the config, resolved against the config file's folder.
    pub resolve: &'a dyn Fn(&Path) -> PathBuf,
    /// The output lines the `gpio` section defines.
    pub outputs: &'a [String],
}

/// What a loader takes from the rest of the station.
#[derive(Debug, Clone, Default)]
pub struct StationSide {
    /// Recipe name -> reference image: the config's recipes and a replayed dataset's.
    pub references: BTreeMap<String, PathBuf>,
    /// The output that rejects a part.
    pub reject_output: String,
    /// Marker outputs by index, as the GPIO backend numbers them.
    pub markers: Vec<String>,
}

/// An inspection config the station cannot run: the key inside `inspection` and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("inspection.{key}: {problem}")]
pub struct InspectionConfigError {
    pub key: String,
    pub problem: ConfigProblem,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigProblem {
    #[error("{} is not a file", .0.display())]
    NotAFile(PathBuf),
    /// A pinned threshold is held to the band a model file's is: 1.0 would pass every part, 0.0 reject all.
    #[error("{0} is outside {lo}..{hi} (1.0 would pass every part)", lo = THRESHOLD_BAND.0, hi = THRESHOLD_BAND.1)]
    ThresholdOutOfBand(f32),
    #[error("{0} is outside 1..16")]
    Cavities(usize),
    #[error("needs at least one recipe")]
    NoRecipes,
    #[error("'{recipe}' is not in inspection.recipes ({})", .known.join(", "))]
    UnknownRecipe { recipe: String, known: Vec<String> },
    #[error("{0} is outside (0, 100)")]
    PixelSize(f64),
    #[error(transparent)]
    Homography(AlignError),
    #[error("needs at least one rule (what does a defect do?)")]
    NoRules,
    #[error(transparent)]
    Rule(RuleProblem),
    #[error("'{output}' is not an output (gpio: {})", .outputs.join(", "))]
    UnknownOutput { output: String, outputs: Vec<String> },
}

/// The error of `key` (inside `inspection`).
pub(super) fn bad(key: impl Into<String>, problem: ConfigProblem) -> Result<(), InspectionConfigError> {
    Err(InspectionConfigError { key: key.into(), problem })
}

/// A threshold the config pins, held to the model files' band.
pub(super) fn check_threshold(key: &str, t: Option<f32>) -> Result<(), InspectionConfigError> {
    let (lo, hi) = THRESHOLD_BAND;
    match t {
        Some(t) if !(lo..=hi).contains(&t) => bad(key, ConfigProblem::ThresholdOutOfBand(t)),
        _ => Ok(()),
    }
}

impl InspectionConfig {
    /// The kind's own config.
    pub fn kind(&self) -> &dyn KindConfig {
        match self {
            InspectionConfig::Seal(s) => s,
            InspectionConfig::Electrode(e) => e,
        }
    }

    pub fn model(&self) -> &Path {
        self.kind().model()
    }

    /// Parts per trigger: the seal fixture's cavities; one electrode sheet.
    pub fn cavities(&self) -> usize {
        self.kind().cavities()
    }

    /// The model file must be there (unless `model_required` is off: the model tools), then the kind's
    /// own checks.
    pub fn validate(&self, ctx: &ConfigContext<'_>, model_required: bool) -> Result<(), InspectionConfigError> {
        let model = (ctx.resolve)(self.model());
        if model_required && !model.is_file() {
            return bad("model", ConfigProblem::NotAFile(model));
        }
        self.kind().validate(ctx)
    }
}
