//! Per-class decisions of the electrode station: which decoded defects matter, and which output each
//! fires (e.g. the reject solenoid for cracks and foreign objects, a marker for dark spots).

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};

use super::decode::{Detection, ElectrodeResult};
use super::C;
use crate::model::manifest::ELECTRODE_LABELS;

fn default_min_score() -> f32 {
    0.5
}

/// One rule: a defect of one of `classes` with at least `min_score` and the minimum area counts; more
/// than `max_count` counted defects fire `output`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DefectRule {
    pub classes: Vec<String>,
    #[serde(default = "default_min_score")]
    pub min_score: f32,
    /// Minimum segmented area in frame pixels.
    #[serde(default)]
    pub min_area_px: f64,
    /// Minimum segmented area in mm² (needs the pixel size).
    #[serde(default)]
    pub min_area_mm2: f64,
    /// Defects tolerated before the rule fires (0: any one fires it).
    #[serde(default)]
    pub max_count: usize,
    /// The output line the rule drives.
    pub output: String,
}

/// What the rules made of one part.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleOutcome {
    /// Output lines to pulse, in rule order, without repeats.
    pub outputs: Vec<String>,
    /// One line per fired rule, for the log.
    pub reasons: Vec<String>,
    /// Every decoded defect with its area, for the result log.
    pub defects: Vec<DefectRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DefectRecord {
    pub class: &'static str,
    pub score: f32,
    pub bbox: [f32; 4],
    pub area_px: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub area_mm2: Option<f64>,
}

/// The detector's image-level presence probability per class (DESIGN's `cls` output), in label order.
/// It is recorded with every electrode result, not judged by the rules: a rule needs a defect's place,
/// size and count, which only the decoded boxes and segmentation give. Beside the detections it shows
/// what the detector's image-level head saw (a class present with no box found, or the other way round).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassPresence(pub [f32; C]);

/// Written as `{"scratch": p, "dark_spot": p, ...}`, in label order.
impl Serialize for ClassPresence {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(C))?;
        for (label, p) in ELECTRODE_LABELS.iter().zip(&self.0) {
            map.serialize_entry(label, p)?;
        }
        map.end()
    }
}

/// A rule the config cannot use: `key` names the field (`rules[2].min_score`), `problem` what is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct RuleError {
    pub key: String,
    pub problem: RuleProblem,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RuleProblem {
    #[error("empty")]
    NoClasses,
    #[error("unknown class '{0}' (known: {known:?})", known = ELECTRODE_LABELS)]
    UnknownClass(String),
    #[error("{0} is outside 0..1")]
    ScoreOutOfRange(f32),
    #[error("a minimum area cannot be negative")]
    NegativeArea,
    #[error("needs pixel_size_mm")]
    NeedsPixelSize,
    #[error("empty line name")]
    NoOutput,
}

/// Checks rules at start-up; the error names the rule's field and the problem (the config adds the key path).
pub fn validate(rules: &[DefectRule], pixel_size_mm: Option<f64>) -> Result<(), RuleError> {
    let bad = |key: String, problem| Err(RuleError { key, problem });
    for (i, r) in rules.iter().enumerate() {
        if r.classes.is_empty() {
            return bad(format!("rules[{i}].classes"), RuleProblem::NoClasses);
        }
        for (j, c) in r.classes.iter().enumerate() {
            if !ELECTRODE_LABELS.contains(&c.as_str()) {
                return bad(format!("rules[{i}].classes[{j}]"), RuleProblem::UnknownClass(c.clone()));
            }
        }
        if !(0.0..=1.0).contains(&r.min_score) {
            return bad(format!("rules[{i}].min_score"), RuleProblem::ScoreOutOfRange(r.min_score));
        }
        if r.min_area_px < 0.0 || r.min_area_mm2 < 0.0 {
            return bad(format!("rules[{i}]"), RuleProblem::NegativeArea);
        }
        if r.min_area_mm2 > 0.0 && pixel_size_mm.is_none() {
            return bad(format!("rules[{i}].min_area_mm2"), RuleProblem::NeedsPixelSize);
        }
        if r.output.is_empty() {
            return bad(format!("rules[{i}].output"), RuleProblem::NoOutput);
        }
    }
    Ok(())
}

