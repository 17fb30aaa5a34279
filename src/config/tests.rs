use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::*;

fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/demo")
}

fn demo() -> Value {
    let text = std::fs::read_to_string(demo_dir().join("station.json")).expect("demo config");
    serde_json::from_str(&text).expect("demo config is JSON")
}

fn parse(v: &Value) -> Result<StationConfig, ConfigError> {
    StationConfig::parse(&v.to_string(), Path::new("station.json"), &demo_dir())
}

/// The error's key and problem, for a config edited by `edit`.
fn error_of(edit: impl FnOnce(&mut Value)) -> (String, String) {
    let mut v = demo();
    edit(&mut v);
    match parse(&v) {
        Err(ConfigError::Invalid { key, problem, .. }) => (key, problem),
        Err(e) => panic!("unexpected error kind: {e}"),
        Ok(_) => panic!("config was accepted: {v}"),
    }
}

#[test]
fn demo_config_is_valid() {
    let cfg = parse(&demo()).expect("demo config");
    assert_eq!(cfg.seal().expect("seal station").recipes.len(), 4);
    assert!(cfg.resolve(&cfg.seal().expect("seal station").model).is_file());
}

#[test]
fn documented_defaults_apply() {
    let mut v = demo();
    let o = v.as_object_mut().expect("object");
    o.remove("runtime");
    o.remove("actuation");
    o.remove("name");
    let cfg = parse(&v).expect("config without optional sections");
    assert_eq!(cfg.name, "cellgate");
    assert_eq!(cfg.runtime.providers, vec![Provider::Tensorrt, Provider::Cuda, Provider::Cpu]);
    assert_eq!(cfg.runtime.intra_threads, 2);
    assert!(cfg.runtime.tensorrt.fp16);
    assert_eq!(cfg.actuation.delay_ms, 400);
    assert_eq!(cfg.actuation.pulse_ms, 60);
    assert!(cfg.actuation.reject_on_fault);
    assert_eq!(cfg.seal().expect("seal station").cavities, 1);
    assert!(cfg.seal().expect("seal station").use_split);
}

#[test]
fn unknown_key_is_refused_with_its_path() {
    let (key, problem) = error_of(|v| v["actuation"]["delay"] = json!(10));
    assert_eq!(key, "actuation.delay");
    assert!(problem.contains("unknown field `delay`"), "{problem}");
}

#[test]
fn wrong_type_names_the_key() {
    let (key, problem) = error_of(|v| v["actuation"]["pulse_ms"] = json!("fast"));
    assert_eq!(key, "actuation.pulse_ms");
    assert!(problem.contains("invalid type"), "{problem}");
}

#[test]
fn unknown_provider_names_the_list_entry() {
    let (key, problem) = error_of(|v| v["runtime"]["providers"] = json!(["cpu", "opencl"]));
    assert_eq!(key, "runtime.providers[1]");
    assert!(problem.contains("opencl"), "{problem}");
}

#[test]
fn missing_required_section_is_named() {
    let (key, problem) = error_of(|v| {
        v.as_object_mut().expect("object").remove("trigger");
    });
    assert_eq!(key, "(top level)");
    assert!(problem.contains("missing field `trigger`"), "{problem}");
}

#[test]
fn missing_model_file_is_named() {
    let (key, problem) = error_of(|v| v["inspection"]["model"] = json!("nowhere/model.onnx"));
    assert_eq!(key, "inspection.model");
    assert!(problem.contains("is not a file"), "{problem}");
}

#[test]
fn model_update_limits_are_checked_and_default() {
    let mu = parse(&demo()).expect("demo config").model_updates;
    assert_eq!((mu.max_model_bytes, mu.load_timeout_ms), (256 * 1024 * 1024, 60_000));
    assert_eq!(error_of(|v| v["model_updates"]["max_model_bytes"] = json!(10)).0, "model_updates.max_model_bytes");
    assert_eq!(error_of(|v| v["model_updates"]["load_timeout_ms"] = json!(0)).0, "model_updates.load_timeout_ms");
    // The model tools take the model's path without requiring the file (they are used when it is gone).
    let mut v = demo();
    v["inspection"]["model"] = json!("nowhere/model.onnx");
    let cfg = StationConfig::parse_with(&v.to_string(), Path::new("station.json"), &demo_dir(), false).expect("ok");
    assert!(cfg.inspection.model().ends_with("nowhere/model.onnx"));
}

