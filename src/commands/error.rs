//! What a command can fail with, and the exit code each failure gives.

use std::path::PathBuf;

use cellgate::config::ConfigError;
use cellgate::gpio_chip::ChipError;
use cellgate::inspect::electrode::align::AlignError;
use cellgate::inspect::preprocess::PreprocessError;
use cellgate::inspect::InspectError;
use cellgate::model::integrity::KeyError;
use cellgate::model::store::RollbackError;
use cellgate::model::ModelError;
use cellgate::runtime::RuntimeError;
use cellgate::sources::image_file::ImageFileError;
use cellgate::sources::pairing::PairError;
use cellgate::sources::replay::ReplayError;
use cellgate::sources::v4l2::device::{CameraError, ControlError};
use cellgate::sources::SourceError;
use cellgate::station::StationError;

use super::status;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Station(#[from] StationError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Rollback(#[from] RollbackError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("signal handling: {0}")]
    Signals(#[source] nix::Error),
    #[error("{name} thread: {source}")]
    Thread { name: &'static str, source: std::io::Error },
    #[error("camera {0}")]
    Camera(#[from] CameraError),
    #[error("{device}: {source}")]
    Controls { device: PathBuf, source: ControlError },
    #[error(transparent)]
    Capture(#[from] SourceError),
    #[error(transparent)]
    Pair(#[from] PairError),
    #[error("encode: {0}")]
    Encode(#[source] image::ImageError),
    #[error("{path}: {source}")]
    ImageSave { path: PathBuf, source: image::ImageError },
    #[error(transparent)]
    ImageFile(#[from] ImageFileError),
    #[error(transparent)]
    Gpio(#[from] ChipError),
    #[error("{chip} line {offset}: {source}")]
    GpioSet { chip: String, offset: u32, source: std::io::Error },
    #[error("{path}: {}: {}", .source.path(), .source.inner())]
    Points { path: PathBuf, source: serde_path_to_error::Error<serde_json::Error> },
    #[error("{path}: {source}")]
    Calibration { path: PathBuf, source: AlignError },
    #[error(transparent)]
    Align(#[from] AlignError),
    #[error(transparent)]
    Replay(#[from] ReplayError),
    #[error(transparent)]
    Preprocess(#[from] PreprocessError),
    #[error(transparent)]
    Inspect(#[from] InspectError),
    /// A pair the bench could not align as the station would.
    #[error(transparent)]
    Part(#[from] cellgate::inspect::PartError),
    /// A bare ONNX Runtime call of the bench.
    #[error(transparent)]
    Ort(#[from] ort::Error),
    /// The bench's Python baseline (`--compare-python`).
    #[error(transparent)]
    Baseline(#[from] super::bench_python::BaselineError),
    /// Printing a result as JSON.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Metrics(#[from] cellgate::metrics::file::MetricsFileError),
    /// `status`: the station is not running and inspecting.
    #[error(transparent)]
    NotReporting(#[from] status::NotReporting),
    #[error(transparent)]
    Control(#[from] cellgate::control::ControlError),
    /// The running station refused a request, with its reason.
    #[error("refused: {0}")]
    Refused(String),
    /// A message to the user about what they asked: a bad argument, or nothing there to act on.
    #[error("{0}")]
    Usage(String),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Config(_) | CliError::Station(StationError::Config(_) | StationError::Golden(_)) => 2,
            CliError::Runtime(_)
            | CliError::Model(_)
            | CliError::Station(StationError::Runtime(_) | StationError::Inspect(_) | StationError::Load(_)) => 3,
            // Everything else: a tool failed or was asked for something it cannot do.
            _ => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_stay_by_kind_config_2_runtime_3_the_rest_1() {
        let io = || std::io::Error::from_raw_os_error(2);
        assert_eq!(CliError::Config(ConfigError::Read { path: "s.json".into(), source: io() }).exit_code(), 2);
        assert_eq!(CliError::Runtime(RuntimeError::LibraryMissing { tried: String::new() }).exit_code(), 3);
        // A config section a component's build refuses is a bad config too, whichever component it is.
        let twice = cellgate::key_problem::KeyProblem::new("gpio", "line 'x' is used twice");
        let from_outputs = StationError::from(cellgate::sinks::gpio::GpioError::Config(twice));
        assert!(matches!(from_outputs, StationError::Config(_)), "{from_outputs:?}");
        assert_eq!(from_outputs.to_string(), "gpio: line 'x' is used twice");
        assert_eq!(CliError::Station(from_outputs).exit_code(), 2);
        for e in [
            CliError::Usage("--rate 0 is outside 0.001..=1000".into()),
            CliError::Io { path: "k.secret".into(), source: io() },
            CliError::Key(KeyError::SecretNotHex),
            CliError::Signals(nix::Error::EPERM),
        ] {
            assert_eq!(e.exit_code(), 1, "{e}");
        }
    }
}
