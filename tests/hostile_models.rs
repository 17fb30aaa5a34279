//! Hostile or broken model files at start-up and in `cellgate models inspect`: a station starts only on a
//! file a swap would take (signature, external data, threshold band, a self-test that tells a defect
//! from a good part, a load that ends), and nothing a technician drops makes a command hang.
//! The same files dropped into a running station: `tests/model_swap.rs`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use cellgate::config::{Provider, RuntimeConfig, SealConfig, StationConfig};
use cellgate::inspect::seal::{SealClassifier, SealContract};
use cellgate::inspect::synthetic::{seal_defect, SealDefect};
use cellgate::model::{FilePolicy, GraphRole, LoadedModel, ModelError};
use cellgate::runtime::Runtime;
use cellgate::sources::replay::read_rgb;
use cellgate::sources::{Frame, FrameInfo, PixelFormat};
use cellgate::station::{Overrides, Station};
use serde_json::json;

const SECRET: &str = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";
const OTHER_SECRET: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

fn fixture(name: &str) -> PathBuf {
    common::fixtures().join("models").join(name)
}

fn rt() -> Runtime {
    Runtime::load(&RuntimeConfig { providers: vec![Provider::Cpu], ..Default::default() }, None).expect("ONNX Runtime")
}

/// Waits for a child, killing it (and failing) if it is still running after `limit`: a hang.
fn wait_or_kill(mut child: Child, limit: Duration, what: &str) -> Output {
    let t0 = Instant::now();
    while child.try_wait().expect("status").is_none() {
        if t0.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("wait");
            panic!("{what} hangs: {}", String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

fn cellgate(args: &[&std::ffi::OsStr]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_cellgate"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start cellgate")
}

/// `cellgate run` on the test config (model `model`, `edit` applied): it must refuse to start.
fn start_refused(dir: &Path, model: &Path, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let _serial = common::serial();
    let cfg = common::write_config(dir, |v| {
        v["inspection"]["model"] = json!(model);
        v["source"]["loop"] = json!(true);
        edit(v);
    });
    let out = wait_or_kill(
        cellgate(&["run".as_ref(), "--config".as_ref(), cfg.as_os_str()]),
        Duration::from_secs(60),
        "start",
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(3), "refused as a model error: {stderr}");
    assert!(!dir.join("results.jsonl").exists() || common::read_jsonl(&dir.join("results.jsonl")).is_empty());
    stderr
}

/// A copy of the shipped seal model (full graph only) in `dir`.
fn shipped_copy(dir: &Path) -> PathBuf {
    let p = dir.join("onnx").join("seal_classifier.onnx");
    std::fs::create_dir_all(p.parent().expect("dir")).expect("mkdir");
    std::fs::copy(common::model(), &p).expect("copy");
    p
}

fn require_signatures(v: &mut serde_json::Value, dir: &Path) {
    let key = dir.join("station.pub");
    std::fs::write(&key, cellgate::model::integrity::public_of(SECRET).expect("key")).expect("key");
    v["model_updates"]["require_signature"] = json!(true);
    v["model_updates"]["public_key"] = json!(key);
}

#[test]
fn a_station_requiring_signatures_does_not_start_on_an_unsigned_badly_signed_or_mismatched_model() {
    use cellgate::model::integrity::sign_file;
    // Unsigned.
    let dir = tempfile::tempdir().expect("tempdir");
    let model = shipped_copy(dir.path());
    let d = dir.path().to_path_buf();
    let e = start_refused(dir.path(), &model, |v| require_signatures(v, &d));
    assert!(e.contains("unsigned") && e.contains(&model.display().to_string()), "names the file and why: {e}");

    // Signed by another key.
    let dir = tempfile::tempdir().expect("tempdir");
    let model = shipped_copy(dir.path());
    sign_file(&model, OTHER_SECRET).expect("sign");
    let d = dir.path().to_path_buf();
    let e = start_refused(dir.path(), &model, |v| require_signatures(v, &d));
    assert!(e.contains("signature does not verify") && e.contains("seal_classifier.onnx"), "{e}");

    // Signed, then a .sha256 sidecar that does not match (the file was swapped for another).
    let dir = tempfile::tempdir().expect("tempdir");
    let model = shipped_copy(dir.path());
    sign_file(&model, SECRET).expect("sign");
    std::fs::write(dir.path().join("onnx/seal_classifier.onnx.sha256"), format!("{}  x\n", "0".repeat(64)))
        .expect("sidecar");
    let d = dir.path().to_path_buf();
    let e = start_refused(dir.path(), &model, |v| require_signatures(v, &d));
    assert!(e.contains("does not match its .sha256"), "{e}");

    // Properly signed: it starts and judges (a replay of the fixtures, which ends by itself).
    let dir = tempfile::tempdir().expect("tempdir");
    let model = shipped_copy(dir.path());
    sign_file(&model, SECRET).expect("sign");
    let d = dir.path().to_path_buf();
    let cfg = common::write_config(dir.path(), |v| {
        v["inspection"]["model"] = json!(model);
        require_signatures(v, &d);
    });
    let _serial = common::serial();
    let station = Station::build(StationConfig::load(&cfg).expect("config"), &Overrides::default());
    assert!(station.is_ok(), "a signed model starts: {:?}", station.err().map(|e| e.to_string()));
}

#[test]
fn a_model_with_external_data_is_refused_at_start_and_by_inspect() {
    let model = fixture("external_data.onnx");
    assert!(fixture("external_data.onnx.data").is_file(), "the side file is there: ONNX Runtime could read it");
    let dir = tempfile::tempdir().expect("tempdir");
    let e = start_refused(dir.path(), &model, |_| {});
    assert!(e.contains("external file") && e.contains("external_data.onnx"), "{e}");

    let out = wait_or_kill(
        cellgate(&["models".as_ref(), "inspect".as_ref(), model.as_os_str()]),
        Duration::from_secs(30),
        "inspect",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("a model must be one file"), "says why: {stderr}");
}

#[test]
fn inspect_refuses_a_fifo_and_dev_zero_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("m.onnx");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
    let zero = dir.path().join("zero.onnx");
    std::os::unix::fs::symlink("/dev/zero", &zero).expect("symlink");
    for (file, why) in [(&fifo, "FIFO"), (&zero, "character device")] {
        let out = wait_or_kill(
            cellgate(&["models".as_ref(), "inspect".as_ref(), file.as_os_str()]),
            Duration::from_secs(30),
            "inspect",
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{stderr}");
        assert!(stderr.contains(why) && stderr.contains("not a regular file"), "{stderr}");
    }
}

#[test]
fn a_model_whose_self_test_runs_forever_is_refused_at_start_within_the_deadline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = start_refused(dir.path(), &fixture("loop_forever.onnx"), |v| {
        v["model_updates"]["load_timeout_ms"] = json!(1500);
    });
    assert!(e.contains("within 1500 ms") && e.contains("loop_forever.onnx"), "{e}");
}

#[test]
fn a_model_whose_session_takes_minutes_to_build_is_refused_at_start_by_its_vetting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = start_refused(dir.path(), &fixture("slow_to_optimise.onnx"), |v| {
        v["model_updates"]["load_timeout_ms"] = json!(1500);
    });
    assert!(e.contains("slow_to_optimise.onnx: its session was not built within 1500 ms"), "{e}");
    assert!(e.contains("slow_to_optimise.onnx: vetting in a child process"), "the vetting says it starts: {e}");
}