#[test]
fn missing_reference_names_the_recipe() {
    let (key, _) = error_of(|v| v["inspection"]["recipes"]["recipe-b"]["reference"] = json!("gone.png"));
    assert_eq!(key, "inspection.recipes.recipe-b.reference");
}

#[test]
fn active_recipe_must_exist() {
    let (key, problem) = error_of(|v| v["inspection"]["recipe"] = json!("recipe-z"));
    assert_eq!(key, "inspection.recipe");
    assert!(problem.contains("recipe-a"), "lists the known recipes: {problem}");
}

#[test]
fn ranges_are_checked() {
    assert_eq!(error_of(|v| v["trigger"]["rate_hz"] = json!(0)).0, "trigger.rate_hz");
    assert_eq!(error_of(|v| v["actuation"]["pulse_ms"] = json!(0)).0, "actuation.pulse_ms");
    assert_eq!(error_of(|v| v["inspection"]["threshold"] = json!(1.5)).0, "inspection.threshold");
    assert_eq!(error_of(|v| v["inspection"]["cavities"] = json!(0)).0, "inspection.cavities");
    assert_eq!(error_of(|v| v["runtime"]["providers"] = json!([])).0, "runtime.providers");
}

#[test]
fn one_reject_line_per_cavity() {
    let (key, problem) = error_of(|v| v["inspection"]["cavities"] = json!(4));
    assert_eq!(key, "gpio.reject");
    assert!(problem.contains("one reject output per cavity"), "{problem}");
}

#[test]
fn a_line_cannot_serve_twice() {
    let (key, problem) = error_of(|v| v["gpio"]["alarm"] = json!("reject0"));
    assert_eq!(key, "gpio");
    assert!(problem.contains("reject0"), "{problem}");
}

#[test]
fn unreadable_file_is_a_read_error() {
    let err = StationConfig::load(Path::new("/nonexistent/station.json")).expect_err("no file");
    assert!(err.to_string().contains("/nonexistent/station.json"), "{err}");
}

fn camera_station(v: &mut Value) {
    v["source"] = json!({"kind": "v4l2", "device": "/dev/video0", "format": "YUYV", "width": 640, "height": 480});
    v["trigger"] = json!({"kind": "gpio", "chip": "gpiochip0", "line": "photo_eye"});
    v["gpio"] = json!({"backend": "chardev", "chip": "gpiochip0", "reject": [{"line": 3}], "alarm": {"line": "alarm"}});
}

#[test]
fn a_camera_station_config_is_valid_with_documented_defaults() {
    let mut v = demo();
    camera_station(&mut v);
    let cfg = parse(&v).expect("camera station");
    let SourceConfig::V4l2(c) = &cfg.source else { panic!("not a camera source") };
    assert_eq!((c.buffers, c.timeout_ms, c.reconnect_min_ms, c.reconnect_max_ms), (4, 1000, 200, 5000));
    let TriggerConfig::Gpio(t) = &cfg.trigger else { panic!("not a GPIO trigger") };
    assert_eq!(t.debounce_ms, 5);
    assert!(matches!(t.edge, TriggerEdge::Rising));
}

#[test]
fn camera_and_gpio_mistakes_name_their_key() {
    let (key, problem) = error_of(|v| {
        camera_station(v);
        v["source"]["format"] = json!("H264");
    });
    assert_eq!(key, "source.format");
    assert!(problem.contains("MJPG") && problem.contains("YUYV"), "{problem}");
    let (key, problem) = error_of(|v| {
        camera_station(v);
        v["inspection"]["cavities"] = json!(2);
    });
    assert_eq!(key, "inspection.cavities");
    assert!(problem.contains("one frame per trigger"), "{problem}");
    let (key, problem) = error_of(|v| {
        camera_station(v);
        v["trigger"]["line"] = json!(3);
    });
    assert_eq!(key, "trigger.line");
    assert!(problem.contains("also an output"), "{problem}");
    let (key, problem) = error_of(|v| {
        camera_station(v);
        v["gpio"]["alarm"]["line"] = json!(true);
    });
    assert_eq!(key, "gpio.alarm.line");
    assert!(problem.contains("line offset (number) or a line name"), "{problem}");
    let (key, _) = error_of(|v| {
        camera_station(v);
        v["gpio"]["reject"][0]["drive"] = json!("open_collector");
    });
    assert_eq!(key, "gpio.reject[0].drive");
}

