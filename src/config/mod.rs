//! The station's one configuration file (`/etc/cellgate/station.json` on a station).
//!
//! Every section owns its struct with documented defaults; unknown keys are refused, and every error names
//! the key path and the problem. Relative paths are taken from the config file's folder, so a config and
//! the files it names can move together.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

mod records;
#[cfg(test)]
mod tests;

pub use records::{ArchiveConfig, RecordsConfig};

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

/// Free-run trigger rates a station takes, Hz: slower than one part in 1000 s is a typo, and the period
/// of a rate near zero does not fit a `Duration`.
pub const RATE_HZ: std::ops::RangeInclusive<f64> = 0.001..=1000.0;

/// ONNX Runtime intra-op threads: more than this is a typo, not a machine.
pub const MAX_INTRA_THREADS: usize = 64;

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

/// ONNX Runtime: where its library is and how sessions are built.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Path of `libonnxruntime.so`; when absent, `ORT_DYLIB_PATH`, then the project-local `.ort/`.
    #[serde(default)]
    pub library: Option<PathBuf>,
    /// Execution providers tried in order; the first that registers runs the model.
    #[serde(default = "default_providers")]
    pub providers: Vec<Provider>,
    /// Intra-op threads of the one thread pool every session shares (0 = ONNX Runtime's choice).
    #[serde(default = "default_intra_threads")]
    pub intra_threads: usize,
    #[serde(default)]
    pub tensorrt: TensorRtConfig,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            library: None,
            providers: default_providers(),
            intra_threads: default_intra_threads(),
            tensorrt: TensorRtConfig::default(),
        }
    }
}

fn default_providers() -> Vec<Provider> {
    vec![Provider::Tensorrt, Provider::Cuda, Provider::Cpu]
}

fn default_intra_threads() -> usize {
    2
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Tensorrt,
    Cuda,
    Cpu,
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Provider::Tensorrt => "tensorrt",
            Provider::Cuda => "cuda",
            Provider::Cpu => "cpu",
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TensorRtConfig {
    /// Where built engines are cached (building one can take minutes on a Jetson).
    #[serde(default = "default_engine_cache")]
    pub engine_cache: PathBuf,
    #[serde(default = "default_true")]
    pub fp16: bool,
}

impl Default for TensorRtConfig {
    fn default() -> Self {
        Self { engine_cache: default_engine_cache(), fp16: true }
    }
}

fn default_engine_cache() -> PathBuf {
    PathBuf::from("/var/lib/cellgate/trt-cache")
}

fn default_true() -> bool {
    true
}

/// What the station inspects and with which model.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum InspectionConfig {
    Seal(SealConfig),
    Electrode(ElectrodeConfig),
}

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
    pub rules: Vec<crate::inspect::defect_rules::DefectRule>,
}

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

fn default_one() -> usize {
    1
}

/// Where frames come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum SourceConfig {
    /// Images replayed from a folder (plain images by name, or a DESIGN seal dataset with manifest.jsonl).
    Replay {
        path: PathBuf,
        /// Start over at the end (a demo that runs until stopped); otherwise the station stops at the end.
        #[serde(default)]
        r#loop: bool,
    },
    /// A V4L2 camera.
    V4l2(V4l2Config),
    /// Electrode pairs replayed from a folder in the DESIGN COCO format (`annotations.json` with
    /// `file_name` and `xray_file_name`).
    Coco {
        path: PathBuf,
        #[serde(default)]
        r#loop: bool,
    },
    /// The electrode station's two imagers, paired per trigger by exposure time.
    Pair {
        visible: Box<SourceConfig>,
        xray: Box<SourceConfig>,
        /// Exposures further apart than this are not one part: the part is rejected and counted.
        #[serde(default = "default_max_skew")]
        max_skew_ms: u64,
    },
}

