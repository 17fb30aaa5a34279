//! The `inspection` section of a seal station: the classifier, its recipes' references and the fixture.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::SealLoader;
use crate::inspect::config::{bad, check_threshold, ConfigContext, ConfigProblem, InspectionConfigError};
use crate::inspect::config::{KindConfig, StationSide};
use crate::inspect::InspectionLoader;

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

fn default_true() -> bool {
    true
}

fn default_one() -> usize {
    1
}

impl KindConfig for SealConfig {
    fn model(&self) -> &Path {
        &self.model
    }

    fn cavities(&self) -> usize {
        self.cavities
    }

    fn recipe(&self) -> &str {
        &self.recipe
    }

    fn references(&self) -> Option<BTreeMap<String, PathBuf>> {
        Some(self.recipes.iter().map(|(k, r)| (k.clone(), r.reference.clone())).collect())
    }

    fn validate(&self, ctx: &ConfigContext<'_>) -> Result<(), InspectionConfigError> {
        check_threshold("threshold", self.threshold)?;
        if !(1..=16).contains(&self.cavities) {
            return bad("cavities", ConfigProblem::Cavities(self.cavities));
        }
        if self.recipes.is_empty() {
            return bad("recipes", ConfigProblem::NoRecipes);
        }
        for (name, r) in &self.recipes {
            let p = (ctx.resolve)(&r.reference);
            if !p.is_file() {
                return bad(format!("recipes.{name}.reference"), ConfigProblem::NotAFile(p));
            }
        }
        if !self.recipes.contains_key(&self.recipe) {
            let known = self.recipes.keys().cloned().collect();
            return bad("recipe", ConfigProblem::UnknownRecipe { recipe: self.recipe.clone(), known });
        }
        Ok(())
    }

    fn loader(&self, station: StationSide) -> Arc<dyn InspectionLoader> {
        Arc::new(SealLoader { cfg: self.clone(), references: station.references })
    }

    fn describe(&self, resolve: &dyn Fn(&Path) -> PathBuf) -> String {
        format!(
            "seal inspection, model {}, {} recipe(s), {} cavit{}",
            resolve(&self.model).display(),
            self.recipes.len(),
            self.cavities,
            if self.cavities == 1 { "y" } else { "ies" }
        )
    }
}
