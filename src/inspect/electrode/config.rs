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
