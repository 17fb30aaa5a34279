//! The qualification gate (issue 23 item 3): a station with a golden set of its own labelled parts
//! judges every model on it before the model judges a part. A model worse on the set is refused with its
//! figures while the line runs on the old one; a model as good takes over; a broken golden set stops the
//! start with a clear error; an electrode station's gate gives the same mAP50 as `cellgate evaluate`.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cellgate::config::StationConfig;
use cellgate::model::store::{ModelStatus, ModelStore};
use cellgate::station::{Overrides, Station};
use serde_json::{json, Value};

const FILES: [&str; 3] = ["seal_classifier.onnx", "seal_classifier.encoder.onnx", "seal_classifier.head.onnx"];

/// The labelled seal fixture set (12 parts: 2 OK, 10 NG; the shipped model judges all of them right).
fn golden() -> PathBuf {
    common::fixtures().join("seal")
}

/// A seal station at the demo's rate and reject delay, on a copy of the shipped model set, with the
/// fixture set as its golden set.
fn seal_line(dir: &Path, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let models = dir.join("onnx");
    std::fs::create_dir_all(&models).expect("mkdir");
    for f in FILES {
        std::fs::copy(common::root().join("onnx").join(f), models.join(f)).expect("copy model");
    }
    common::write_config(dir, |v| {
        v["inspection"]["model"] = json!(models.join(FILES[0]));
        v["source"]["path"] = json!(common::root().join("scripts/demo/seal"));
        v["source"]["loop"] = json!(true);
        v["trigger"]["rate_hz"] = json!(10);
        v["actuation"]["delay_ms"] = json!(400);
        v["model_updates"]["golden"] = json!(golden());
        v["model_updates"]["min_accuracy"] = json!(0.9);
        v["model_updates"]["min_ng_recall"] = json!(0.9);
        edit(v);
    })
}

fn status(dir: &Path) -> ModelStatus {
    ModelStore::read_status(&dir.join("models")).unwrap_or_default()
}