fn electrode_station(v: &mut Value) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    v["inspection"] = json!({
        "kind": "electrode",
        "model": root.join("onnx/electrode_detector.onnx"),
        "rules": [{ "classes": ["crack"], "output": "reject0" }, { "classes": ["dark_spot"], "output": "marker" }]
    });
    v["source"] = json!({ "kind": "coco", "path": root.join("scripts/demo/electrode") });
    v["gpio"]["markers"] = json!(["marker"]);
}

#[test]
fn electrode_config_mistakes_name_their_key() {
    let mut v = demo();
    electrode_station(&mut v);
    parse(&v).expect("electrode station");
    let (key, problem) = error_of(|v| {
        electrode_station(v);
        v["inspection"]["rules"][1]["output"] = json!("lamp");
    });
    assert_eq!(key, "inspection.rules[1].output");
    assert!(problem.contains("'lamp' is not an output") && problem.contains("marker"), "{problem}");
    let (key, problem) = error_of(|v| {
        electrode_station(v);
        v["inspection"]["rules"][0]["classes"] = json!(["crak"]);
    });
    assert_eq!(key, "inspection.rules[0].classes[0]");
    assert!(problem.contains("unknown class 'crak'"), "{problem}");
    let (key, problem) = error_of(|v| {
        electrode_station(v);
        v["source"] = json!({ "kind": "replay", "path": "seal" });
    });
    assert_eq!(key, "source.kind");
    assert!(problem.contains("pairs"), "{problem}");
    let (key, _) = error_of(|v| {
        electrode_station(v);
        v["inspection"]["homography"] = json!([[1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 1.0]]);
    });
    assert_eq!(key, "inspection.homography");
    let (key, _) = error_of(|v| {
        electrode_station(v);
        v["source"] = json!({ "kind": "pair", "visible": { "kind": "replay", "path": "seal" },
                             "xray": { "kind": "replay", "path": "nowhere" } });
    });
    assert_eq!(key, "source.xray.path");
}

#[test]
fn rates_and_thread_counts_are_bounded() {
    // A rate whose period does not fit a Duration passed here and panicked at start.
    for rate in [1e-300, 0.0005, 1000.5, f64::MIN_POSITIVE] {
        let (key, problem) = error_of(|v| v["trigger"]["rate_hz"] = json!(rate));
        assert_eq!(key, "trigger.rate_hz", "{rate}: {problem}");
    }
    let mut v = demo();
    v["trigger"]["rate_hz"] = json!(0.001);
    parse(&v).expect("the slowest rate is taken");
    for threads in [0, 65, 1_000_000] {
        assert_eq!(error_of(|v| v["runtime"]["intra_threads"] = json!(threads)).0, "runtime.intra_threads");
    }
}

#[test]
fn syntax_errors_give_line_and_column_and_trailing_text_is_refused() {
    let text = demo().to_string();
    let with_garbage = format!("{text}\n}} garbage");
    match StationConfig::parse(&with_garbage, Path::new("station.json"), &demo_dir()) {
        Err(ConfigError::Syntax { line, column, problem, .. }) => {
            assert_eq!((line, column), (2, 1), "{problem}");
            assert!(problem.contains("trailing"), "{problem}");
        }
        other => panic!("trailing text accepted or misreported: {:?}", other.map(|_| ())),
    }
    let broken = "{\n  \"name\": \"x\",\n  \"runtime\": { \"providers\": [\"cpu\"] \n}";
    match StationConfig::parse(broken, Path::new("station.json"), &demo_dir()) {
        Err(e @ ConfigError::Syntax { line: 4, .. }) => assert!(e.to_string().starts_with("station.json:4:"), "{e}"),
        other => panic!("syntax error without its position: {:?}", other.map(|_| ())),
    }
}

