//! The `cellgate` executable as an operator or a service manager uses it.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::json;

fn cellgate() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cellgate"));
    c.env("RUST_LOG", "info");
    c
}

/// Runs `cellgate ARGS --config C --images <the seal fixtures>` on a test config; its stdout, after
/// checking that it succeeded.
fn on_seal_fixtures(args: &[&str]) -> String {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = common::write_config(dir.path(), |_| {});
    let out = cellgate()
        .args(args)
        .arg("--config")
        .arg(&cfg)
        .arg("--images")
        .arg(common::fixtures().join("seal"))
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `cellgate run` on a config, its output captured.
fn start_station(cfg: &std::path::Path) -> std::process::Child {
    cellgate()
        .args(["run", "--config"])
        .arg(cfg)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start cellgate")
}

#[test]
fn sigterm_settles_parts_in_flight_sets_outputs_safe_and_exits_zero() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = common::write_config(dir.path(), |v| {
        v["source"]["loop"] = json!(true);
        v["trigger"]["rate_hz"] = json!(40);
        v["actuation"]["delay_ms"] = json!(300);
    });
    let child = start_station(&cfg);
    // Wait until parts are flowing (results appear), then stop it as systemd would.
    let results = dir.path().join("results.jsonl");
    let t0 = Instant::now();
    while common::read_jsonl(&results).len() < 5 {
        assert!(t0.elapsed() < Duration::from_secs(20), "station produced no results");
        std::thread::sleep(Duration::from_millis(50));
    }
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).expect("SIGTERM");
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit status {:?}: {stderr}", out.status);
    assert!(stderr.contains("SIGTERM: stopping"), "{stderr}");

    // Every part triggered before the stop is in the log exactly once, including those that were
    // still travelling to the reject point (delay 300 ms at 40 parts/s: ~12 in flight).
    let recs = common::read_jsonl(&results);
    let ids: Vec<u64> = recs.iter().map(|r| r["part"].as_u64().expect("part")).collect();
    assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>(), "no gaps, no duplicates");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("parts {} ", ids.len())), "summary counts the logged parts: {stdout}");

    let timeline = common::read_jsonl(&dir.path().join("gpio.jsonl"));
    let mut last = std::collections::BTreeMap::new();
    for c in &timeline {
        last.insert(c["line"].as_str().expect("line").to_string(), c["value"].as_u64().expect("value"));
    }
    assert!(last.values().all(|&v| v == 0), "outputs safe at exit: {last:?}");
}

#[test]
fn check_config_names_the_bad_key_and_exits_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = common::write_config(dir.path(), |v| v["actuation"]["pulse_ms"] = json!(-5));
    let out = cellgate().arg("check-config").arg(&cfg).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("actuation.pulse_ms"), "{err}");

    let good = common::write_config(dir.path(), |_| {});
    let out = cellgate().arg("check-config").arg(&good).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn models_inspect_shows_manifest_graph_and_provider() {
    let out = cellgate().args(["models", "inspect"]).arg(common::model()).output().expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("task      seal_classifier"), "{stdout}");
    assert!(stdout.contains("provider  cpu"), "{stdout}");
    assert!(stdout.contains("contract  ok"), "{stdout}");
    assert!(stdout.contains("\"weights_sha256\""), "{stdout}");
}

#[test]
fn models_inspect_refuses_a_broken_file_with_exit_3() {
    let bad = common::fixtures().join("models/no_manifest.onnx");
    let out = cellgate().args(["models", "inspect"]).arg(&bad).output().expect("run");
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cellgate.manifest"));
}