fn wait_for(dir: &Path, what: &str, pred: impl Fn(&ModelStatus) -> bool) -> ModelStatus {
    let t0 = Instant::now();
    loop {
        let s = status(dir);
        if pred(&s) {
            return s;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "timed out waiting for {what}: {s:#?}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Drops a file the safe way: written beside under a temp name, renamed over the model.
fn drop_safely(dir: &Path, bytes: &[u8]) {
    let tmp = dir.join("onnx").join(".incoming");
    std::fs::write(&tmp, bytes).expect("write");
    std::fs::rename(&tmp, dir.join("onnx").join(FILES[0])).expect("rename");
}

/// The shipped full graph under another version (same length: the protobuf stays valid).
fn version_bumped(to: &str) -> Vec<u8> {
    let mut bytes = std::fs::read(common::model()).expect("model");
    let from = br#""version": "2.2.0""#;
    let to = format!(r#""version": "{to}""#);
    let at = bytes.windows(from.len()).position(|w| w == from).expect("manifest version");
    bytes[at..at + from.len()].copy_from_slice(to.as_bytes());
    bytes
}

fn models_status(cfg: &Path) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cellgate"))
        .args(["models", "status", "--config"])
        .arg(cfg)
        .output()
        .expect("models status");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_model_worse_on_the_golden_set_is_refused_with_its_figures_and_one_as_good_takes_over() {
    let _serial = common::serial();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let cfg_path = seal_line(dir, |_| {});
    let station =
        Station::build(StationConfig::load(&cfg_path).expect("config"), &Overrides::default()).expect("station");
    let start = status(dir);
    let qualified = start.events.iter().find(|e| e.event == "qualified").expect("the start model's figures");
    assert_eq!(qualified.detail, "accuracy 100.00%, NG recall 100.00% on 12 golden parts", "{start:#?}");

    let stop = Arc::new(AtomicBool::new(false));
    std::thread::scope(|s| {
        let st = stop.clone();
        let h = s.spawn(move || station.run(st));
        {
            let _stop = common::StopOnDrop(stop.clone());
            std::thread::sleep(Duration::from_millis(600));
            // Passes its self-test, but rejects every good part: 10 of 12 right.
            let worse = std::fs::read(common::fixtures().join("models/rejects_real_parts.onnx")).expect("fixture");
            drop_safely(dir, &worse);
            let st = wait_for(dir, "the refusal", |s| s.refusals == 1);
            let reason = &st.events.last().expect("event").detail;
            assert!(
                reason.contains("accuracy 83.33% < model_updates.min_accuracy 90.00%")
                    && reason.contains("accuracy 83.33% is 16.67% worse than the running model's 100.00%")
                    && reason.contains("the running model's: accuracy 100.00%, NG recall 100.00% on 12 golden parts"),
                "{reason}"
            );
            assert_eq!(st.active.as_ref().map(|a| a.name.as_str()), Some("seal-siamese-attention"));
            let shown = models_status(&cfg_path);
            assert!(shown.contains("accuracy 83.33% < model_updates.min_accuracy 90.00%"), "{shown}");
            std::thread::sleep(Duration::from_millis(600));
            // The same weights as a new version: as good, so it takes over.
            drop_safely(dir, &version_bumped("2.2.7"));
            let st = wait_for(dir, "the swap", |s| s.swaps == 1);
            assert_eq!(st.active.as_ref().map(|a| a.version.as_str()), Some("2.2.7"));
            assert!(st.events.iter().any(|e| e.event == "qualified" && e.detail.starts_with("accuracy 100.00%")));
            std::thread::sleep(Duration::from_millis(600));
        }
        h.join().expect("station thread").expect("station run")
    });
    let results = common::read_jsonl(&dir.join("results.jsonl"));
    assert!(results.len() >= 15, "{} parts", results.len());
    let versions: Vec<&str> = results.iter().map(|r| r["model"]["version"].as_str().unwrap_or("none")).collect();
    let first_new = versions.iter().position(|v| *v == "2.2.7").expect("parts judged by the new model");
    assert!(versions[..first_new].iter().all(|v| *v == "2.2.0"), "{versions:?}");
    assert!(versions[first_new..].iter().all(|v| *v == "2.2.7"), "{versions:?}");
    assert!(results.iter().all(|r| r["model"]["name"] == "seal-siamese-attention"), "the refused model judged a part");
    // The qualifications ran beside inspection at the demo's rate: no part was late or went unjudged.
    assert!(results.iter().all(|r| r["late"] == false && r["verdict"] != "error"), "{results:#?}");
}

#[test]
fn a_start_on_a_model_below_the_minimums_is_refused_with_its_figures() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = seal_line(tmp.path(), |v| {
        v["inspection"]["model"] = json!(common::fixtures().join("models/rejects_real_parts.onnx"));
    });
    let e = Station::build(StationConfig::load(&cfg).expect("config"), &Overrides::default())
        .err()
        .expect("the start is refused")
        .to_string();
    assert!(
        e.contains("qualification on the golden set failed")
            && e.contains("accuracy 83.33% < model_updates.min_accuracy 90.00%"),
        "{e}"
    );
}

/// A copy of the golden fixture set that `spoil` damages.
fn spoiled_golden(dir: &Path, spoil: impl FnOnce(&Path)) -> PathBuf {
    let g = dir.join("golden");
    for sub in ["samples", "references"] {
        std::fs::create_dir_all(g.join(sub)).expect("mkdir");
        for e in std::fs::read_dir(golden().join(sub)).expect("fixture") {
            let p = e.expect("entry").path();
            std::fs::copy(&p, g.join(sub).join(p.file_name().expect("name"))).expect("copy");
        }
    }
    std::fs::copy(golden().join("manifest.jsonl"), g.join("manifest.jsonl")).expect("copy");
    spoil(&g);
    g
}

fn start_error(golden: &Path, dir: &Path) -> String {
    let cfg = seal_line(dir, |v| v["model_updates"]["golden"] = json!(golden));
    Station::build(StationConfig::load(&cfg).expect("config"), &Overrides::default())
        .err()
        .expect("the start is refused")
        .to_string()
}

#[test]
fn a_golden_set_with_a_missing_image_a_bad_label_line_or_an_unknown_recipe_stops_the_start_clearly() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let g = spoiled_golden(tmp.path(), |g| std::fs::remove_file(g.join("samples/000008.png")).expect("rm"));
    let e = start_error(&g, tmp.path());
    assert!(e.starts_with("model_updates.golden: golden set") && e.contains("samples/000008.png"), "{e}");
    // check-config reads the set as the start does: the technician finds out before a restart.
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_cellgate"))
        .arg("check-config")
        .arg(tmp.path().join("station.json"))
        .output()
        .expect("check-config");
    let said = String::from_utf8_lossy(&check.stderr);
    assert_eq!(check.status.code(), Some(2), "{said}");
    assert!(said.contains("model_updates.golden") && said.contains("samples/000008.png"), "{said}");

    let tmp = tempfile::tempdir().expect("tempdir");
    let g = spoiled_golden(tmp.path(), |g| {
        let m = std::fs::read_to_string(g.join("manifest.jsonl")).expect("manifest");
        let m = m.replacen(r#""label": "ok""#, r#""label": "fine""#, 1);
        std::fs::write(g.join("manifest.jsonl"), m).expect("write");
    });
    let e = start_error(&g, tmp.path());
    assert!(e.contains("manifest.jsonl:2") && e.contains("label must be 'ok' or 'ng', got 'fine'"), "{e}");

    let tmp = tempfile::tempdir().expect("tempdir");
    let g = spoiled_golden(tmp.path(), |g| {
        let m = std::fs::read_to_string(g.join("manifest.jsonl")).expect("manifest");
        std::fs::write(g.join("manifest.jsonl"), m.replacen("recipe-d.png", "recipe-z.png", 1)).expect("write");
    });
    let e = start_error(&g, tmp.path());
    assert!(e.contains("recipe 'recipe-z' has no reference on this station"), "{e}");

    let tmp = tempfile::tempdir().expect("tempdir");
    let g = spoiled_golden(tmp.path(), |g| std::fs::remove_file(g.join("manifest.jsonl")).expect("rm"));
    let e = start_error(&g, tmp.path());
    assert!(e.contains("no manifest.jsonl"), "{e}");
}

#[test]
fn check_config_counts_the_golden_set() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cfg = seal_line(tmp.path(), |_| {});
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cellgate"))
        .arg("check-config")
        .arg(&cfg)
        .output()
        .expect("check-config");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && said.contains("; golden set: 2 OK, 10 NG parts)"), "{said}");
}

#[test]
fn a_limit_without_a_golden_set_or_of_the_wrong_kind_names_its_key() {
    let tmp = tempfile::tempdir().expect("tempdir");
    for (edit, key) in [
        (json!({ "golden": null, "min_accuracy": 0.9 }), "model_updates.min_accuracy"),
        (json!({ "min_map50": 0.9 }), "model_updates.min_map50"),
        (json!({ "max_regression": 2 }), "model_updates.max_regression"),
    ] {
        let cfg = seal_line(tmp.path(), |v| {
            for (k, x) in edit.as_object().expect("object") {
                v["model_updates"][k] = x.clone();
            }
        });
        let e = StationConfig::load(&cfg).expect_err("refused").to_string();
        assert!(e.contains(key), "{key}: {e}");
    }
}

#[test]
fn an_electrode_gate_gives_the_figures_cellgate_evaluate_gives() {
    let _serial = common::serial();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let set = common::fixtures().join("electrode");
    let cfg = serde_json::json!({
        "name": "electrode-gate",
        "runtime": { "providers": ["cpu"], "intra_threads": 2 },
        "inspection": {
            "kind": "electrode",
            "model": common::root().join("onnx/electrode_detector.onnx"),
            "rules": [{ "classes": ["scratch", "dark_spot", "foreign_object", "inclusion", "crack"], "output": "reject0" }]
        },
        "source": { "kind": "coco", "path": set },
        "trigger": { "kind": "free_run", "rate_hz": 4 },
        "actuation": { "delay_ms": 1500, "pulse_ms": 40 },
        "gpio": { "backend": "sim", "timeline": dir.join("gpio.jsonl"), "reject": ["reject0"], "alarm": "alarm" },
        "records": { "results": dir.join("results.jsonl") },
        "model_updates": { "watch": false, "state_dir": dir.join("models"), "golden": set, "min_map50": 0.5 }
    });
    let path = dir.join("station.json");
    std::fs::write(&path, cfg.to_string()).expect("write config");
    let station = Station::build(StationConfig::load(&path).expect("config"), &Overrides::default()).expect("station");
    drop(station);
    let gate = status(dir).events.into_iter().find(|e| e.event == "qualified").expect("qualified").detail;

    let json = dir.join("evaluate.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cellgate"))
        .args(["evaluate", "--config"])
        .arg(&path)
        .arg("--data")
        .arg(&set)
        .arg("--json")
        .arg(&json)
        .output()
        .expect("evaluate");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ev: Value = serde_json::from_slice(&std::fs::read(&json).expect("json")).expect("figures");
    let pct = |k: &str| format!("{:.2}%", 100.0 * ev[k].as_f64().expect(k));
    let want = format!(
        "accuracy {}, NG recall {}, mAP50 {}, miss rate {} on {} golden parts",
        pct("accuracy"),
        pct("ng_recall"),
        pct("map50"),
        pct("miss_rate"),
        ev["samples"]
    );
    assert_eq!(gate, want);
}
