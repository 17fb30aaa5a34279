//! The seal classifier's model contract (DESIGN.md): labels `ok`/`ng`, an `ng` threshold in its band,
//! and per graph role its inputs and outputs (full: `image` + `reference` -> `probs [N, 2]`; encoder:
//! `image` -> `embedding`; head: `embedding` + `reference_embedding` -> `probs`).

use crate::model::manifest::{Contract, GraphRole, Manifest, ManifestError, Task, TensorSpec};
use crate::model::manifest::{MAX_EMBEDDING_VALUES, THRESHOLD_BAND};

pub struct SealContract;

impl Contract for SealContract {
    fn task(&self) -> Task {
        Task::SealClassifier
    }

    fn check(&self, m: &Manifest, role: GraphRole) -> Result<(), ManifestError> {
        let task = self.task();
        let bad = |problem: String| Err(ManifestError::Contract { task, problem });
        if m.labels != ["ok", "ng"] {
            return bad(format!("labels must be [\"ok\", \"ng\"], got {:?}", m.labels));
        }
        m.check_threshold(task, "ng", THRESHOLD_BAND, true)?;
        let images: &[&str] = match role {
            GraphRole::Full => &["image", "reference"],
            GraphRole::Encoder => &["image"],
            GraphRole::Head => &[],
        };
        for name in images {
            m.check_image_input(task, name, 3)?;
        }
        if role != GraphRole::Encoder {
            let probs = m
                .output("probs")
                .ok_or(ManifestError::Contract { task, problem: "output 'probs' is missing".into() })?;
            if probs.fixed_dims() != [Some(2)] {
                return bad("output 'probs' must be [N, 2]".into());
            }
        }
        if role == GraphRole::Head && (m.input("embedding").is_none() || m.input("reference_embedding").is_none()) {
            return bad("head needs inputs 'embedding' and 'reference_embedding'".into());
        }
        if role == GraphRole::Encoder
            && m.output("embedding").and_then(TensorSpec::fixed_len).is_none_or(|n| n > MAX_EMBEDDING_VALUES)
        {
            return bad(format!(
                "encoder needs output 'embedding' of fixed, positive dimensions, at most {MAX_EMBEDDING_VALUES} values"
            ));
        }
        if role == GraphRole::Full && m.input("image").map(|i| &i.shape) != m.input("reference").map(|r| &r.shape) {
            return bad("'image' and 'reference' must have the same shape".into());
        }
        Ok(())
    }
}