#[test]
fn replay_of_a_labelled_folder_reports_agreement() {
    let stdout = on_seal_fixtures(&["replay", "--rate", "50"]);
    // The agreement the golden outputs give with the fixtures' labels, as the replay must report it.
    let text = std::fs::read_to_string(common::fixtures().join("seal/golden.json")).expect("golden.json");
    let golden: serde_json::Value = serde_json::from_str(&text).expect("golden JSON");
    let pairs = golden["pairs"].as_array().expect("pairs");
    let agree = pairs
        .iter()
        .filter(|p| {
            let p_ng = p["probs"][1].as_f64().expect("p_ng") as f32;
            (p_ng >= common::golden_threshold()) == (p["label"] == "ng")
        })
        .count();
    let want = format!("labels: 12 parts  accuracy {:.2}%", 100.0 * agree as f64 / pairs.len() as f64);
    assert!(stdout.contains(&want), "want '{want}' in: {stdout}");
    assert_eq!(stdout.lines().filter(|l| l.starts_with("part ")).count(), 12, "a line per part");
}

#[test]
fn evaluate_judges_a_labelled_folder_offline_and_leaves_the_station_records_alone() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = common::write_config(dir.path(), |_| {});
    let figures = dir.path().join("figures.json");
    let out = cellgate()
        .args(["evaluate", "--config"])
        .arg(&cfg)
        .arg("--data")
        .arg(common::fixtures().join("seal"))
        .arg("--json")
        .arg(&figures)
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Every pair scored as the golden outputs score it, and the figures follow from those scores.
    let golden: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(common::fixtures().join("seal/golden.json")).expect("golden"))
            .expect("golden JSON");
    let fw: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&figures).expect("figures")).expect("JSON");
    let samples = fw["per_sample"].as_array().expect("per_sample");
    let pairs = golden["pairs"].as_array().expect("pairs");
    assert_eq!(samples.len(), pairs.len());
    let mut right = 0;
    for p in pairs {
        let s = samples.iter().find(|s| s["frame"] == p["image"]).expect("every pair judged");
        let want = p["probs"][1].as_f64().expect("p_ng");
        assert!((s["p_ng"].as_f64().expect("p_ng") - want).abs() < 1e-4, "{s} against {want}");
        right += usize::from((want >= common::golden_threshold() as f64) == (p["label"] == "ng"));
    }
    let accuracy = right as f64 / pairs.len() as f64;
    assert!((fw["accuracy"].as_f64().expect("accuracy") - accuracy).abs() < 1e-9, "{fw}");
    assert!(stdout.contains(&format!("samples {}", pairs.len())), "{stdout}");
    assert!(stdout.contains(&format!("accuracy          {:.2}%", 100.0 * accuracy)), "{stdout}");
    assert!(stdout.contains("per-defect recall\n  crack"), "the patent's defects in their order: {stdout}");
    // Offline: nothing written where the station keeps its records.
    assert!(!dir.path().join("results.jsonl").exists() && !dir.path().join("ng").exists());

    let out =
        cellgate().args(["evaluate", "--config"]).arg(&cfg).args(["--data", "/nonexistent/set"]).output().expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/set"), "names the folder");
}

#[test]
fn bench_prints_every_row_and_the_overhead_of_each_round() {
    let stdout = on_seal_fixtures(&["bench", "--parts", "12", "--rounds", "2"]);
    for row in [
        "bare ORT: full graph, batch 1",
        "bare ORT: encoder+head, cached reference, batch 1",
        "station: full graph, batch 1",
        "station: encoder+head, batch 1",
        "station: encoder+head, 6 cavities per batch",
    ] {
        let line = stdout.lines().find(|l| l.starts_with(row)).unwrap_or_else(|| panic!("no row {row}: {stdout}"));
        let rate: f64 = line[row.len()..].split_whitespace().next().and_then(|v| v.parse().ok()).expect("rate");
        assert!(rate > 0.0, "{line}");
    }
    // Each comparison shows its median and both rounds' figures.
    for what in ["(full graph, batch 1)", "(encoder+head, batch 1)"] {
        let line = stdout.lines().find(|l| l.contains(what)).unwrap_or_else(|| panic!("no overhead {what}: {stdout}"));
        let rounds = line.split("rounds: ").nth(1).and_then(|r| r.split(';').next()).expect("rounds");
        assert_eq!(rounds.split(", ").count(), 2, "{line}");
    }
    assert!(stdout.contains("vs naive pair-per-part"), "{stdout}");
}

