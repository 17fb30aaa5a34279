//! The station's one configuration file (`/etc/cellgate/station.json` on a station).
//!
//! `StationConfig` is the composition of the components' own config sections: each component owns its
//! struct with documented defaults and its checks in its folder's `config.rs` (`runtime`, `sources`,
//! `sources/v4l2`, `trigger`, `trigger/photo_eye`, `sinks/gpio`, `sinks/reject_scheduler` (actuation),
//! `sinks/record` (records), `sinks/ng_archive`, `model` (model updates), `metrics`,
//! `inspect/plausibility`). Here: reading the file (`load`), the errors by key path, and the checks that
//! span sections (`cross_checks`). Unknown keys are refused, and every error names the key path and the
//! problem. Relative paths are taken from the config file's folder, so a config and the files it names can
//! move together.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::key_problem::{bad, KeyProblem};

mod cross_checks;
mod load;
#[cfg(test)]
mod tests;

pub use crate::inspect::config::InspectionConfig;
pub use crate::inspect::electrode::ElectrodeConfig;
pub use crate::inspect::seal::{RecipeConfig, SealConfig};
pub use crate::metrics::{MetricsConfig, METRICS_PERIOD_MS};
pub use crate::model::ModelUpdatesConfig;
pub use crate::runtime::{Provider, RuntimeConfig, TensorRtConfig, MAX_INTRA_THREADS};
pub use crate::sinks::gpio::{ChardevConfig, GpioConfig, LineDrive, OutputLineConfig};
pub use crate::sinks::record::{ArchiveConfig, RecordsConfig};
pub use crate::sinks::reject_scheduler::ActuationConfig;
pub use crate::sources::v4l2::V4l2Config;
pub use crate::sources::SourceConfig;
pub use crate::trigger::photo_eye::{GpioTriggerConfig, LineBias, TriggerEdge};
pub use crate::trigger::{TriggerConfig, RATE_HZ};

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
    /// The technician's station page; absent: no port is opened.
    #[serde(default)]
    pub http: Option<crate::sinks::http::HttpConfig>,
    /// The local control socket (`cellgate recipe`, `cellgate teach`).
    #[serde(default)]
    pub control: crate::control::ControlConfig,
    /// The fleet connection (parts, status, recipe commands over MQTT); absent: none.
    #[serde(default)]
    pub mqtt: Option<crate::sinks::mqtt::MqttConfig>,
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

impl StationConfig {
    /// A path from the config, resolved against the config's folder.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    /// The control socket's path: `control.socket`, or `control.sock` in `model_updates.state_dir`.
    pub fn control_socket(&self) -> PathBuf {
        let socket = self.control.socket.as_deref().map(|s| self.resolve(s));
        self.control.path(socket, &self.resolve(&self.model_updates.state_dir))
    }

    /// Each section's checks; the first problem found is the error.
    fn validate(&self, model_required: bool) -> Result<(), KeyProblem> {
        if self.name.trim().is_empty() {
            return bad("name", "must not be empty");
        }
        self.runtime.validate(&self.base_dir)?;
        let resolve = |p: &Path| self.resolve(p);
        let ctx = crate::inspect::config::ConfigContext { resolve: &resolve, outputs: &self.gpio.output_names() };
        self.inspection
            .validate(&ctx, model_required)
            .map_err(|e| KeyProblem::new(format!("inspection.{}", e.key), e.problem.to_string()))?;
        cross_checks::source_fits_inspection(&self.source, &self.inspection)?;
        self.source.validate(&self.base_dir)?;
        cross_checks::a_camera_has_one_cavity(&self.source, self.inspection.cavities())?;
        self.trigger.validate()?;
        self.actuation.validate()?;
        self.plausibility.validate().map_err(|p| p.under("plausibility"))?;
        if let Some(warning) = self.actuation.long_pulse() {
            log::warn!("{warning}");
        }
        cross_checks::trigger_is_not_an_output(&self.trigger, &self.gpio)?;
        cross_checks::one_reject_output_per_cavity(&self.gpio, self.inspection.cavities())?;
        self.gpio.validate()?;
        self.model_updates.validate(&self.base_dir)?;
        cross_checks::gate_fits_inspection(&self.model_updates, &self.inspection)?;
        self.records.validate(&self.base_dir)?;
        cross_checks::results_log_is_not_the_timeline(&self.records, &self.gpio, &self.base_dir)?;
        self.metrics.validate()?;
        if let Some(h) = &self.http {
            h.validate().map_err(|p| p.under("http"))?;
        }
        if let Some(m) = &self.mqtt {
            m.validate(&self.base_dir).map_err(|p| p.under("mqtt"))?;
        }
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
