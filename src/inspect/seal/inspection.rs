//! The seal inspection behind `Inspection`: a part is NG when its NG probability reaches the threshold,
//! and an NG part is rejected.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ort::session::RunOptions;

use super::{companion, SealClassifier, SealConfig};
use crate::inspect::{InspectError, Inspection, InspectionLoader, Judgement, ModelIdentity, PartError, PartFrames};
use crate::runtime::Runtime;

/// Makes the seal classifier from a model file (and its encoder/head pair), at start and at every swap.
#[derive(Clone)]
pub struct SealLoader {
    pub cfg: SealConfig,
    /// Recipe name -> reference image: the config's recipes and a replayed dataset's.
    pub references: BTreeMap<String, PathBuf>,
}

impl InspectionLoader for SealLoader {
    fn load(
        &self,
        rt: &Runtime,
        model: &Path,
        run_options: Arc<RunOptions>,
    ) -> Result<Box<dyn Inspection>, InspectError> {
        let mut classifier = SealClassifier::load_with(rt, &self.cfg, model, &self.references, run_options)?;
        classifier.self_test()?;
        Ok(Box::new(classifier))
    }

    /// The full graph and its encoder/head companions.
    fn files(&self, model: &Path) -> Vec<PathBuf> {
        vec![model.to_path_buf(), companion(model, "encoder"), companion(model, "head")]
    }

    fn references(&self) -> BTreeMap<String, PathBuf> {
        self.references.clone()
    }

    fn with_reference(&self, recipe: &str, path: &Path) -> Option<Arc<dyn InspectionLoader>> {
        let mut me = self.clone();
        *me.references.get_mut(recipe)? = path.to_path_buf();
        Some(Arc::new(me))
    }
}

impl Inspection for SealClassifier {
    fn identity(&self) -> &ModelIdentity {
        SealClassifier::identity(self)
    }

    fn threshold(&self) -> f32 {
        SealClassifier::threshold(self)
    }

    fn self_test(&mut self) -> Result<(), InspectError> {
        SealClassifier::self_test(self)
    }

    fn judge(&mut self, parts: &[PartFrames<'_>]) -> Result<Vec<Result<Judgement, PartError>>, InspectError> {
        let threshold = SealClassifier::threshold(self);
        let probs = self.infer(parts)?;
        Ok(parts
            .iter()
            .zip(probs)
            .map(|(p, probs)| {
                Ok(Judgement { reference: self.reference_sha(p.frame), ..Judgement::from_score(probs[1], threshold) })
            })
            .collect())
    }
}