fn default_max_skew() -> u64 {
    20
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct V4l2Config {
    /// `/dev/video0`, or better a stable `/dev/v4l/by-id/...` or `/dev/v4l/by-path/...` name.
    pub device: PathBuf,
    /// Pixel format by fourcc: `MJPG`, `YUYV`, `GREY`, `Y16`, `RGB3`.
    pub format: crate::sources::v4l2::convert::CameraFormat,
    pub width: u32,
    pub height: u32,
    /// Frames per second; absent: the device's current rate.
    #[serde(default)]
    pub fps: Option<u32>,
    /// mmap buffers the driver fills.
    #[serde(default = "default_buffers")]
    pub buffers: u32,
    /// A trigger with no frame exposed after it within this time fails (camera stalled).
    #[serde(default = "default_camera_timeout")]
    pub timeout_ms: u64,
    /// Camera controls by name as `cellgate devices` lists them (`exposure_time_absolute`), set at
    /// every (re)open.
    #[serde(default)]
    pub controls: BTreeMap<String, i64>,
    /// Reopen backoff after the camera is lost: doubles from min to max.
    #[serde(default = "default_reconnect_min")]
    pub reconnect_min_ms: u64,
    #[serde(default = "default_reconnect_max")]
    pub reconnect_max_ms: u64,
}

fn default_buffers() -> u32 {
    4
}

fn default_camera_timeout() -> u64 {
    1000
}

fn default_reconnect_min() -> u64 {
    200
}

fn default_reconnect_max() -> u64 {
    5000
}

/// What starts an inspection.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum TriggerConfig {
    /// Free-running at a fixed rate.
    FreeRun { rate_hz: f64 },
    /// The photo-eye on a GPIO input.
    Gpio(GpioTriggerConfig),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpioTriggerConfig {
    /// Chip by path (`/dev/gpiochip0`), name (`gpiochip0`) or label.
    pub chip: String,
    /// Line offset or name.
    pub line: crate::gpio_chip::LineRef,
    #[serde(default)]
    pub edge: TriggerEdge,
    /// Edges closer than this to the last accepted one are ignored (contact bounce).
    #[serde(default = "default_debounce")]
    pub debounce_ms: u64,
    #[serde(default)]
    pub active_low: bool,
    #[serde(default)]
    pub bias: LineBias,
}

fn default_debounce() -> u64 {
    5
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerEdge {
    #[default]
    Rising,
    Falling,
    Both,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineBias {
    /// Leave the line's bias as the board set it.
    #[default]
    AsIs,
    Disabled,
    PullUp,
    PullDown,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineDrive {
    #[default]
    PushPull,
    OpenDrain,
    OpenSource,
}

/// One output line on a GPIO chip.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputLineConfig {
    /// Line offset or name.
    pub line: crate::gpio_chip::LineRef,
    #[serde(default)]
    pub active_low: bool,
    #[serde(default)]
    pub drive: LineDrive,
}

/// Reject timing and fault policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActuationConfig {
    /// Time the part travels from the camera to the reject point.
    #[serde(default = "default_delay_ms")]
    pub delay_ms: u64,
    /// How long the reject output stays on.
    #[serde(default = "default_pulse_ms")]
    pub pulse_ms: u64,
    /// While a fault is active (camera lost, model failing), reject every part.
    #[serde(default = "default_true")]
    pub reject_on_fault: bool,
    /// Overload: the share of the last `overload_window` parts left unjudged (shed for want of capacity,
    /// or late) above which the alarm goes on.
    #[serde(default = "default_overload_window")]
    pub overload_window: u32,
    #[serde(default = "default_overload_max_share")]
    pub overload_max_share: f64,
}

impl Default for ActuationConfig {
    fn default() -> Self {
        Self {
            delay_ms: default_delay_ms(),
            pulse_ms: default_pulse_ms(),
            reject_on_fault: true,
            overload_window: default_overload_window(),
            overload_max_share: default_overload_max_share(),
        }
    }
}

fn default_overload_window() -> u32 {
    200
}

fn default_overload_max_share() -> f64 {
    0.05
}

fn default_delay_ms() -> u64 {
    400
}

fn default_pulse_ms() -> u64 {
    60
}

/// GPIO backend and line names.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, tag = "backend", rename_all = "snake_case")]
pub enum GpioConfig {
    /// Simulated lines; every change is recorded with its time.
    Sim {
        /// JSON-lines file of line changes (none: kept in memory only).
        #[serde(default)]
        timeline: Option<PathBuf>,
        /// Reject output per cavity (one name per cavity).
        #[serde(default = "default_reject_lines")]
        reject: Vec<String>,
        #[serde(default = "default_alarm_line")]
        alarm: String,
        #[serde(default)]
        ready: Option<String>,
        /// Further outputs that electrode rules drive (e.g. a marker for dark spots).
        #[serde(default)]
        markers: Vec<String>,
    },
    /// The kernel's GPIO character device.
    Chardev(ChardevConfig),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChardevConfig {
    /// Chip by path (`/dev/gpiochip0`), name (`gpiochip0`) or label.
    pub chip: String,
    /// Reject output per cavity.
    pub reject: Vec<OutputLineConfig>,
    pub alarm: OutputLineConfig,
    /// Active while the station is up and inspecting.
    #[serde(default)]
    pub ready: Option<OutputLineConfig>,
    /// Further outputs that electrode rules drive, by the name the rules use.
    #[serde(default)]
    pub markers: BTreeMap<String, OutputLineConfig>,
    #[serde(default)]
    pub timeline: Option<PathBuf>,
}

fn default_reject_lines() -> Vec<String> {
    vec!["reject0".into()]
}

fn default_alarm_line() -> String {
    "alarm".into()
}

/// Technicians' model swaps: the model folder is watched, new files are validated and warmed off the
/// inspection path and take over between two parts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelUpdatesConfig {
    /// Watch the model files and swap in replacements.
    #[serde(default = "default_true")]
    pub watch: bool,
    /// Quiet time after the last write before a file is read.
    #[serde(default = "default_settle_ms")]
    pub settle_ms: u64,
    /// Copies of the active and previous models, and `status.json`.
    #[serde(default = "default_model_state")]
    pub state_dir: PathBuf,
    /// Refuse model files without a valid `<file>.sig`.
    #[serde(default)]
    pub require_signature: bool,
    /// ed25519 public key (64 hex characters) that signatures are checked with.
    #[serde(default)]
    pub public_key: Option<PathBuf>,
    /// Largest model file read (bytes): a bigger one is refused before it is read.
    #[serde(default = "default_max_model_bytes")]
    pub max_model_bytes: u64,
    /// Deadline for loading, warming and self-testing a model (start and swaps).
    #[serde(default = "default_load_timeout_ms")]
    pub load_timeout_ms: u64,
}

impl Default for ModelUpdatesConfig {
    fn default() -> Self {
        Self {
            watch: true,
            settle_ms: default_settle_ms(),
            state_dir: default_model_state(),
            require_signature: false,
            public_key: None,
            max_model_bytes: default_max_model_bytes(),
            load_timeout_ms: default_load_timeout_ms(),
        }
    }
}

fn default_max_model_bytes() -> u64 {
    256 * 1024 * 1024
}

fn default_load_timeout_ms() -> u64 {
    60_000
}

fn default_settle_ms() -> u64 {
    500
}

fn default_model_state() -> PathBuf {
    PathBuf::from("/var/lib/cellgate/models")
}

impl StationConfig {
    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
        Self::parse(&text, path, &base)
    }

    /// `load` for the model tools (`models status`, `models rollback`): they are needed exactly when the
    /// model file is missing or broken, so only its path is taken from the config, not its presence.
    pub fn load_for_model_tools(path: &Path) -> Result<Self, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
        Self::parse_with(&text, path, &base, false)
    }

    /// Parses and validates config text; `file` is only used in messages.
    pub fn parse(text: &str, file: &Path, base_dir: &Path) -> Result<Self, ConfigError> {
        Self::parse_with(text, file, base_dir, true)
    }

    fn parse_with(text: &str, file: &Path, base_dir: &Path, model_required: bool) -> Result<Self, ConfigError> {
        let syntax = |e: &serde_json::Error| ConfigError::Syntax {
            file: file.to_path_buf(),
            line: e.line(),
            column: e.column(),
            problem: strip_position(&e.to_string()),
        };
        let de = &mut serde_json::Deserializer::from_str(text);
        let mut cfg: StationConfig = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
            if !e.inner().is_data() {
                return syntax(e.inner());
            }
            let key = e.path().to_string();
            let problem = strip_position(&e.into_inner().to_string());
            let (key, problem) = inside_section(text, &key).unwrap_or((key, problem));
            ConfigError::Invalid {
                file: file.to_path_buf(),
                // An unknown blank key (`{"": 1}`) makes a blank path: name the level it is in.
                key: if key == "." || key.trim().is_empty() { "(top level)".into() } else { key },
                problem,
            }
        })?;
        // Anything after the one JSON value (a second config pasted below, a stray brace) is refused.
        de.end().map_err(|e| syntax(&e))?;
        cfg.base_dir = base_dir.to_path_buf();
        cfg.validate(model_required).map_err(|(key, problem)| ConfigError::Invalid {
            file: file.to_path_buf(),
            key,
            problem,
        })?;
        Ok(cfg)
    }

    /// A path from the config, resolved against the config's folder.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    fn validate(&self, model_required: bool) -> Result<(), (String, String)> {
        let bad = |k: &str, m: String| Err((k.to_string(), m));
        if self.name.trim().is_empty() {
            return bad("name", "must not be empty".into());
        }
        if self.runtime.providers.is_empty() {
            return bad("runtime.providers", "needs at least one provider (e.g. [\"cpu\"])".into());
        }
        if !(1..=MAX_INTRA_THREADS).contains(&self.runtime.intra_threads) {
            return bad(
                "runtime.intra_threads",
                format!("{} is outside 1..={MAX_INTRA_THREADS}", self.runtime.intra_threads),
            );
        }
        if let Some(lib) = &self.runtime.library {
            let lib = self.resolve(lib);
            if !lib.is_file() {
                return bad("runtime.library", format!("{} is not a file", lib.display()));
            }
        }
        let model = self.resolve(self.inspection.model());
        if model_required && !model.is_file() {
            return bad("inspection.model", format!("{} is not a file", model.display()));
        }
        match &self.inspection {
            InspectionConfig::Seal(seal) => self.validate_seal(seal)?,
            InspectionConfig::Electrode(e) => {
                if let Some(t) = e.score_threshold {
                    if let Some(m) = outside_threshold_band(t) {
                        return bad("inspection.score_threshold", m);
                    }
                }
                if let Some(p) = e.pixel_size_mm {
                    if !(p > 0.0 && p < 100.0) {
                        return bad("inspection.pixel_size_mm", format!("{p} is outside (0, 100)"));
                    }
                }
                if let Some(h) = e.homography {
                    if let Err(err) = crate::inspect::align::Homography(h).inverse() {
                        return bad("inspection.homography", err.to_string());
                    }
                }
                if e.rules.is_empty() {
                    return bad("inspection.rules", "needs at least one rule (what does a defect do?)".into());
                }
                if let Err(err) = crate::inspect::defect_rules::validate(&e.rules, e.pixel_size_mm) {
                    return bad(&format!("inspection.{}", err.key), err.problem.to_string());
                }
                let outputs = self.gpio.output_names();
                for (i, r) in e.rules.iter().enumerate() {
                    if !outputs.contains(&r.output) {
                        return bad(
                            &format!("inspection.rules[{i}].output"),
                            format!("'{}' is not an output (gpio: {})", r.output, outputs.join(", ")),
                        );
                    }
                }
            }
        }
        let cavities = self.inspection.cavities();
        let seal_source = matches!(self.source, SourceConfig::Replay { .. } | SourceConfig::V4l2(_));
        match (&self.inspection, seal_source) {
            (InspectionConfig::Seal(_), false) => {
                return bad("source.kind", "a seal station takes one camera: \"replay\" or \"v4l2\"".into())
            }
            (InspectionConfig::Electrode(_), true) => {
                return bad("source.kind", "an electrode station takes image pairs: \"coco\" or \"pair\"".into())
            }
            _ => {}
        }
        self.validate_source(&self.source, "source", cavities)?;
        match &self.trigger {
            TriggerConfig::FreeRun { rate_hz } => {
                if !RATE_HZ.contains(rate_hz) {
                    return bad(
                        "trigger.rate_hz",
                        format!("{rate_hz:?} is outside {:?}..={:?}", RATE_HZ.start(), RATE_HZ.end()),
                    );
                }
            }
            TriggerConfig::Gpio(g) => {
                if g.debounce_ms > 1000 {
                    return bad("trigger.debounce_ms", format!("{} is over 1000", g.debounce_ms));
                }
            }
        }
        let a = &self.actuation;
        if a.pulse_ms == 0 || a.pulse_ms > 10_000 {
            return bad("actuation.pulse_ms", format!("{} is outside 1..10000", a.pulse_ms));
        }
        if a.delay_ms > 60_000 {
            return bad("actuation.delay_ms", format!("{} is over 60000", a.delay_ms));
        }
        if !(10..=100_000).contains(&a.overload_window) {
            return bad("actuation.overload_window", format!("{} is outside 10..100000 parts", a.overload_window));
        }
        if !(a.overload_max_share > 0.0 && a.overload_max_share < 1.0) {
            // 1.0 could never be exceeded: an alarm that cannot fire.
            return bad("actuation.overload_max_share", format!("{} is outside (0, 1)", a.overload_max_share));
        }
        let pl = &self.plausibility;
        for (camera, bounds) in [("camera", &pl.camera), ("xray", &pl.xray)] {
            if let Err((k, m)) = bounds.validate() {
                return bad(&format!("plausibility.{camera}.{k}"), m);
            }
        }
        if !(1..=1000).contains(&pl.alarm_after) {
            return bad("plausibility.alarm_after", format!("{} is outside 1..1000 frames", pl.alarm_after));
        }
        if let Some(m) = pl.min_reference_similarity.filter(|m| !(-1.0..=1.0).contains(m)) {
            return bad("plausibility.min_reference_similarity", format!("{m} is outside -1..1 (null: off)"));
        }
        if a.pulse_ms >= a.delay_ms.max(1) * 10 {
            // Not an error in itself, but a pulse far longer than the travel time overlaps many parts.
            log::warn!("actuation.pulse_ms {} is long against delay_ms {}", a.pulse_ms, a.delay_ms);
        }
        let mut names: Vec<String> = match &self.gpio {
            GpioConfig::Sim { .. } => self.gpio.output_names().iter().map(|n| format!("'{n}'")).collect(),
            GpioConfig::Chardev(ChardevConfig { reject, alarm, ready, chip, markers, .. }) => {
                let lines: Vec<String> = reject
                    .iter()
                    .chain(std::iter::once(alarm))
                    .chain(ready)
                    .chain(markers.values())
                    .map(|l| l.line.to_string())
                    .collect();
                if let TriggerConfig::Gpio(t) = &self.trigger {
                    if t.chip == *chip && lines.contains(&t.line.to_string()) {
                        return bad("trigger.line", format!("{} is also an output", t.line));
                    }
                }
                lines
            }
        };
        let rejects = match &self.gpio {
            GpioConfig::Sim { reject, .. } => reject.len(),
            GpioConfig::Chardev(c) => c.reject.len(),
        };
        if rejects != cavities {
            return bad(
                "gpio.reject",
                format!("has {rejects} line(s) but inspection.cavities is {cavities}: one reject output per cavity"),
            );
        }
        names.sort();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return bad("gpio", format!("line {} is used twice", w[0]));
        }
        let mu = &self.model_updates;
        if !(50..=60_000).contains(&mu.settle_ms) {
            return bad("model_updates.settle_ms", format!("{} is outside 50..60000", mu.settle_ms));
        }
        if !(1024..=(4u64 << 30)).contains(&mu.max_model_bytes) {
            return bad("model_updates.max_model_bytes", format!("{} is outside 1 KiB..4 GiB", mu.max_model_bytes));
        }
        if !(100..=600_000).contains(&mu.load_timeout_ms) {
            return bad("model_updates.load_timeout_ms", format!("{} is outside 100..600000", mu.load_timeout_ms));
        }
        match &mu.public_key {
            Some(k) => {
                if let Err(e) = crate::model::integrity::read_public_key(&self.resolve(k)) {
                    return bad("model_updates.public_key", e.to_string());
                }
            }
            None if mu.require_signature => {
                return bad("model_updates.public_key", "require_signature needs a public key to check with".into());
            }
            None => {}
        }
        self.records.validate(self)?;
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

