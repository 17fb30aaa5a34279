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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> SealConfig {
        serde_json::from_str(json).expect("seal config")
    }

    /// Every path resolves into the crate's demo folder, where recipe-a's reference is.
    fn check(cfg: &SealConfig) -> Result<(), InspectionConfigError> {
        let resolve = |p: &Path| Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/demo").join(p);
        cfg.validate(&ConfigContext { resolve: &resolve, outputs: &[] })
    }

    const MINIMAL: &str = r#"{"model": "m.onnx", "recipe": "recipe-a",
        "recipes": {"recipe-a": {"reference": "seal/references/recipe-a.png"}}}"#;

    #[test]
    fn defaults_are_the_documented_ones() {
        let cfg = parse(MINIMAL);
        assert!(cfg.use_split);
        assert_eq!((cfg.cavities, cfg.threshold), (1, None));
        check(&cfg).expect("valid");
        assert_eq!(cfg.recipe(), "recipe-a");
        let refs = cfg.references().expect("a seal is judged against references");
        assert_eq!(refs["recipe-a"], Path::new("seal/references/recipe-a.png"));
        assert_eq!(
            cfg.describe(&|p| Path::new("/etc").join(p)),
            "seal inspection, model /etc/m.onnx, 1 recipe(s), 1 cavity"
        );
        assert!(serde_json::from_str::<SealConfig>(r#"{"model": "m", "recipe": "a", "recipes": {}, "x": 1}"#).is_err());
    }

    #[test]
    fn each_mistake_names_its_key_inside_the_section() {
        let mut cfg = parse(MINIMAL);
        cfg.cavities = 0;
        let e = check(&cfg).expect_err("0 cavities");
        assert!(matches!(e.problem, ConfigProblem::Cavities(0)), "{e}");
        assert_eq!(e.to_string(), "inspection.cavities: 0 is outside 1..16");
        cfg.cavities = 4;
        cfg.threshold = Some(1.0);
        let e = check(&cfg).expect_err("threshold 1.0");
        assert_eq!(e.to_string(), "inspection.threshold: 1 is outside 0.05..0.95 (1.0 would pass every part)");
        cfg.threshold = None;
        cfg.recipe = "recipe-z".into();
        let e = check(&cfg).expect_err("unknown recipe");
        assert_eq!(e.key, "recipe");
        assert_eq!(e.problem.to_string(), "'recipe-z' is not in inspection.recipes (recipe-a)");
        cfg.recipes.insert("recipe-z".into(), RecipeConfig { reference: "gone.png".into() });
        let e = check(&cfg).expect_err("missing reference");
        assert_eq!(e.key, "recipes.recipe-z.reference");
        assert!(matches!(e.problem, ConfigProblem::NotAFile(_)), "{e}");
    }
}
