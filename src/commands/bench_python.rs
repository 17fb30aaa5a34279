//! The Python baseline of `cellgate bench --compare-python PYTHON`: the loop a user would write in an
//! afternoon (`scripts/bench_python.py`, OpenCV + onnxruntime), run each round beside the station's rows
//! so that the ratio is measured in the same minutes on the same machine. The binary carries the script,
//! so an installed station can be compared without the repository.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

use super::bench::Row;
use super::CliError;

const SCRIPT: &str = include_str!("../../scripts/bench_python.py");

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("cannot start the Python baseline with {python}: {source}")]
    Start { python: PathBuf, source: std::io::Error },
    #[error("the Python baseline ({python}) failed ({status}): {stderr}")]
    Failed { python: PathBuf, status: std::process::ExitStatus, stderr: String },
    #[error("the Python baseline printed no result line: {0}")]
    Output(#[source] serde_json::Error),
}

/// What the baseline runs: the station's model and inputs, its thread count.
pub(super) struct Baseline {
    python: PathBuf,
    args: Vec<String>,
}

#[derive(Deserialize)]
struct Figures {
    parts_per_s: f64,
    p50: f64,
    p99: f64,
    what: String,
}

impl Baseline {
    pub(super) fn new(python: &Path, kind: &str, model: &Path, images: &Path, parts: usize, threads: usize) -> Self {
        let args = vec![
            "-".into(),
            "--kind".into(),
            kind.into(),
            "--model".into(),
            model.display().to_string(),
            "--images".into(),
            images.display().to_string(),
            "--parts".into(),
            parts.to_string(),
            "--threads".into(),
            threads.to_string(),
        ];
        Baseline { python: python.to_path_buf(), args }
    }

    /// The same loop on the seal's encoder+head pair, with the reference embedding cached.
    pub(super) fn split(mut self) -> Self {
        self.args.push("--split".into());
        self
    }

    /// One run of the script: its figures as a row of the table.
    pub(super) fn measure(&self) -> Result<Row, CliError> {
        let start = |source| BaselineError::Start { python: self.python.clone(), source };
        let mut child = Command::new(&self.python)
            .args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(start)?;
        if let Some(mut stdin) = child.stdin.take() {
            // A script that exits before reading it all reports why on stderr, below.
            let _ = stdin.write_all(SCRIPT.as_bytes());
        }
        let out = child.wait_with_output().map_err(start)?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
            let stderr = tail.into_iter().rev().collect::<Vec<_>>().join(" | ");
            return Err(BaselineError::Failed { python: self.python.clone(), status: out.status, stderr }.into());
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let last = stdout.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
        let f: Figures = serde_json::from_str(last).map_err(BaselineError::Output)?;
        Ok(Row { parts_per_s: f.parts_per_s, p50: f.p50, p99: f.p99, note: f.what })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A stand-in interpreter: a shell script that reads the program on stdin and answers as told.
    fn fake_python(dir: &Path, body: &str) -> PathBuf {
        let p = dir.join("python");
        std::fs::write(
            &p,
            format!("#!/bin/sh\ncat > {}/script.py\necho \"$@\" > {}/args\n{body}\n", dir.display(), dir.display()),
        )
        .unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[test]
    fn the_baseline_gets_the_script_and_the_station_inputs_and_its_figures_become_a_row() {
        let dir = tempfile::tempdir().unwrap();
        let line = r#"{"parts_per_s": 412.5, "p50": 2.25, "p99": 3.5, "what": "seal full graph"}"#;
        let py = fake_python(dir.path(), &format!("echo 'loading'; echo '{line}'"));
        let b = Baseline::new(&py, "seal", Path::new("/m/seal.onnx"), Path::new("/data"), 300, 2).split();
        let row = b.measure().unwrap();
        assert_eq!((row.parts_per_s, row.p50, row.p99), (412.5, 2.25, 3.5));
        assert_eq!(row.note, "seal full graph");
        assert_eq!(std::fs::read_to_string(dir.path().join("script.py")).unwrap(), SCRIPT);
        let args = std::fs::read_to_string(dir.path().join("args")).unwrap();
        assert_eq!(args.trim(), "- --kind seal --model /m/seal.onnx --images /data --parts 300 --threads 2 --split");
    }

    #[test]
    fn a_baseline_that_fails_or_prints_no_figures_is_an_error_that_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let py = fake_python(dir.path(), "echo \"ModuleNotFoundError: No module named 'cv2'\" >&2; exit 1");
        let err = Baseline::new(&py, "electrode", Path::new("m"), Path::new("d"), 10, 2).measure().unwrap_err();
        assert!(matches!(err, CliError::Baseline(BaselineError::Failed { .. })), "{err}");
        assert!(err.to_string().contains("No module named 'cv2'"), "{err}");

        let py = fake_python(dir.path(), "echo 'no figures here'");
        let err = Baseline::new(&py, "electrode", Path::new("m"), Path::new("d"), 10, 2).measure().unwrap_err();
        assert!(matches!(err, CliError::Baseline(BaselineError::Output(_))), "{err}");

        let missing = dir.path().join("no-such-python");
        let err = Baseline::new(&missing, "seal", Path::new("m"), Path::new("d"), 10, 2).measure().unwrap_err();
        assert!(matches!(err, CliError::Baseline(BaselineError::Start { .. })), "{err}");
    }
}