impl InspectionConfig {
    pub fn model(&self) -> &Path {
        match self {
            InspectionConfig::Seal(s) => &s.model,
            InspectionConfig::Electrode(e) => &e.model,
        }
    }

    /// Parts per trigger: the seal fixture's cavities; one electrode sheet.
    pub fn cavities(&self) -> usize {
        match self {
            InspectionConfig::Seal(s) => s.cavities,
            InspectionConfig::Electrode(_) => 1,
        }
    }
}

/// A pinned threshold is held to the band a model file's is: 1.0 would pass every part, 0.0 reject all.
fn outside_threshold_band(t: f32) -> Option<String> {
    let (lo, hi) = crate::model::manifest::THRESHOLD_BAND;
    (!(lo..=hi).contains(&t)).then(|| format!("{t} is outside {lo}..{hi} (1.0 would pass every part)"))
}

impl StationConfig {
    fn validate_seal(&self, seal: &SealConfig) -> Result<(), (String, String)> {
        let bad = |k: &str, m: String| Err((k.to_string(), m));
        if let Some(t) = seal.threshold {
            if let Some(m) = outside_threshold_band(t) {
                return bad("inspection.threshold", m);
            }
        }
        if !(1..=16).contains(&seal.cavities) {
            return bad("inspection.cavities", format!("{} is outside 1..16", seal.cavities));
        }
        if seal.recipes.is_empty() {
            return bad("inspection.recipes", "needs at least one recipe".into());
        }
        for (name, r) in &seal.recipes {
            let p = self.resolve(&r.reference);
            if !p.is_file() {
                return bad(&format!("inspection.recipes.{name}.reference"), format!("{} is not a file", p.display()));
            }
        }
        if !seal.recipes.contains_key(&seal.recipe) {
            let known: Vec<_> = seal.recipes.keys().cloned().collect();
            return bad(
                "inspection.recipe",
                format!("'{}' is not in inspection.recipes ({})", seal.recipe, known.join(", ")),
            );
        }
        Ok(())
    }