fn counts(rule: &DefectRule, d: &Detection, mm2: Option<f64>) -> bool {
    rule.classes.iter().any(|c| c == d.label)
        && d.score >= rule.min_score
        && d.area_px >= rule.min_area_px
        && (rule.min_area_mm2 <= 0.0 || mm2.is_some_and(|a| a >= rule.min_area_mm2))
}

pub fn judge(result: &ElectrodeResult, rules: &[DefectRule], pixel_size_mm: Option<f64>) -> RuleOutcome {
    let mm2 = |d: &Detection| pixel_size_mm.map(|p| d.area_px * p * p);
    let mut outputs: Vec<String> = Vec::new();
    let mut reasons = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        let n = result.detections.iter().filter(|d| counts(rule, d, mm2(d))).count();
        if n > rule.max_count {
            reasons.push(format!(
                "rule {i} ({}): {n} defect(s) > {} -> {}",
                rule.classes.join("+"),
                rule.max_count,
                rule.output
            ));
            if !outputs.contains(&rule.output) {
                outputs.push(rule.output.clone());
            }
        }
    }
    let defects = result
        .detections
        .iter()
        .map(|d| DefectRecord { class: d.label, score: d.score, bbox: d.bbox, area_px: d.area_px, area_mm2: mm2(d) })
        .collect();
    RuleOutcome { outputs, reasons, defects }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(class: usize, score: f32, area_px: f64) -> Detection {
        Detection { class, label: ELECTRODE_LABELS[class], score, bbox: [0.0, 0.0, 10.0, 10.0], area_px }
    }

    fn result(detections: Vec<Detection>) -> ElectrodeResult {
        ElectrodeResult {
            detections,
            presence: ClassPresence([0.0; C]),
            area_px: vec![0.0; 5],
            mask: vec![],
            mask_size: (0, 0),
        }
    }

    fn rules() -> Vec<DefectRule> {
        serde_json::from_str(
            r#"[{"classes": ["crack", "foreign_object"], "output": "reject0"},
                {"classes": ["dark_spot"], "min_score": 0.6, "min_area_mm2": 0.02, "max_count": 1, "output": "marker"}]"#,
        )
        .expect("rules")
    }

    #[test]
    fn rules_fire_their_own_outputs_by_class_score_area_and_count() {
        let px = Some(0.01); // 0.01 mm per pixel: 200 px = 0.02 mm²
        let r = rules();
        validate(&r, px).expect("valid");
        // A crack rejects; a clean part fires nothing.
        assert_eq!(judge(&result(vec![det(4, 0.9, 50.0)]), &r, px).outputs, vec!["reject0"]);
        assert!(judge(&result(vec![]), &r, px).outputs.is_empty());
        // Dark spots: one tolerated; two big ones mark; small or faint ones do not count.
        assert!(judge(&result(vec![det(1, 0.9, 300.0)]), &r, px).outputs.is_empty());
        assert_eq!(judge(&result(vec![det(1, 0.9, 300.0), det(1, 0.8, 250.0)]), &r, px).outputs, vec!["marker"]);
        assert!(judge(&result(vec![det(1, 0.9, 300.0), det(1, 0.9, 100.0)]), &r, px).outputs.is_empty());
        assert!(judge(&result(vec![det(1, 0.9, 300.0), det(1, 0.5, 300.0)]), &r, px).outputs.is_empty());
        // Both rules at once, each output once; every defect is recorded with its area in mm².
        let j =
            judge(&result(vec![det(2, 0.7, 9.0), det(4, 0.6, 9.0), det(1, 0.9, 300.0), det(1, 0.9, 300.0)]), &r, px);
        assert_eq!(j.outputs, vec!["reject0", "marker"]);
        assert_eq!(j.defects.len(), 4);
        assert!((j.defects[2].area_mm2.expect("mm2") - 0.03).abs() < 1e-9);
    }

    #[test]
    fn bad_rules_are_refused_naming_the_rule_and_the_problem() {
        let mut r = rules();
        let e = validate(&r, None).unwrap_err();
        assert_eq!(e, RuleError { key: "rules[1].min_area_mm2".into(), problem: RuleProblem::NeedsPixelSize });
        assert_eq!(e.to_string(), "rules[1].min_area_mm2: needs pixel_size_mm");
        r[0].classes[1] = "scrach".into();
        assert_eq!(
            validate(&r, Some(0.01)).unwrap_err(),
            RuleError { key: "rules[0].classes[1]".into(), problem: RuleProblem::UnknownClass("scrach".into()) }
        );
        r[0].classes[1] = "crack".into();
        r[1].min_score = 1.5;
        assert_eq!(
            validate(&r, Some(0.01)).unwrap_err(),
            RuleError { key: "rules[1].min_score".into(), problem: RuleProblem::ScoreOutOfRange(1.5) }
        );
        r[1].min_score = -0.1;
        assert_eq!(validate(&r, Some(0.01)).unwrap_err().problem, RuleProblem::ScoreOutOfRange(-0.1));
        r[1].min_score = 0.6;
        // Either minimum area negative on its own is refused; a positive pixel area is a rule like any other.
        r[0].min_area_px = -1.0;
        assert_eq!(
            validate(&r, Some(0.01)).unwrap_err(),
            RuleError { key: "rules[0]".into(), problem: RuleProblem::NegativeArea }
        );
        r[0].min_area_px = 40.0;
        validate(&r, Some(0.01)).expect("a positive min_area_px");
        r[1].min_area_mm2 = -0.02;
        assert_eq!(
            validate(&r, Some(0.01)).unwrap_err(),
            RuleError { key: "rules[1]".into(), problem: RuleProblem::NegativeArea }
        );
        r[1].min_area_mm2 = 0.0;
        validate(&r, None).expect("no area in mm², so no pixel size needed");
        r[1].output.clear();
        assert_eq!(
            validate(&r, None).unwrap_err(),
            RuleError { key: "rules[1].output".into(), problem: RuleProblem::NoOutput }
        );
        r[1].classes.clear();
        assert_eq!(
            validate(&r, None).unwrap_err(),
            RuleError { key: "rules[1].classes".into(), problem: RuleProblem::NoClasses }
        );
    }

    #[test]
    fn a_rule_without_min_score_counts_defects_from_0_5_and_min_area_px_is_a_floor() {
        let r: Vec<DefectRule> =
            serde_json::from_str(r#"[{"classes": ["scratch"], "min_area_px": 40, "output": "reject0"}]"#)
                .expect("rule");
        assert_eq!(r[0].min_score, 0.5, "the documented default");
        // Faint detections (a detection threshold set below 0.5) do not fire the rule; 0.5 itself does.
        assert!(judge(&result(vec![det(0, 0.49, 100.0)]), &r, None).outputs.is_empty());
        assert_eq!(judge(&result(vec![det(0, 0.5, 100.0)]), &r, None).outputs, vec!["reject0"]);
        // The pixel area is a floor: 39 px do not count, 40 px do.
        assert!(judge(&result(vec![det(0, 0.9, 39.0)]), &r, None).outputs.is_empty());
        assert_eq!(judge(&result(vec![det(0, 0.9, 40.0)]), &r, None).outputs, vec!["reject0"]);
        // Another class does not count for it.
        assert!(judge(&result(vec![det(3, 0.9, 400.0)]), &r, None).outputs.is_empty());
    }
}
