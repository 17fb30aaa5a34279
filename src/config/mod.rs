//! The station's one configuration file (`/etc/cellgate/station.json` on a station).
//!
//! Every section owns its struct with documented defaults and its checks, in a file named for it; unknown
//! keys are refused, and every error names the key path and the problem. Relative paths are taken from the
//! config file's folder, so a config and the files it names can move together.

use std::path::{Path, PathBuf};

use serde::Deserialize;

mod actuation;
mod gpio;
mod load;
mod metrics;
mod model_updates;
mod records;
mod runtime;
mod source;
#[cfg(test)]
mod tests;
mod trigger;

pub use crate::inspect::config::InspectionConfig;
pub use crate::inspect::electrode::ElectrodeConfig;
pub use crate::inspect::seal::{RecipeConfig, SealConfig};
pub use actuation::ActuationConfig;
pub use gpio::{ChardevConfig, GpioConfig, LineDrive, OutputLineConfig};
pub use metrics::{MetricsConfig, METRICS_PERIOD_MS};
pub use model_updates::ModelUpdatesConfig;
pub use records::{ArchiveConfig, RecordsConfig};
pub use runtime::{Provider, RuntimeConfig, TensorRtConfig, MAX_INTRA_THREADS};
pub use source::{SourceConfig, V4l2Config};
pub use trigger::{GpioTriggerConfig, LineBias, TriggerConfig, TriggerEdge, RATE_HZ};

/// A configuration error: which key, what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{file}: {key}: {problem}")]
    Invalid { file: PathBuf, key: String, problem: String },
    /// Not JSON, or more than one JSON value: where the text goes wrong.
    #[error("{file}:{line}:{column}: not valid JSON: {problem}")]
    Syntax { file: PathBuf, line: usize, column: usize, problem: String },
}

/// What a section's check finds wrong: the key path and the problem (made a `ConfigError::Invalid`, with
/// the file, by `load`).
type KeyProblem = (String, String);

/// The error a section's check returns for `key`.
fn bad(key: impl Into<String>, problem: impl Into<String>) -> Result<(), KeyProblem> {
    Err((key.into(), problem.into()))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StationConfig {
    /// Station name, written into every result.
    #[serde(default = "default_station_name")]
    pub name: String,
    #[serde(default)]
    pub runtime: RuntimeConfig,
    pub inspection: InspectionConfig,
    pub source: SourceConfig,
    pub trigger: TriggerConfig,
    #[serde(default)]
    pub actuation: ActuationConfig,
    pub gpio: GpioConfig,
    pub records: RecordsConfig,
    #[serde(default)]
    pub model_updates: ModelUpdatesConfig,
    /// How often the counters are written to `model_updates.state_dir/metrics.json`.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// Exposure bounds a frame must meet before a model judges it.
    #[serde(default)]
    pub plausibility: crate::inspect::plausibility::PlausibilityConfig,
    /// Folder the config was read from; relative paths resolve against it.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

fn default_station_name() -> String {
    "cellgate".into()
}

fn default_true() -> bool {
    true
}

impl StationConfig {
    /// A path from the config, resolved against the config's folder.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    /// Each section's checks; the first problem found is the error.
    fn validate(&self, model_required: bool) -> Result<(), KeyProblem> {
        if self.name.trim().is_empty() {
            return bad("name", "must not be empty");
        }
        self.runtime.validate(self)?;
        let resolve = |p: &Path| self.resolve(p);
        let ctx = crate::inspect::config::ConfigContext { resolve: &resolve, outputs: &self.gpio.output_names() };
        self.inspection
            .validate(&ctx, model_required)
            .map_err(|e| (format!("inspection.{}", e.key), e.problem.to_string()))?;
        self.source.validate(self)?;
        self.trigger.validate()?;
        self.actuation.validate()?;
        self.plausibility.validate().map_err(|(key, problem)| (format!("plausibility.{key}"), problem))?;
        self.actuation.warn_if_pulse_long();
        self.gpio.validate(&self.trigger, self.inspection.cavities())?;
        self.model_updates.validate(self)?;
        self.records.validate(self)?;
        self.metrics.validate()?;
        Ok(())
    }

    /// The seal inspection's settings, when this is a seal station.
    pub fn seal(&self) -> Option<&SealConfig> {
        match &self.inspection {
            InspectionConfig::Seal(s) => Some(s),
            InspectionConfig::Electrode(_) => None,
        }
    }

    pub fn seal_mut(&mut self) -> Option<&mut SealConfig> {
        match &mut self.inspection {
            InspectionConfig::Seal(s) => Some(s),
            InspectionConfig::Electrode(_) => None,
        }
    }
}
