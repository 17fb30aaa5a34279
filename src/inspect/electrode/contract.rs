//! The electrode detector's model contract (DESIGN.md): one full graph, the five labels in order, a
//! `score` threshold (and optionally `nms_iou`) in its band, aligned `visible [N,3,H,W]` and
//! `xray [N,1,H,W]` inputs, and the `det`, `seg` and `cls` outputs.

use crate::model::manifest::{Contract, GraphRole, Manifest, ManifestError, Task, TensorSpec};
use crate::model::manifest::{ELECTRODE_LABELS, NMS_IOU_BAND, THRESHOLD_BAND};

pub struct ElectrodeContract;

impl Contract for ElectrodeContract {
    fn task(&self) -> Task {
        Task::ElectrodeDetector
    }

    fn check(&self, m: &Manifest, role: GraphRole) -> Result<(), ManifestError> {
        let task = self.task();
        let bad = |problem: String| Err(ManifestError::Contract { task, problem });
        if role != GraphRole::Full {
            return bad("the electrode detector is one full graph".into());
        }
        if m.labels != ELECTRODE_LABELS {
            return bad(format!("labels must be {ELECTRODE_LABELS:?}, got {:?}", m.labels));
        }
        m.check_threshold(task, "score", THRESHOLD_BAND, true)?;
        m.check_threshold(task, "nms_iou", NMS_IOU_BAND, false)?;
        let mut sizes = Vec::new();
        for (name, channels) in [("visible", 3), ("xray", 1)] {
            sizes.push(m.check_image_input(task, name, channels)?.fixed_dims()[1..].to_vec());
        }
        if sizes[0] != sizes[1] {
            return bad("'visible' and 'xray' must have the same height and width (aligned)".into());
        }
        let c = ELECTRODE_LABELS.len() as i64;
        let out = |name: &str| {
            m.output(name)
                .map(TensorSpec::fixed_dims)
                .ok_or(ManifestError::Contract { task, problem: format!("output '{name}' is missing") })
        };
        let det = out("det")?;
        if det.len() != 2 || det[0].is_none() || det[1] != Some(4 + c) {
            return bad(format!("output 'det' must be [N, A, {}]", 4 + c));
        }
        let seg = out("seg")?;
        if seg.len() != 3 || seg[0] != Some(c + 1) || seg[1].is_none() || seg[2].is_none() {
            return bad(format!("output 'seg' must be [N, {}, Hs, Ws]", c + 1));
        }
        if out("cls")? != [Some(c)] {
            return bad(format!("output 'cls' must be [N, {c}]"));
        }
        Ok(())
    }
}
