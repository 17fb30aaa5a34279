//! The electrode station end to end on the real ONNX Runtime and the shipped detector: bundled visible +
//! X-ray pairs replayed, simulated GPIO. Checks the verdicts, which outputs fired and when, the defects in
//! the results log, the annotated NG pictures, and the faults of a two-imager station: a pair whose
//! exposures are too far apart, an X-ray frame of another size, a model for the other inspection.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cellgate::config::StationConfig;
use cellgate::sources::replay::ReplaySource;
use cellgate::sources::{Frame, FrameSource, SourceError};
use cellgate::station::{Overrides, RunReport, Station};
use serde_json::{json, Value};

/// The default travel time: one pair takes about 20 ms on the host, but a busy 2-core CI runner once took
/// 225 ms over a part (200 ms were too tight).
const DELAY_MS: f64 = 400.0;
const SLACK_MS: f64 = 60.0;

fn samples() -> PathBuf {
    common::root().join("scripts/demo/electrode")
}

fn config(dir: &Path, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let mut v = json!({
        "name": "electrode-test",
        "runtime": { "library": common::root().join(".ort/libonnxruntime.so"), "providers": ["cpu"], "intra_threads": 2 },
        "inspection": {
            "kind": "electrode",
            "model": common::root().join("onnx/electrode_detector.onnx"),
            "pixel_size_mm": 0.02,
            "rules": [
                { "classes": ["scratch", "foreign_object", "inclusion", "crack"], "output": "reject0" },
                { "classes": ["dark_spot"], "output": "marker" }
            ]
        },
        "source": { "kind": "coco", "path": samples() },
        "trigger": { "kind": "free_run", "rate_hz": 4 },
        "actuation": { "delay_ms": DELAY_MS as u64, "pulse_ms": 40 },
        "gpio": { "backend": "sim", "timeline": dir.join("gpio.jsonl"), "reject": ["reject0"], "alarm": "alarm", "markers": ["marker"] },
        "records": { "results": dir.join("results.jsonl"), "archive": { "dir": dir.join("ng") } },
        "model_updates": { "watch": false, "state_dir": dir.join("models") }
    });
    edit(&mut v);
    let p = dir.join("station.json");
    std::fs::write(&p, v.to_string()).expect("write config");
    p
}

struct Run {
    dir: tempfile::TempDir,
    report: RunReport,
    results: Vec<Value>,
    timeline: Vec<Value>,
}

fn run(edit: impl FnOnce(&mut Value), xray: Option<Box<dyn FrameSource>>) -> Run {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = StationConfig::load(&config(dir.path(), edit)).expect("config");
    let mut station = Station::build(cfg, &Overrides::default()).expect("station builds");
    if let Some(x) = xray {
        let (visible, _) = ReplaySource::open_coco(&samples(), false).expect("samples");
        station = station.with_pair(Box::new(visible), x, Duration::from_millis(20));
    }
    let report = station.run(Arc::new(AtomicBool::new(false))).expect("station runs");
    let results = common::read_jsonl(&dir.path().join("results.jsonl"));
    let timeline = common::read_jsonl(&dir.path().join("gpio.jsonl"));
    Run { dir, report, results, timeline }
}

/// Labels of the bundled samples (annotations.json): which parts the rules must reject and mark.
fn expected(frame: &str) -> (bool, bool) {
    let coco: Value = serde_json::from_str(&std::fs::read_to_string(samples().join("annotations.json")).expect("coco"))
        .expect("json");
    let id = coco["images"].as_array().expect("images").iter().find(|i| i["file_name"] == frame).expect("image")["id"]
        .clone();
    let classes: Vec<u64> = coco["annotations"]
        .as_array()
        .expect("annotations")
        .iter()
        .filter(|a| a["image_id"] == id)
        .map(|a| a["category_id"].as_u64().expect("category"))
        .collect();
    (classes.iter().any(|&c| c != 2), classes.contains(&2))
}

fn rises(timeline: &[Value], line: &str) -> Vec<f64> {
    common::edges(timeline, line).into_iter().filter(|e| e.1 == 1).map(|e| e.0).collect()
}

