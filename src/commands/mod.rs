//! The command line: one module per command.

mod bench;
mod bench_electrode;
mod bench_python;
mod calibrate;
mod camera;
mod check_config;
mod control;
mod devices;
mod error;
mod evaluate;
mod gpio;
mod models;
mod replay;
mod run;
mod status;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub use error::CliError;

/// Firmware of an AI inspection station: captures frames, runs ONNX models, decides pass/fail and
/// drives the reject outputs.
#[derive(Parser)]
#[command(name = "cellgate", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    cmd: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the station until SIGTERM (or until a non-looping replay source ends).
    Run {
        /// Station config (JSON).
        #[arg(long, default_value = "/etc/cellgate/station.json")]
        config: PathBuf,
    },
    /// Replay a folder of images through the station once: per-part verdicts and a summary. Given a
    /// folder in the DESIGN seal dataset format, also reports agreement with its labels.
    Replay {
        #[arg(long)]
        config: PathBuf,
        /// Folder of images, or a dataset folder with manifest.jsonl.
        #[arg(long)]
        images: PathBuf,
        /// Trigger rate instead of the config's (parts per second).
        #[arg(long)]
        rate: Option<f64>,
        /// Print only the summary, not a line per part.
        #[arg(long)]
        quiet: bool,
        /// Replay the folder in a loop until this many triggers (soak runs); without it, once.
        #[arg(long)]
        parts: Option<u64>,
        /// No pacing: the next trigger comes as soon as the inference queue has room (the bench's mode).
        #[arg(long, conflicts_with = "rate")]
        flat_out: bool,
    },
    /// The X-ray -> visible homography of an electrode station from point pairs picked on a calibration
    /// target; prints the per-point residuals and the matrix for the config.
    Calibrate {
        /// JSON: {"pairs": [{"xray": [x, y], "visible": [x, y]}, ...]}, at least 4 pairs, not collinear.
        #[arg(long)]
        points: PathBuf,
        /// Visible image of the target, to write an alignment overlay (with --xray and --out).
        #[arg(long, requires_all = ["xray", "out"])]
        visible: Option<PathBuf>,
        #[arg(long, requires_all = ["visible", "out"])]
        xray: Option<PathBuf>,
        /// Overlay PNG: visible in grey, warped X-ray in magenta.
        #[arg(long, requires_all = ["visible", "xray"])]
        out: Option<PathBuf>,
    },
    /// Cameras (formats, sizes, rates, controls) and GPIO chips (lines, names, consumers) on this machine.
    Devices {
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Save one camera frame as the station would see it (a wiring check, or a recipe's reference).
    Capture {
        /// Camera node, e.g. /dev/video0 or /dev/v4l/by-id/...
        #[arg(long)]
        device: PathBuf,
        /// Pixel format by fourcc: MJPG, YUYV, GREY, Y16, RGB3.
        #[arg(long, default_value = "YUYV")]
        format: String,
        #[arg(long, default_value_t = 640)]
        width: u32,
        #[arg(long, default_value_t = 480)]
        height: u32,
        #[arg(long)]
        fps: Option<u32>,
        /// Control to set first, name=value (names as `cellgate devices` lists them); repeatable.
        #[arg(long = "control")]
        controls: Vec<String>,
        /// PNG to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// List a camera's controls, or set some: `cellgate controls --device /dev/video0 exposure_time_absolute=120`.
    Controls {
        #[arg(long)]
        device: PathBuf,
        /// name=value pairs to set; none lists the controls.
        set: Vec<String>,
    },
    /// GPIO wiring checks.
    Gpio {
        #[command(subcommand)]
        cmd: GpioCommand,
    },
    /// Validate a config file: every key, every path it names.
    CheckConfig { config: PathBuf },
    /// Model files.
    Models {
        #[command(subcommand)]
        cmd: ModelsCommand,
    },
    /// The running station's health (alarm, ready, how fresh its metrics file is), model and counters,
    /// from `model_updates.state_dir/metrics.json`. Exit 1 when the file is missing, stale (older than
    /// three `metrics.period_ms`) or was written at the station's exit.
    Status {
        #[arg(long, default_value = "/etc/cellgate/station.json")]
        config: PathBuf,
        /// Print the metrics file as it is (JSON).
        #[arg(long)]
        json: bool,
    },
    /// Judge a labelled folder (DESIGN seal or electrode format) with the station's own code, no
    /// deadline, and print accuracy, NG recall, false reject, per-defect recall and the confusion.
    Evaluate {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        data: PathBuf,
        /// Also write the figures and every sample's verdict here (JSON).
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// The running station's active recipe, or switch it to NAME from the next part on (over the local
    /// control socket; no token: the socket's permissions are the guard).
    Recipe {
        #[arg(long, default_value = "/etc/cellgate/station.json")]
        config: PathBuf,
        name: Option<String>,
    },
    /// Teach a recipe's reference from the live camera: keeps the next part judged OK against the current
    /// reference (--force: the next plausible frame) as `<reference stem>.candidate.png` and prints it;
    /// --confirm makes it the reference (the old one kept as `<stem>.previous.png`), taking over between
    /// two parts once the station has loaded and self-tested it; --discard drops it; --rollback puts the
    /// previous reference back.
    Teach {
        #[arg(long, default_value = "/etc/cellgate/station.json")]
        config: PathBuf,
        #[arg(long)]
        recipe: String,
        /// Take the next plausible frame whatever the model says of it (a recipe whose look changed).
        #[arg(long, conflicts_with_all = ["confirm", "discard", "rollback"])]
        force: bool,
        #[arg(long, conflicts_with_all = ["discard", "rollback"])]
        confirm: bool,
        #[arg(long, conflicts_with = "rollback")]
        discard: bool,
        #[arg(long)]
        rollback: bool,
        /// Seconds to wait for the part.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
    /// Station throughput and latency against bare ONNX Runtime on the same model and inputs.
    Bench {
        #[arg(long)]
        config: PathBuf,
        /// Folder of images to feed (default: the config's replay folder).
        #[arg(long)]
        images: Option<PathBuf>,
        /// Parts per measurement.
        #[arg(long, default_value_t = 600)]
        parts: usize,
        /// Rounds: each row is measured once per round, bare and station runs interleaved, and the
        /// overhead is the median of the rounds' (robust to a machine whose speed drifts).
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Also run the loop a user would write in Python (OpenCV + onnxruntime, one part at a time) with
        /// this interpreter, in the same rounds, and print the station's rate against it
        /// (`bash scripts/setup-bench.sh` prints one that has what it needs).
        #[arg(long, value_name = "PYTHON")]
        compare_python: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum GpioCommand {
    /// Drive one output active for MS milliseconds, then release it inactive.
    Pulse {
        /// Chip by path, name (gpiochip0) or label.
        chip: String,
        /// Line offset or name.
        line: String,
        ms: u64,
        /// The line is active-low (the solenoid fires at 0 V).
        #[arg(long)]
        active_low: bool,
    },
}

#[derive(Subcommand)]
enum ModelsCommand {
    /// Print a model's manifest, its graph's inputs/outputs, and the provider it runs on.
    Inspect {
        file: PathBuf,
        /// Take the runtime settings (library, providers, threads) from this config.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Build a model file's session on the CPU and check its manifest, as a station does in a child
    /// process before loading a file (killed at model_updates.load_timeout_ms). Prints `vetted <sha256>`
    /// or `refused <reason>`.
    Vet {
        file: PathBuf,
        /// The ONNX Runtime library (default: as `run` finds it).
        #[arg(long)]
        library: Option<PathBuf>,
        /// Largest file read, in bytes (model_updates.max_model_bytes).
        #[arg(long, default_value_t = cellgate::model::FilePolicy::default().max_bytes)]
        max_bytes: u64,
    },
    /// The model in use, swaps, refusals with their reasons, and the last events.
    Status {
        #[arg(long, default_value = "/etc/cellgate/station.json")]
        config: PathBuf,
    },
    /// Put the previous model back (the running station validates and swaps it in like any drop).
    Rollback {
        #[arg(long, default_value = "/etc/cellgate/station.json")]
        config: PathBuf,
    },
    /// Sign a model file for stations that require signatures: writes `<file>.sig`.
    Sign {
        /// File holding the ed25519 secret key (64 hex characters).
        #[arg(long)]
        key: PathBuf,
        file: PathBuf,
    },
    /// Make an ed25519 key pair: `<out>.secret` (keep off the station) and `<out>.pub` (for the config).
    Keygen { out: PathBuf },
}

pub fn run(cli: Cli) -> Result<(), CliError> {
    match cli.cmd {
        Command::Run { config } => run::run(&config),
        Command::Replay { config, images, rate, quiet, parts, flat_out } => {
            replay::run(&config, &images, replay::Pace { rate, parts, flat_out }, quiet)
        }
        Command::CheckConfig { config } => check_config::run(&config),
        Command::Devices { json } => devices::run(json),
        Command::Capture { device, format, width, height, fps, controls, out } => {
            camera::capture(camera::CaptureArgs {
                device: &device,
                format: &format,
                width,
                height,
                fps,
                controls: &controls,
                out: &out,
            })
        }
        Command::Controls { device, set } => camera::controls(&device, &set),
        Command::Gpio { cmd: GpioCommand::Pulse { chip, line, ms, active_low } } => {
            let Ok(line) = line.parse();
            gpio::pulse(&chip, &line, ms, active_low)
        }
        Command::Calibrate { points, visible, xray, out } => {
            let check = match (&visible, &xray, &out) {
                (Some(v), Some(x), Some(o)) => Some((v.as_path(), x.as_path(), o.as_path())),
                _ => None,
            };
            calibrate::run(&points, check)
        }
        Command::Models { cmd } => match cmd {
            ModelsCommand::Inspect { file, config } => models::inspect(&file, config.as_deref()),
            ModelsCommand::Vet { file, library, max_bytes } => models::vet(&file, library.as_deref(), max_bytes),
            ModelsCommand::Status { config } => models::status(&config),
            ModelsCommand::Rollback { config } => models::rollback(&config),
            ModelsCommand::Sign { key, file } => models::sign(&key, &file),
            ModelsCommand::Keygen { out } => models::keygen(&out),
        },
        Command::Status { config, json } => status::run(&config, json),
        Command::Evaluate { config, data, json } => evaluate::run(&config, &data, json.as_deref()),
        Command::Recipe { config, name } => control::recipe(&config, name),
        Command::Teach { config, recipe, force, confirm, discard, rollback, timeout } => {
            let action = match (confirm, discard, rollback) {
                (true, _, _) => control::TeachAction::Confirm,
                (_, true, _) => control::TeachAction::Discard,
                (_, _, true) => control::TeachAction::Rollback,
                _ => control::TeachAction::Teach { force, timeout: std::time::Duration::from_secs(timeout) },
            };
            control::teach(&config, recipe, action)
        }
        Command::Bench { config, images, parts, rounds, compare_python } => {
            bench::run(&config, &bench::Options { images, parts, rounds, python: compare_python })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cellgate::model::integrity::KeyError;

    fn cli(args: &[&str]) -> Result<(), CliError> {
        run(Cli::parse_from(std::iter::once("cellgate").chain(args.iter().copied())))
    }

    #[test]
    fn keygen_never_overwrites_a_key_and_a_bad_secret_is_a_key_error() {
        let dir = tempfile::tempdir().expect("tmp");
        let out = dir.path().join("line1");
        let out = out.to_str().expect("utf-8 path");
        cli(&["models", "keygen", out]).expect("first keygen");
        let e = cli(&["models", "keygen", out]).expect_err("second keygen");
        assert!(matches!(e, CliError::Usage(_)), "{e:?}");
        assert_eq!(e.to_string(), format!("{out}.secret: exists; not overwritten (remove it first)"));

        let (bad, model) = (dir.path().join("bad.secret"), dir.path().join("m.onnx"));
        std::fs::write(&bad, "zz\n").expect("write");
        std::fs::write(&model, b"model").expect("write");
        let e = cli(&["models", "sign", "--key", bad.to_str().expect("utf-8"), model.to_str().expect("utf-8")])
            .expect_err("bad secret");
        assert!(matches!(e, CliError::Key(KeyError::SecretNotHex)), "{e:?}");
        assert_eq!(e.to_string(), "secret key: expected 64 hex characters");
    }
}