#[test]
fn bench_runs_the_python_loop_in_the_same_rounds_and_prints_the_station_against_it() {
    // A stand-in interpreter that takes the script on stdin and answers as the baseline does, at a known
    // rate: the rows and ratios must carry it through, round by round.
    let dir = tempfile::tempdir().expect("tempdir");
    let python = dir.path().join("python");
    let line = r#"{"parts_per_s": 100.0, "p50": 10.0, "p99": 12.0, "what": "stand-in"}"#;
    std::fs::write(&python, format!("#!/bin/sh\ncat > /dev/null\necho '{line}'\n")).expect("write");
    std::fs::set_permissions(&python, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    let py = python.to_str().expect("utf-8 path");
    let stdout = on_seal_fixtures(&["bench", "--parts", "12", "--rounds", "2", "--compare-python", py]);
    for row in
        ["python: OpenCV + onnxruntime, full graph, batch 1", "python: OpenCV + onnxruntime, encoder+head, batch 1"]
    {
        let line = stdout.lines().find(|l| l.starts_with(row)).unwrap_or_else(|| panic!("no row {row}: {stdout}"));
        assert!(line.contains("100.0") && line.contains("stand-in"), "{line}");
    }
    let station = stdout.lines().find(|l| l.starts_with("station: encoder+head, batch 1")).expect("station row");
    let rate: f64 = station["station: encoder+head, batch 1".len()..]
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .expect("rate");
    for what in ["vs the Python loop on the full graph", "vs the Python loop on encoder+head"] {
        let line = stdout.lines().find(|l| l.contains(what)).unwrap_or_else(|| panic!("no ratio {what}: {stdout}"));
        let rounds = line.split("rounds: ").nth(1).and_then(|r| r.split(';').next()).expect("rounds");
        let ratios: Vec<f64> = rounds.split(", ").map(|r| r.trim_end_matches('x').parse().expect("ratio")).collect();
        assert_eq!(ratios.len(), 2, "{line}");
        // The printed station row is one of the rounds, so one round's ratio is its rate over 100.
        assert!(ratios.iter().any(|r| (r - rate / 100.0).abs() < 0.006), "{line} against {rate} parts/s");
    }
}

#[test]
fn missing_onnx_runtime_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = common::write_config(dir.path(), |_| {});
    // The library is searched beside the executable too, so run a copy from an empty folder.
    let exe = dir.path().join("cellgate");
    std::fs::copy(env!("CARGO_BIN_EXE_cellgate"), &exe).expect("copy binary");
    let out = Command::new(&exe)
        .env("ORT_DYLIB_PATH", dir.path().join("missing.so"))
        .current_dir(dir.path())
        .args(["replay", "--config"])
        .arg(&cfg)
        .arg("--images")
        .arg(common::fixtures().join("seal"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ONNX Runtime library not found") && err.contains("ORT_DYLIB_PATH"), "{err}");
}

#[test]
fn calibrate_estimates_the_homography_from_point_pairs_and_writes_an_overlay() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Picks on a target seen by both imagers: the X-ray is shifted (12, -7) px and scaled 1.05 on the visible.
    let pairs: Vec<serde_json::Value> = [(20.0, 30.0), (200.0, 25.0), (210.0, 220.0), (30.0, 215.0), (120.0, 120.0)]
        .iter()
        .map(|&(x, y): &(f64, f64)| json!({ "xray": [x, y], "visible": [1.05 * x + 12.0, 1.05 * y - 7.0] }))
        .collect();
    let points = dir.path().join("points.json");
    std::fs::write(&points, json!({ "pairs": pairs }).to_string()).expect("write");
    let fx = common::fixtures().join("electrode");
    let overlay = dir.path().join("overlay.png");
    let out = cellgate()
        .args(["calibrate", "--points"])
        .arg(&points)
        .arg("--visible")
        .arg(fx.join("visible/000000.png"))
        .arg("--xray")
        .arg(fx.join("xray/000000.png"))
        .arg("--out")
        .arg(&overlay)
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let matrix: Vec<Vec<f64>> =
        stdout.lines().find_map(|l| serde_json::from_str(l).ok()).expect("the matrix as a JSON line");
    let want = [[1.05, 0.0, 12.0], [0.0, 1.05, -7.0], [0.0, 0.0, 1.0]];
    for (r, w) in matrix.iter().zip(want) {
        for (a, b) in r.iter().zip(w) {
            assert!((a - b).abs() < 1e-6, "{matrix:?}");
        }
    }
    assert!(stdout.contains("RMS residual: 0.000 px over 5 points"), "{stdout}");
    let img = image::open(&overlay).expect("overlay png");
    assert_eq!((img.width(), img.height()), (256, 256));

    // Three picks cannot fix a homography: a clear error, nothing else.
    std::fs::write(&points, json!({ "pairs": &pairs[..3] }).to_string()).expect("write");
    let out = cellgate().args(["calibrate", "--points"]).arg(&points).output().expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 4 point pairs, got 3"));
}

#[test]
fn keygen_never_overwrites_a_key_and_the_secret_is_private_from_the_start() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("line1");
    let keygen = || cellgate().args(["models", "keygen"]).arg(&out).output().expect("keygen");
    let first = keygen();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let secret = dir.path().join("line1.secret");
    let mode = std::fs::metadata(&secret).expect("secret").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "secret key mode {mode:o}");
    let before = std::fs::read(&secret).expect("secret");
    let second = keygen();
    assert!(!second.status.success(), "a second keygen over the same name must fail");
    assert!(String::from_utf8_lossy(&second.stderr).contains("not overwritten"));
    assert_eq!(std::fs::read(&secret).expect("secret"), before, "the existing secret is untouched");
}