#[test]
fn pairs_get_rule_verdicts_outputs_defects_and_annotated_pictures() {
    let r = run(|_| {}, None);
    assert_eq!(r.results.len(), 8, "one result per pair");
    let (reject_rises, marker_rises) = (rises(&r.timeline, "reject0"), rises(&r.timeline, "marker"));
    let near = |rises: &[f64], t: f64| rises.iter().any(|&x| x >= t - 1.0 && x <= t + SLACK_MS);
    let (mut rejects, mut marks) = (0, 0);
    for rec in &r.results {
        let frame = rec["frame"].as_str().expect("frame");
        let (reject, mark) = expected(frame);
        let due = rec["trigger_ms"].as_f64().expect("trigger_ms") + DELAY_MS;
        assert_eq!(rec["rejected"], reject, "{frame}: {rec}");
        assert_eq!(rec["verdict"], if reject || mark { "ng" } else { "ok" }, "{frame}");
        assert_eq!(near(&reject_rises, due), reject, "{frame}: reject pulse at {due:.0} ms? {reject_rises:?}");
        assert_eq!(near(&marker_rises, due), mark, "{frame}: marker pulse at {due:.0} ms? {marker_rises:?}");
        let defects = rec["defects"].as_array().expect("defects logged");
        assert_eq!(defects.is_empty(), !(reject || mark), "{frame}: {defects:?}");
        for d in defects {
            assert!(d["class"].is_string() && d["score"].as_f64().is_some_and(|s| s > 0.5), "{d}");
            assert_eq!(d["bbox"].as_array().map(Vec::len), Some(4));
            assert!(d["area_px"].as_f64().is_some_and(|a| a > 0.0) && d["area_mm2"].as_f64().is_some(), "{d}");
        }
        // The detector's image-level presence per class (`cls`) beside them (serde_json's map sorts keys).
        let presence = rec["presence"].as_object().expect("presence logged");
        let labels: Vec<&str> = presence.keys().map(String::as_str).collect();
        assert_eq!(labels, ["crack", "dark_spot", "foreign_object", "inclusion", "scratch"], "{frame}");
        assert!(presence.values().all(|p| p.as_f64().is_some_and(|p| (0.0..=1.0).contains(&p))), "{presence:?}");
        assert_eq!(rec["model"]["name"], "electrode-dual-stream");
        rejects += reject as usize;
        marks += mark as usize;
    }
    assert_eq!((rejects, marks), (5, 2), "the samples hold 5 parts to reject and 2 to mark");
    assert_eq!(reject_rises.len(), 5);
    // Each NG part's picture: the visible frame with the defects drawn, the X-ray beside it.
    let pics: Vec<_> = std::fs::read_dir(r.dir.path().join("ng")).expect("archive").collect();
    assert_eq!(pics.len(), 5);
    let path = pics[0].as_ref().expect("entry").path();
    let pic = image::open(&path).expect("png");
    assert_eq!((pic.width(), pic.height()), (512, 256));
    // Which rule fired is written into the picture, for the gallery and for anyone it is sent to.
    let captions: Vec<String> = pics
        .iter()
        .map(|p| std::fs::read(p.as_ref().expect("entry").path()).expect("picture"))
        .map(|b| cellgate::sinks::ng_archive::caption::caption_of(&b).expect("a caption"))
        .collect();
    assert!(captions.iter().all(|c| c.contains("rule ") && c.contains("(electrode-dual-stream ")), "{captions:?}");
    assert_eq!(captions.iter().filter(|c| c.contains("-> reject0")).count(), 5, "{captions:?}");
    assert_eq!(r.report.metrics.parts_ng, 5);
}

/// The bundled X-ray frames, changed by `edit`: a later exposure, another size.
struct Xray {
    inner: ReplaySource,
    n: usize,
    edit: fn(usize, Frame) -> Frame,
}

impl FrameSource for Xray {
    fn capture(&mut self, after: Instant) -> Result<Frame, SourceError> {
        self.n += 1;
        self.inner.capture(after).map(|f| (self.edit)(self.n, f))
    }
    fn describe(&self) -> String {
        "edited x-ray replay".into()
    }
}

fn xray(edit: fn(usize, Frame) -> Frame) -> Box<dyn FrameSource> {
    let (_, x) = ReplaySource::open_coco(&samples(), false).expect("samples");
    Box::new(Xray { inner: x, n: 0, edit })
}

#[test]
fn a_pair_exposed_too_far_apart_is_rejected_and_counted_without_alarm() {
    let late = |n: usize, mut f: Frame| {
        if n == 2 {
            f.timestamp += Duration::from_millis(50);
        }
        f
    };
    let r = run(|_| {}, Some(xray(late)));
    assert_eq!(r.results.len(), 8);
    let p2 = &r.results[1];
    assert_eq!((&p2["verdict"], &p2["rejected"]), (&json!("error"), &json!(true)), "{p2}");
    assert!(p2["error"].as_str().is_some_and(|e| e.contains("incomplete pair")), "{p2}");
    assert_eq!(r.report.metrics.bad_frames, 1);
    assert!(common::edges(&r.timeline, "alarm").is_empty(), "one lost pair is not a station fault");
    assert_eq!(r.results[0]["verdict"], "ok", "the parts around it are judged as usual");
}