#[test]
fn an_unsigned_model_is_refused_at_start_before_any_vetting_child_builds_it() {
    // The slow file unsigned, with a deadline far past the test's minute: were it vetted first, the
    // start would wait minutes for a child building a session from bytes nobody signed.
    let dir = tempfile::tempdir().expect("tempdir");
    let model = dir.path().join("slow_to_optimise.onnx");
    std::fs::copy(fixture("slow_to_optimise.onnx"), &model).expect("copy");
    let d = dir.path().to_path_buf();
    let e = start_refused(dir.path(), &model, |v| {
        require_signatures(v, &d);
        v["model_updates"]["load_timeout_ms"] = json!(600_000);
    });
    assert!(e.contains("unsigned") && e.contains("slow_to_optimise.onnx"), "{e}");
    assert!(!e.contains("vetting in a child process"), "refused before any vetting: {e}");
}

#[test]
fn a_file_other_than_the_vetted_bytes_is_refused_before_its_session_is_built() {
    // The slow file under the name of a vetted one (as if swapped in after its vetting): refused at once
    // by its hash; building its session would take minutes.
    let slow = fixture("slow_to_optimise.onnx");
    let good = common::model();
    let good_sha = cellgate::model::file_sha256(&good, u64::MAX).expect("sha");
    let vetted = |entries: Vec<(PathBuf, String)>| {
        let policy =
            FilePolicy { integrity: None, vetted: Some(entries.into_iter().collect()), ..FilePolicy::default() };
        rt().with_file_policy(policy)
    };
    let swapped = vetted(vec![(slow.clone(), good_sha.clone())]);
    let e = LoadedModel::open(&swapped, &slow).err().expect("refused");
    assert!(matches!(e, ModelError::NotVetted { .. }), "{e}");
    let unlisted = vetted(vec![(good.clone(), good_sha.clone())]);
    assert!(matches!(LoadedModel::open(&unlisted, &slow), Err(ModelError::NotVetted { .. })));
    // The vetted bytes themselves load.
    let m = LoadedModel::open(&unlisted, &good).expect("the vetted file");
    assert_eq!(m.sha256, good_sha);
}

