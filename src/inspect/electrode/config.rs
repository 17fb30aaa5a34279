//! The `inspection` section of an electrode station: the dual-stream detector, the X-ray -> visible
//! alignment and the per-class rules, checked against the outputs the rules drive.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::align::Homography;
use super::rules::{self, DefectRule};
use super::ElectrodeLoader;
use crate::inspect::config::{bad, check_threshold, ConfigContext, ConfigProblem, InspectionConfigError};
use crate::inspect::config::{KindConfig, StationSide};
use crate::inspect::InspectionLoader;

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
    pub rules: Vec<DefectRule>,
}

impl KindConfig for ElectrodeConfig {
    fn model(&self) -> &Path {
        &self.model
    }

    /// Sheets are not judged by recipe: every result names this one.
    fn recipe(&self) -> &str {
        "electrode"
    }

    /// Rules are checked against the GPIO outputs they drive.
    fn validate(&self, ctx: &ConfigContext<'_>) -> Result<(), InspectionConfigError> {
        check_threshold("score_threshold", self.score_threshold)?;
        if let Some(p) = self.pixel_size_mm {
            if !(p > 0.0 && p < 100.0) {
                return bad("pixel_size_mm", ConfigProblem::PixelSize(p));
            }
        }
        if let Some(h) = self.homography {
            if let Err(err) = Homography(h).inverse() {
                return bad("homography", ConfigProblem::Homography(err));
            }
        }
        if self.rules.is_empty() {
            return bad("rules", ConfigProblem::NoRules);
        }
        if let Err(err) = rules::validate(&self.rules, self.pixel_size_mm) {
            return bad(err.key, ConfigProblem::Rule(err.problem));
        }
        for (i, r) in self.rules.iter().enumerate() {
            if !ctx.outputs.contains(&r.output) {
                let problem = ConfigProblem::UnknownOutput { output: r.output.clone(), outputs: ctx.outputs.to_vec() };
                return bad(format!("rules[{i}].output"), problem);
            }
        }
        Ok(())
    }

    fn loader(&self, station: StationSide) -> Arc<dyn InspectionLoader> {
        Arc::new(ElectrodeLoader { cfg: self.clone(), reject_output: station.reject_output, markers: station.markers })
    }

    fn describe(&self, resolve: &dyn Fn(&Path) -> PathBuf) -> String {
        format!("electrode inspection, model {}", resolve(&self.model).display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> ElectrodeConfig {
        serde_json::from_str(json).expect("electrode config")
    }

    fn check(cfg: &ElectrodeConfig) -> Result<(), InspectionConfigError> {
        let outputs = ["reject0".to_string(), "marker".to_string()];
        cfg.validate(&ConfigContext { resolve: &|p: &Path| p.to_path_buf(), outputs: &outputs })
    }

    const MINIMAL: &str = r#"{"model": "d.onnx", "rules": [{"classes": ["crack"], "output": "reject0"}]}"#;

    #[test]
    fn defaults_are_the_documented_ones() {
        let cfg = parse(MINIMAL);
        assert_eq!((cfg.score_threshold, cfg.homography, cfg.pixel_size_mm), (None, None, None));
        assert_eq!((cfg.rules[0].min_score, cfg.rules[0].max_count), (0.5, 0));
        check(&cfg).expect("valid");
        assert_eq!((cfg.recipe(), cfg.cavities(), cfg.references()), ("electrode", 1, None));
        assert_eq!(cfg.describe(&|p| p.to_path_buf()), "electrode inspection, model d.onnx");
    }

    #[test]
    fn each_mistake_names_its_key_inside_the_section() {
        let mut cfg = parse(MINIMAL);
        cfg.rules[0].output = "lamp".into();
        let e = check(&cfg).expect_err("unknown output");
        assert_eq!(e.to_string(), "inspection.rules[0].output: 'lamp' is not an output (gpio: reject0, marker)");
        cfg.rules[0].output = "reject0".into();
        cfg.rules[0].min_area_mm2 = 0.1;
        let e = check(&cfg).expect_err("mm² without a pixel size");
        assert_eq!(e.to_string(), "inspection.rules[0].min_area_mm2: needs pixel_size_mm");
        cfg.pixel_size_mm = Some(0.0);
        assert_eq!(check(&cfg).expect_err("pixel size 0").key, "pixel_size_mm");
        cfg.pixel_size_mm = Some(0.01);
        cfg.homography = Some([[1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 1.0]]);
        let e = check(&cfg).expect_err("singular homography");
        assert!(matches!(e.problem, ConfigProblem::Homography(_)), "{e}");
        cfg.homography = None;
        cfg.rules.clear();
        assert!(matches!(check(&cfg).expect_err("no rules").problem, ConfigProblem::NoRules));
    }
}