    fn validate_source(&self, src: &SourceConfig, key: &str, cavities: usize) -> Result<(), (String, String)> {
        let bad = |k: String, m: String| Err((k, m));
        match src {
            SourceConfig::Replay { path, .. } | SourceConfig::Coco { path, .. } => {
                let p = self.resolve(path);
                if !p.is_dir() {
                    return bad(format!("{key}.path"), format!("{} is not a folder", p.display()));
                }
            }
            SourceConfig::V4l2(v) => {
                if !(1..=16384).contains(&v.width) || !(1..=16384).contains(&v.height) {
                    return bad(format!("{key}.width"), format!("{}x{} is outside 1..16384", v.width, v.height));
                }
                if !(2..=32).contains(&v.buffers) {
                    return bad(format!("{key}.buffers"), format!("{} is outside 2..32", v.buffers));
                }
                if v.fps.is_some_and(|f| !(1..=1000).contains(&f)) {
                    return bad(format!("{key}.fps"), format!("{} is outside 1..1000", v.fps.unwrap_or(0)));
                }
                if !(10..=60_000).contains(&v.timeout_ms) {
                    return bad(format!("{key}.timeout_ms"), format!("{} is outside 10..60000", v.timeout_ms));
                }
                if v.reconnect_min_ms == 0 || v.reconnect_min_ms > v.reconnect_max_ms {
                    return bad(
                        format!("{key}.reconnect_min_ms"),
                        format!(
                            "{} must be over 0 and at most reconnect_max_ms ({})",
                            v.reconnect_min_ms, v.reconnect_max_ms
                        ),
                    );
                }
                if cavities != 1 {
                    return bad(
                        "inspection.cavities".into(),
                        format!("{cavities}: a V4L2 camera gives one frame per trigger, so one cavity"),
                    );
                }
            }
            SourceConfig::Pair { visible, xray, max_skew_ms } => {
                for (name, s) in [("visible", visible), ("xray", xray)] {
                    if matches!(**s, SourceConfig::Pair { .. } | SourceConfig::Coco { .. }) {
                        return bad(format!("{key}.{name}.kind"), "one imager: \"v4l2\" or \"replay\"".into());
                    }
                    self.validate_source(s, &format!("{key}.{name}"), cavities)?;
                }
                if *max_skew_ms == 0 || *max_skew_ms > 10_000 {
                    return bad(format!("{key}.max_skew_ms"), format!("{max_skew_ms} is outside 1..10000"));
                }
            }
        }
        Ok(())
    }
}