#[test]
fn models_vet_prints_its_verdict_for_the_station_to_read() {
    let out = wait_or_kill(
        cellgate(&["models".as_ref(), "vet".as_ref(), common::model().as_os_str()]),
        Duration::from_secs(60),
        "vet",
    );
    let sha = cellgate::model::file_sha256(&common::model(), u64::MAX).expect("sha");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("vetted {sha}"));
    let out = wait_or_kill(
        cellgate(&["models".as_ref(), "vet".as_ref(), fixture("wrong_task.onnx").as_os_str()]),
        Duration::from_secs(60),
        "vet",
    );
    assert_eq!(out.status.code(), Some(3));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.starts_with("refused ") && said.contains("breaks the electrode_detector contract"), "{said}");
}

#[test]
fn an_oversized_model_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = start_refused(dir.path(), &common::model(), |v| v["model_updates"]["max_model_bytes"] = json!(65536));
    assert!(e.contains("over the 65536-byte limit"), "{e}");
}

/// The shipped seal model with its manifest's `"ng": <threshold>` replaced in place: the new number is
/// padded with spaces to the old one's length, so the file keeps its size and stays valid ONNX.
fn seal_with_threshold(to: &str) -> Vec<u8> {
    let bytes = std::fs::read(common::model()).expect("model");
    let key = br#""ng": "#;
    let at = bytes.windows(key.len()).position(|w| w == key).expect("threshold in the manifest") + key.len();
    let len = bytes[at..].iter().take_while(|b| b.is_ascii_digit() || **b == b'.').count();
    assert!(to.len() <= len, "{to} is longer than the manifest's threshold");
    let mut out = bytes.clone();
    out[at..at + len].copy_from_slice(format!("{to:<len$}").as_bytes());
    out
}

#[test]
fn manifest_thresholds_outside_the_band_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    for t in ["1.0", "0.0", "2.0"] {
        let p = dir.path().join(format!("t{t}.onnx"));
        std::fs::write(&p, seal_with_threshold(t)).expect("write");
        let e = match LoadedModel::load(&rt(), &p, &SealContract, GraphRole::Full) {
            Ok(_) => panic!("thresholds.ng {t} accepted"),
            Err(e) => e.to_string(),
        };
        assert!(e.contains("thresholds.ng") && e.contains("outside 0.05..0.95"), "{e}");
    }
    let p = dir.path().join("t0.6.onnx");
    std::fs::write(&p, seal_with_threshold("0.6")).expect("write");
    let m = LoadedModel::load(&rt(), &p, &SealContract, GraphRole::Full).expect("0.6 is in the band");
    assert_eq!(m.manifest.threshold("ng"), Some(0.6));
}

#[test]
fn the_config_threshold_pins_the_manifest_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("m.onnx");
    std::fs::write(&p, seal_with_threshold("0.6")).expect("write");
    let refs =
        std::iter::once(("recipe-a".to_string(), common::fixtures().join("seal/references/recipe-a.png"))).collect();
    let cfg = |threshold| SealConfig {
        model: p.clone(),
        use_split: false,
        threshold,
        recipe: "recipe-a".into(),
        recipes: Default::default(),
        cavities: 1,
    };
    assert_eq!(SealClassifier::load(&rt(), &cfg(None), &p, &refs).expect("load").threshold(), 0.6);
    assert_eq!(SealClassifier::load(&rt(), &cfg(Some(0.3)), &p, &refs).expect("load").threshold(), 0.3);
}

#[test]
fn an_always_ok_seal_model_fails_its_self_test_and_does_not_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = start_refused(dir.path(), &fixture("always_ok.onnx"), |_| {});
    assert!(e.contains("self-test failed") && e.contains("crack drawn on the reference is judged OK"), "{e}");
}