#[test]
fn status_shows_a_running_station_and_fails_when_its_metrics_are_stale_from_its_exit_or_missing() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = common::write_config(dir.path(), |v| {
        v["source"]["loop"] = json!(true);
        // One write at the start and one at the exit: however loaded the machine, the first stays fresh
        // (30 minutes) while `status` runs.
        v["metrics"] = json!({ "period_ms": 600000 });
    });
    let status = |extra: &[&str]| cellgate().arg("status").arg("--config").arg(&cfg).args(extra).output().expect("run");
    let out = status(&[]);
    assert_eq!(out.status.code(), Some(1), "no station has run yet");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("metrics.json: no metrics file"), "{err}");

    let child = start_station(&cfg);
    let file = dir.path().join("models/metrics.json");
    let t0 = Instant::now();
    let running = loop {
        let f: Option<serde_json::Value> = std::fs::read(&file).ok().and_then(|b| serde_json::from_slice(&b).ok());
        if let Some(f) = f {
            break f;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "no metrics.json");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(running["state"], "running");
    let out = status(&[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    for want in ["station   test-station", "health    running", "ready     on", "alarm     off", "parts_settled"] {
        assert!(text.contains(want), "{want:?} not in:\n{text}");
    }

    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).expect("SIGTERM");
    assert!(child.wait_with_output().expect("wait").status.success());
    let out = status(&["--json"]);
    assert_eq!(out.status.code(), Some(1), "a station that stopped is not running");
    assert!(String::from_utf8_lossy(&out.stderr).contains("the station stopped"));
    let last: serde_json::Value = serde_json::from_slice(&out.stdout).expect("--json prints the file");
    assert_eq!(last["state"], "stopped");
    let logged = common::read_jsonl(&dir.path().join("results.jsonl")).len() as u64;
    assert_eq!(last["counters"]["parts_settled"].as_u64(), Some(logged), "final counters");

    // A running station's file from four periods ago: its station is hung or gone.
    let mut stale = last.clone();
    stale["state"] = json!("running");
    stale["written_unix_ms"] = json!(last["written_unix_ms"].as_u64().expect("written") - 4 * 600_000);
    std::fs::write(&file, serde_json::to_vec(&stale).expect("json")).expect("write");
    let out = status(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("health    STALE: last written"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("STALE"));
}