impl GpioConfig {
    /// Every output line's name as rules and the timeline use it.
    pub fn output_names(&self) -> Vec<String> {
        match self {
            GpioConfig::Sim { reject, alarm, ready, markers, .. } => {
                reject.iter().chain(std::iter::once(alarm)).chain(ready).chain(markers).cloned().collect()
            }
            GpioConfig::Chardev(c) => (0..c.reject.len())
                .map(|i| format!("reject{i}"))
                .chain(["alarm".to_string()])
                .chain(c.ready.as_ref().map(|_| "ready".to_string()))
                .chain(c.markers.keys().cloned())
                .collect(),
        }
    }
}

/// serde loses the key path inside a section chosen by its `kind` (or `backend`): the error says only
/// `source`. This reads that section again as the chosen kind's own struct to name the key inside it.
fn inside_section(text: &str, section: &str) -> Option<(String, String)> {
    fn find<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Option<(String, String)> {
        serde_path_to_error::deserialize::<_, T>(v)
            .err()
            .map(|e| (e.path().to_string(), strip_position(&e.into_inner().to_string())))
    }
    let root: serde_json::Value = serde_json::from_str(text).ok()?;
    let mut v = root.get(section)?.clone();
    let tag = v.as_object_mut()?.remove(if section == "gpio" { "backend" } else { "kind" })?;
    let (key, problem) = match (section, tag.as_str()?) {
        ("source", "v4l2") => find::<V4l2Config>(v),
        ("trigger", "gpio") => find::<GpioTriggerConfig>(v),
        ("gpio", "chardev") => find::<ChardevConfig>(v),
        ("inspection", "seal") => find::<SealConfig>(v),
        ("inspection", "electrode") => find::<ElectrodeConfig>(v),
        _ => None,
    }?;
    Some((format!("{section}.{key}"), problem))
}

/// serde_json appends " at line L column C"; the key path already says where.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}