#[test]
fn a_detector_that_finds_nothing_fails_its_self_test_and_does_not_start() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("station.json");
    let v = json!({
        "name": "electrode-test",
        "runtime": { "providers": ["cpu"], "intra_threads": 2 },
        "inspection": {
            "kind": "electrode",
            "model": fixture("never_finds.onnx"),
            "rules": [ { "classes": ["scratch", "foreign_object", "inclusion", "crack", "dark_spot"], "output": "reject0" } ]
        },
        "source": { "kind": "coco", "path": common::root().join("scripts/demo/electrode") },
        "trigger": { "kind": "free_run", "rate_hz": 4 },
        "gpio": { "backend": "sim", "reject": ["reject0"], "alarm": "alarm" },
        "records": { "results": dir.path().join("results.jsonl") },
        "model_updates": { "watch": false, "state_dir": dir.path().join("models") }
    });
    std::fs::write(&cfg, v.to_string()).expect("config");
    let e = match Station::build(StationConfig::load(&cfg).expect("config"), &Overrides::default()) {
        Ok(_) => panic!("a detector that finds nothing started"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("self-test failed") && e.contains("it found 0"), "{e}");
}

fn rgb(path: &Path, recipe: &str) -> Frame {
    let (width, height, data) = read_rgb(path).expect("image");
    Frame {
        width,
        height,
        format: PixelFormat::Rgb8,
        data: data.into(),
        timestamp: Instant::now(),
        sequence: 0,
        info: std::sync::Arc::new(FrameInfo { recipe: Some(recipe.into()), ..FrameInfo::default() }),
    }
}

/// The measurement behind the seal self-test: the shipped model against each demo recipe's reference
/// and vivid's horizontal colour bars (the HIL test's reference pattern), itself and with the drawn
/// crack. Each must pass the self-test at the model's threshold: the reference OK, the crack NG.
#[test]
fn self_test_the_shipped_seal_model_tells_the_drawn_crack_from_the_reference() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bars = dir.path().join("hbars.png");
    // vivid's "Horizontal 100% Colorbar": white, yellow, cyan, green, magenta, red, blue, black bands.
    const BANDS: [[u8; 3]; 8] = [
        [255, 255, 255],
        [255, 255, 0],
        [0, 255, 255],
        [0, 255, 0],
        [255, 0, 255],
        [255, 0, 0],
        [0, 0, 255],
        [0, 0, 0],
    ];
    image::RgbImage::from_fn(320, 180, |_, y| image::Rgb(BANDS[(y * 8 / 180) as usize])).save(&bars).expect("png");
    let mut refs: std::collections::BTreeMap<String, PathBuf> = ["recipe-a", "recipe-b", "recipe-c", "recipe-d"]
        .iter()
        .map(|r| (r.to_string(), common::root().join(format!("scripts/demo/seal/references/{r}.png"))))
        .collect();
    refs.insert("vivid-horizontal-bars".into(), bars);
    for use_split in [false, true] {
        let cfg = SealConfig {
            model: common::model(),
            use_split,
            threshold: None,
            recipe: "recipe-a".into(),
            recipes: Default::default(),
            cavities: 1,
        };
        let mut insp = SealClassifier::load(&rt(), &cfg, &common::model(), &refs).expect("shipped model");
        let threshold = insp.threshold();
        for (recipe, path) in &refs {
            let reference = rgb(path, recipe);
            let cracked = seal_defect(&reference, SealDefect::Crack);
            let s = insp.infer(&[&reference, &cracked]).expect("infer");
            println!("split {use_split} {recipe}: reference p_ng {:.4}, crack p_ng {:.4}", s[0][1], s[1][1]);
            assert!(s[0][1] < threshold && s[1][1] >= threshold, "{recipe} at threshold {threshold}: {s:?}");
        }
    }
}

#[test]
fn sigterm_while_the_start_is_stuck_in_a_model_load_stops_at_once() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = common::write_config(dir.path(), |v| {
        v["inspection"]["model"] = json!(fixture("loop_forever.onnx"));
        v["model_updates"]["load_timeout_ms"] = json!(600_000);
    });
    let stderr = dir.path().join("stderr.log");
    let child = Command::new(env!("CARGO_BIN_EXE_cellgate"))
        .args(["run", "--config"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).expect("log"))
        .spawn()
        .expect("start");
    let log = || std::fs::read_to_string(&stderr).unwrap_or_default();
    let t0 = Instant::now();
    while !log().contains("loading, warming and self-testing") {
        assert!(t0.elapsed() < Duration::from_secs(30), "no load started: {}", log());
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM)
        .expect("SIGTERM");
    let out = wait_or_kill(child, Duration::from_secs(15), "a start stuck in a model load after SIGTERM");
    assert!(out.status.success(), "{:?}: {}", out.status, log());
    assert!(log().contains("stopped while loading"), "{}", log());
}