#[test]
fn records_paths_that_would_fail_at_start_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_path_buf();
    let (key, problem) = error_of(|v| v["records"]["results"] = json!(d));
    assert_eq!(key, "records.results", "{problem}");
    let same = d.join("log.jsonl");
    let (key, problem) = error_of(|v| {
        v["records"]["results"] = json!(same);
        v["gpio"]["timeline"] = json!(d.join(".").join("log.jsonl"));
    });
    assert_eq!(key, "records.results", "{problem}");
    assert!(problem.contains("gpio.timeline"), "{problem}");
    let file = d.join("a-file");
    std::fs::write(&file, b"x").expect("write");
    let (key, problem) = error_of(|v| v["records"]["archive"] = json!({ "dir": file }));
    assert_eq!(key, "records.archive.dir", "{problem}");
    // A folder of recipe references given as the archive: the quota would delete them.
    let refs = demo_dir().join("seal/references");
    let (key, problem) = error_of(|v| v["records"]["archive"] = json!({ "dir": refs }));
    assert_eq!(key, "records.archive.dir", "{problem}");
    assert!(problem.contains("did not write"), "{problem}");
}

#[test]
fn a_pinned_threshold_and_the_fault_bounds_are_held_to_what_can_work() {
    for t in [1.0, 0.0, 0.99, 0.01] {
        let (key, problem) = error_of(|v| v["inspection"]["threshold"] = json!(t));
        assert_eq!(key, "inspection.threshold", "{t}: {problem}");
    }
    let mut v = demo();
    v["inspection"]["threshold"] = json!(0.7);
    parse(&v).expect("a threshold inside the band is taken");
    assert_eq!(error_of(|v| v["actuation"]["overload_max_share"] = json!(1.0)).0, "actuation.overload_max_share");
    assert_eq!(error_of(|v| v["plausibility"]["camera"]["min_mean"] = json!(0.99)).0, "plausibility.camera.max_mean");
    assert_eq!(error_of(|v| v["plausibility"]["alarm_after"] = json!(0)).0, "plausibility.alarm_after");
    assert_eq!(
        error_of(|v| v["plausibility"]["xray"]["max_dark_fraction"] = json!(2.0)).0,
        "plausibility.xray.max_dark_fraction"
    );
    assert_eq!(
        error_of(|v| v["plausibility"]["min_reference_similarity"] = json!(1.5)),
        ("plausibility.min_reference_similarity".into(), "1.5 is outside -1..1 (null: off)".into())
    );
}

#[test]
fn the_metrics_period_defaults_to_5_s_and_is_bounded() {
    assert_eq!(parse(&demo()).expect("demo").metrics.period_ms, 5000);
    for period in [0, 99, 3_600_001] {
        let (key, problem) = error_of(|v| v["metrics"] = json!({ "period_ms": period }));
        assert_eq!(key, "metrics.period_ms", "{period}: {problem}");
    }
    assert_eq!(error_of(|v| v["metrics"] = json!({ "period": 100 })).0, "metrics.period");
    let mut v = demo();
    v["metrics"] = json!({ "period_ms": 100 });
    assert_eq!(parse(&v).expect("the shortest period").metrics.period_ms, 100);
}

#[test]
fn a_relative_runtime_library_is_the_one_check_config_found() {
    // check-config looked for it beside the config; the start must load that file, not one relative to
    // the working directory (`/` under systemd).
    let mut v = demo();
    v["runtime"]["library"] = json!("station.json");
    v["runtime"]["tensorrt"] = json!({ "engine_cache": "trt-cache" });
    let cfg = parse(&v).expect("a library that is a file beside the config");
    assert_eq!(cfg.runtime.library, Some(demo_dir().join("station.json")));
    assert_eq!(cfg.runtime.tensorrt.engine_cache, demo_dir().join("trt-cache"));
}