fn shrink(_: usize, f: Frame) -> Frame {
    let img = image::GrayImage::from_raw(f.width, f.height, f.data.to_vec()).expect("grey frame");
    let small = image::imageops::resize(&img, 200, 200, image::imageops::FilterType::Triangle);
    Frame { width: 200, height: 200, data: small.into_raw().into(), ..f }
}

#[test]
fn an_xray_of_another_size_needs_the_homography() {
    let r = run(|_| {}, Some(xray(shrink)));
    for rec in &r.results {
        assert_eq!(rec["verdict"], "error", "{rec}");
        assert!(rec["error"].as_str().is_some_and(|e| e.contains("200x200") && e.contains("homography")), "{rec}");
    }
    // With the homography that maps the 200x200 X-ray onto the 256x256 visible frame, the parts are judged.
    let s = 256.0 / 200.0;
    let r = run(
        |v| {
            v["inspection"]["homography"] = json!([[s, 0.0, 0.0], [0.0, s, 0.0], [0.0, 0.0, 1.0]]);
            // Not about speed: travel time to spare, so a busy host cannot make a part late (an error).
            v["actuation"]["delay_ms"] = json!(1500);
        },
        Some(xray(shrink)),
    );
    let rejected = r.results.iter().filter(|x| x["rejected"] == true).count();
    assert!(r.results.iter().all(|x| x["verdict"] != "error"), "{:?}", r.results);
    assert!((4..=6).contains(&rejected), "aligned parts judged about as the full-size ones: {rejected}");
}

#[test]
fn a_seal_model_in_an_electrode_station_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = config(dir.path(), |v| v["inspection"]["model"] = json!(common::model()));
    let cfg = StationConfig::load(&p).expect("config");
    let e = Station::build(cfg, &Overrides::default()).err().expect("refused").to_string();
    assert!(e.contains("electrode_detector") && e.contains("seal_classifier"), "{e}");
}

/// The shipped detector with its manifest version changed (same length: the protobuf stays valid), as a
/// retrained model would arrive.
fn detector_versioned(to: &str) -> Vec<u8> {
    let bytes = std::fs::read(common::root().join("onnx/electrode_detector.onnx")).expect("model");
    let from = br#""version": "1.0.0""#;
    let to = format!(r#""version": "{to}""#);
    let at: Vec<usize> = bytes.windows(from.len()).enumerate().filter(|(_, w)| *w == from).map(|(i, _)| i).collect();
    assert_eq!(at.len(), 1, "manifest version found once");
    let mut out = bytes.clone();
    out[at[0]..at[0] + from.len()].copy_from_slice(to.as_bytes());
    out
}

#[test]
fn a_detector_swapped_while_running_takes_over_and_a_broken_one_is_refused() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let models = dir.path().join("onnx");
    std::fs::create_dir(&models).expect("mkdir");
    let model = models.join("electrode_detector.onnx");
    std::fs::copy(common::root().join("onnx/electrode_detector.onnx"), &model).expect("copy model");
    let m = model.clone();
    let cfg = config(dir.path(), move |v| {
        v["inspection"]["model"] = json!(m);
        v["source"]["loop"] = json!(true);
        // The candidate's load, warm-up and self-test (several detector runs) share the two cores with
        // inspection: on a busy 2-core runner a part during them took 673 ms. Parts come slowly and travel
        // long enough that no part can miss its reject point or find the queue full while a candidate
        // loads: what this test checks is the takeover, not the speed.
        v["trigger"]["rate_hz"] = json!(2);
        v["actuation"]["delay_ms"] = json!(1500);
        v["model_updates"] = json!({ "watch": true, "settle_ms": 100, "state_dir": dir_of(&v["records"]["results"]) });
    });
    fn dir_of(results: &Value) -> PathBuf {
        Path::new(results.as_str().expect("path")).with_file_name("models")
    }
    let station = Station::build(StationConfig::load(&cfg).expect("config"), &Overrides::default()).expect("station");
    let status = || cellgate::model::store::ModelStore::read_status(&dir.path().join("models")).unwrap_or_default();
    let wait_for = |what: &str, pred: &dyn Fn(&cellgate::model::store::ModelStatus) -> bool| {
        let t0 = Instant::now();
        while !pred(&status()) {
            assert!(t0.elapsed() < Duration::from_secs(30), "timed out waiting for {what}: {:#?}", status());
            std::thread::sleep(Duration::from_millis(25));
        }
    };
    // The technician's way: written beside, renamed over the model.
    let drop_in = |bytes: &[u8]| {
        let tmp = models.join(".incoming");
        std::fs::write(&tmp, bytes).expect("write");
        std::fs::rename(&tmp, &model).expect("rename");
    };
    let stop = Arc::new(AtomicBool::new(false));
    let report = std::thread::scope(|s| {
        let st = stop.clone();
        let h = s.spawn(move || station.run(st));
        std::thread::sleep(Duration::from_millis(1500));
        drop_in(b"half a model");
        wait_for("the refusal", &|s| s.refusals == 1);
        std::thread::sleep(Duration::from_millis(1000));
        drop_in(&detector_versioned("1.0.1"));
        wait_for("the swap", &|s| s.swaps == 1);
        std::thread::sleep(Duration::from_millis(2000));
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        h.join().expect("station thread").expect("station run")
    });
    let results = common::read_jsonl(&dir.path().join("results.jsonl"));
    let timeline = common::read_jsonl(&dir.path().join("gpio.jsonl"));
    let lost: Vec<&Value> = results.iter().filter(|r| r["verdict"] == "error" || r["late"] == true).collect();
    assert!(lost.is_empty(), "no part lost to the swaps: {lost:?}");
    let v: Vec<&str> = results.iter().map(|r| r["model"]["version"].as_str().unwrap_or("none")).collect();
    let first_new = v.iter().position(|x| *x == "1.0.1").expect("the new detector judged parts");
    assert!(first_new >= 5, "the old detector judged the parts before and during the refusal: {v:?}");
    assert!(v[..first_new].iter().all(|x| *x == "1.0.0") && v[first_new..].iter().all(|x| *x == "1.0.1"), "{v:?}");
    assert!(v.len() - first_new >= 3, "the new detector judged the parts after it: {v:?}");
    assert_eq!((report.metrics.model_swaps, report.metrics.model_loads_refused), (1, 1));
    assert!(rises(&timeline, "alarm").is_empty(), "a refused model never sets the alarm");
    let last = status().events.into_iter().rev().find(|e| e.event == "refused").expect("refusal recorded");
    assert!(last.detail.contains("ONNX Runtime refused it"), "{}", last.detail);
}

