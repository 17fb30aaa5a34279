//! `inspection`: what the station inspects (seal or electrode) and with which model.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{bad, default_true, GpioConfig, KeyProblem, StationConfig};

/// What the station inspects and with which model.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum InspectionConfig {
    Seal(SealConfig),
    Electrode(ElectrodeConfig),
}

/// The electrode station: visible + X-ray pairs through the dual-stream detector, per-class rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElectrodeConfig {
    pub model: PathBuf,
    /// Detection score threshold; when absent, the manifest's.
    #[serde(default)]
    pub score_threshold: Option<f32>,
    /// X-ray -> visible homography (row-major 3x3, from `cellgate calibrate`); absent: the imagers are
    /// aligned already and must deliver the same size.
    #[serde(default)]
    pub homography: Option<[[f64; 3]; 3]>,
    /// Millimetres per visible-frame pixel, for areas in mm².
    #[serde(default)]
    pub pixel_size_mm: Option<f64>,
    /// What each class of defect does: the first rule whose output is a reject line rejects the part.
    pub rules: Vec<crate::inspect::defect_rules::DefectRule>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealConfig {
    /// The full pair model; `<stem>.encoder.onnx` and `<stem>.head.onnx` beside it are used when present.
    pub model: PathBuf,
    /// Use the encoder/head pair (reference encoded once per recipe) when it is present.
    #[serde(default = "default_true")]
    pub use_split: bool,
    /// NG threshold on `probs[1]`; when absent, the model manifest's.
    #[serde(default)]
    pub threshold: Option<f32>,
    /// Recipe used for frames that do not name one.
    pub recipe: String,
    /// Reference image of a good seal, per recipe.
    pub recipes: BTreeMap<String, RecipeConfig>,
    /// Parts captured per trigger (cavities of the fixture), inferred as one batch.
    #[serde(default = "default_one")]
    pub cavities: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipeConfig {
    pub reference: PathBuf,
}

fn default_one() -> usize {
    1
}

impl InspectionConfig {
    pub fn model(&self) -> &Path {
        match self {
            InspectionConfig::Seal(s) => &s.model,
            InspectionConfig::Electrode(e) => &e.model,
        }
    }

    /// Parts per trigger: the seal fixture's cavities; one electrode sheet.
    pub fn cavities(&self) -> usize {
        match self {
            InspectionConfig::Seal(s) => s.cavities,
            InspectionConfig::Electrode(_) => 1,
        }
    }
}

/// A pinned threshold is held to the band a model file's is: 1.0 would pass every part, 0.0 reject all.
fn outside_threshold_band(t: f32) -> Option<String> {
    let (lo, hi) = crate::model::manifest::THRESHOLD_BAND;
    (!(lo..=hi).contains(&t)).then(|| format!("{t} is outside {lo}..{hi} (1.0 would pass every part)"))
}

impl InspectionConfig {
    pub(super) fn validate(&self, cfg: &StationConfig, model_required: bool) -> Result<(), KeyProblem> {
        let model = cfg.resolve(self.model());
        if model_required && !model.is_file() {
            return bad("inspection.model", format!("{} is not a file", model.display()));
        }
        match self {
            InspectionConfig::Seal(seal) => seal.validate(cfg),
            InspectionConfig::Electrode(e) => e.validate(&cfg.gpio),
        }
    }
}

impl SealConfig {
    fn validate(&self, cfg: &StationConfig) -> Result<(), KeyProblem> {
        if let Some(t) = self.threshold {
            if let Some(m) = outside_threshold_band(t) {
                return bad("inspection.threshold", m);
            }
        }
        if !(1..=16).contains(&self.cavities) {
            return bad("inspection.cavities", format!("{} is outside 1..16", self.cavities));
        }
        if self.recipes.is_empty() {
            return bad("inspection.recipes", "needs at least one recipe");
        }
        for (name, r) in &self.recipes {
            let p = cfg.resolve(&r.reference);
            if !p.is_file() {
                return bad(format!("inspection.recipes.{name}.reference"), format!("{} is not a file", p.display()));
            }
        }
        if !self.recipes.contains_key(&self.recipe) {
            let known: Vec<_> = self.recipes.keys().cloned().collect();
            return bad(
                "inspection.recipe",
                format!("'{}' is not in inspection.recipes ({})", self.recipe, known.join(", ")),
            );
        }
        Ok(())
    }
}

impl ElectrodeConfig {
    /// Rules are checked against the GPIO outputs they drive.
    fn validate(&self, gpio: &GpioConfig) -> Result<(), KeyProblem> {
        if let Some(t) = self.score_threshold {
            if let Some(m) = outside_threshold_band(t) {
                return bad("inspection.score_threshold", m);
            }
        }
        if let Some(p) = self.pixel_size_mm {
            if !(p > 0.0 && p < 100.0) {
                return bad("inspection.pixel_size_mm", format!("{p} is outside (0, 100)"));
            }
        }
        if let Some(h) = self.homography {
            if let Err(err) = crate::inspect::align::Homography(h).inverse() {
                return bad("inspection.homography", err.to_string());
            }
        }
        if self.rules.is_empty() {
            return bad("inspection.rules", "needs at least one rule (what does a defect do?)");
        }
        if let Err(err) = crate::inspect::defect_rules::validate(&self.rules, self.pixel_size_mm) {
            return bad(format!("inspection.{}", err.key), err.problem.to_string());
        }
        let outputs = gpio.output_names();
        for (i, r) in self.rules.iter().enumerate() {
            if !outputs.contains(&r.output) {
                return bad(
                    format!("inspection.rules[{i}].output"),
                    format!("'{}' is not an output (gpio: {})", r.output, outputs.join(", ")),
                );
            }
        }
        Ok(())
    }
}