#[test]
fn a_detector_giving_real_parts_unusable_outputs_rejects_them_and_sets_the_alarm() {
    // It passes its self-test (the drawn sheet), then scores every real pair NaN.
    let model = common::fixtures().join("models/nan_on_parts.onnx");
    let r = run(|v| v["inspection"]["model"] = json!(model), None);
    assert_eq!(r.results.len(), 8, "one result per pair");
    for rec in &r.results {
        assert_eq!((&rec["verdict"], &rec["rejected"]), (&json!("error"), &json!(true)), "{rec}");
        assert!(rec["error"].as_str().is_some_and(|e| e.contains("model fault")), "{rec}");
    }
    assert_eq!(r.report.metrics.inference_errors, 8, "counted as model faults");
    assert_eq!(r.report.metrics.bad_frames, 0, "not as bad frames");
    assert_eq!(common::edges(&r.timeline, "alarm").first().map(|e| e.1), Some(1), "a model fault sets the alarm");
    assert_eq!(rises(&r.timeline, "reject0").len(), 8, "every part's reject output fired");
}

#[test]
fn an_electrode_station_refuses_to_teach_a_reference_over_its_control_socket() {
    use cellgate::control::{client, Answer, Request};
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = StationConfig::load(&config(dir.path(), |v| v["source"]["loop"] = json!(true))).expect("config");
    let socket = cfg.control_socket();
    let station = Station::build(cfg, &Overrides::default()).expect("station builds");
    let stop = Arc::new(AtomicBool::new(false));
    std::thread::scope(|s| {
        let st = stop.clone();
        let run = s.spawn(move || station.run(st).expect("station runs"));
        let _stop = common::StopOnDrop(stop.clone());
        let ask = |req: &Request| {
            let t0 = Instant::now();
            loop {
                match client::ask(&socket, req, Duration::from_secs(10)) {
                    Ok(a) => break a,
                    Err(e) => assert!(t0.elapsed() < Duration::from_secs(30), "{e}"),
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        };
        for req in [
            Request::Teach { recipe: "electrode".into(), force: true, timeout_ms: 1000 },
            Request::Confirm { recipe: "electrode".into() },
        ] {
            let a = ask(&req);
            assert!(
                matches!(&a, Answer::Refused { reason } if reason.contains("only a seal station is taught")),
                "{req:?}: {a:?}"
            );
        }
        drop(_stop);
        run.join().expect("station thread");
    });
}
