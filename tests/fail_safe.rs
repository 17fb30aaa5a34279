//! Faults a line throws at a running station, end to end on the real ONNX Runtime and the shipped seal
//! model: frames that cannot show a part (lens cap, failed lighting, a camera facing a wall), a photo-eye
//! that dies and comes back, and sustained overload. Each must reject the parts it touches, set the alarm
//! and, where the issue says so, drop the ready output.

mod common;

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cellgate::config::StationConfig;
use cellgate::station::{Overrides, RunReport, Station};
use cellgate::trigger::photo_eye::TriggerError;
use cellgate::trigger::{Trigger, TriggerEvent};
use serde_json::{json, Value};

/// Writes a folder of replay images: `(name, grey level or None for a copy of a real sample)`.
fn frames(dir: &Path, spec: &[(&str, Option<u8>)]) {
    std::fs::create_dir_all(dir).expect("frames dir");
    let sample = common::fixtures().join("seal/samples");
    let real: Vec<_> = std::fs::read_dir(&sample).expect("samples").map(|e| e.expect("entry").path()).collect();
    for (i, (name, level)) in spec.iter().enumerate() {
        let out = dir.join(name);
        match level {
            Some(v) => image::RgbImage::from_pixel(256, 64, image::Rgb([*v; 3])).save(&out).expect("save"),
            None => {
                std::fs::copy(&real[i % real.len()], &out).expect("copy sample");
            }
        }
    }
}

struct Run {
    report: RunReport,
    results: Vec<Value>,
    timeline: Vec<Value>,
}

fn run(dir: &Path, edit: impl FnOnce(&mut Value), wrap: impl FnOnce(Station) -> Station) -> Run {
    let cfg = StationConfig::load(&common::write_config(dir, edit)).expect("config");
    let station = wrap(Station::build(cfg, &Overrides::default()).expect("station builds"));
    let report = station.run(Arc::new(AtomicBool::new(false))).expect("station runs");
    Run {
        report,
        results: common::read_jsonl(&dir.join("results.jsonl")),
        timeline: common::read_jsonl(&dir.join("gpio.jsonl")),
    }
}

fn values(timeline: &[Value], line: &str) -> Vec<u8> {
    common::edges(timeline, line).into_iter().map(|e| e.1).collect()
}

#[test]
fn blank_frames_are_rejected_unjudged_and_a_run_of_them_sets_the_alarm_until_a_real_frame() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let imgs = dir.path().join("frames");
    // Replayed in name order: a real part, black, white, mid-grey (three in a row: alarm), then real
    // parts again (alarm off).
    frames(
        &imgs,
        &[
            ("a.png", None),
            ("b.png", Some(0)),
            ("c.png", Some(255)),
            ("d.png", Some(128)),
            ("e.png", None),
            ("f.png", None),
        ],
    );
    let r = run(
        dir.path(),
        |v| {
            v["source"]["path"] = json!(imgs);
            v["gpio"]["ready"] = json!("ready");
        },
        |s| s,
    );
    let by_frame = |name: &str| r.results.iter().find(|x| x["frame"] == name).unwrap_or_else(|| panic!("{name}"));
    for (name, why) in [("b.png", "too dark"), ("c.png", "too bright"), ("d.png", "flat")] {
        let rec = by_frame(name);
        assert_eq!((&rec["verdict"], &rec["rejected"]), (&json!("error"), &json!(true)), "{rec}");
        assert!(rec["error"].as_str().is_some_and(|e| e.contains("implausible frame") && e.contains(why)), "{rec}");
        assert!(rec["p_ng"].is_null(), "no model judged it: {rec}");
    }
    for name in ["a.png", "e.png", "f.png"] {
        assert_ne!(by_frame(name)["verdict"], "error", "real parts are judged");
    }
    assert_eq!(r.report.metrics.implausible_frames, 3);
    assert_eq!(values(&r.timeline, "alarm"), [1, 0], "alarm at the third blank frame, off at the next real one");
    assert_eq!(values(&r.timeline, "ready"), [1, 0, 1, 0], "ready off while the alarm is on");
}

#[test]
fn blank_pairs_on_the_electrode_station_are_rejected_unjudged() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let samples = common::root().join("scripts/demo/electrode");
    let coco: Value =
        serde_json::from_str(&std::fs::read_to_string(samples.join("annotations.json")).expect("coco")).expect("json");
    // The bundled pairs' annotations, with the first three pairs' images replaced: black visible, white
    // X-ray, a 1x1 pair.
    let set = dir.path().join("pairs");
    for sub in ["visible", "xray"] {
        std::fs::create_dir_all(set.join(sub)).expect("dirs");
    }
    let images = coco["images"].as_array().expect("images");
    for (i, img) in images.iter().enumerate() {
        for key in ["file_name", "xray_file_name"] {
            let rel = img[key].as_str().expect("name");
            let out = set.join(rel);
            let xray = key == "xray_file_name";
            match (i, xray) {
                (0, false) => image::GrayImage::from_pixel(256, 256, image::Luma([0])).save(&out).expect("save"),
                (1, true) => image::GrayImage::from_pixel(256, 256, image::Luma([255])).save(&out).expect("save"),
                (2, _) => image::GrayImage::from_pixel(1, 1, image::Luma([120])).save(&out).expect("save"),
                _ => {
                    std::fs::copy(samples.join(rel), &out).expect("copy");
                }
            }
        }
    }
    std::fs::write(set.join("annotations.json"), coco.to_string()).expect("annotations");
    let electrode_cfg = |v: &mut Value| {
        v["inspection"] = json!({
            "kind": "electrode",
            "model": common::root().join("onnx/electrode_detector.onnx"),
            "rules": [{ "classes": ["scratch", "dark_spot", "foreign_object", "inclusion", "crack"], "output": "reject0" }]
        });
        v["source"] = json!({ "kind": "coco", "path": set });
        v["trigger"]["rate_hz"] = json!(4);
        v["runtime"]["intra_threads"] = json!(2);
        // Travel time to spare: a pair took 367 ms on a busy 2-core host, and a part past its reject point
        // is an error too; this test is about which parts are refused, not about speed.
        v["actuation"]["delay_ms"] = json!(1500);
    };
    let r = run(dir.path(), electrode_cfg, |s| s);
    assert_eq!(r.results.len(), images.len());
    for (i, why) in [(0, "camera: implausible frame: too dark"), (1, "X-ray imager: implausible frame: too bright")] {
        let rec = &r.results[i];
        assert_eq!((&rec["verdict"], &rec["rejected"]), (&json!("error"), &json!(true)), "{rec}");
        assert!(rec["error"].as_str().is_some_and(|e| e.contains(why)), "{rec}");
    }
    // The 1x1 pair is refused before the model too (as implausible or as a bad size), never judged.
    assert_eq!((&r.results[2]["verdict"], &r.results[2]["rejected"]), (&json!("error"), &json!(true)));
    assert!(r.results[3..].iter().all(|x| x["verdict"] != "error"), "real pairs judged: {:?}", r.results);
    assert_eq!(values(&r.timeline, "alarm"), [1, 0], "three implausible pairs in a row: alarm, then clear");
}

/// A photo-eye that gives parts, dies, and comes back, as scripted.
struct ScriptedEye {
    script: Vec<Step>,
    period: Duration,
    next: Option<Instant>,
}

#[derive(Clone, Copy)]
enum Step {
    Part,
    Lose,
    /// Lost for this long, then back.
    Back(Duration),
}

impl Trigger for ScriptedEye {
    fn wait(&mut self, stop: &AtomicBool) -> TriggerEvent {
        if self.script.is_empty() {
            return TriggerEvent::Stopped;
        }
        let step = self.script.remove(0);
        let t = self.next.unwrap_or_else(Instant::now);
        if !cellgate::trigger::sleep_until(t, stop) {
            return TriggerEvent::Stopped;
        }
        self.next = Some(t + self.period);
        match step {
            Step::Part => TriggerEvent::Part(t),
            Step::Lose => TriggerEvent::Lost(TriggerError::ReaderGone { chip: "gpiochip9 [test]".into(), line: 0 }),
            Step::Back(after) => {
                std::thread::sleep(after);
                self.next = Some(Instant::now() + self.period);
                TriggerEvent::Back
            }
        }
    }
}

#[test]
fn a_photo_eye_that_dies_sets_the_alarm_drops_ready_and_both_recover_when_it_is_back() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let health = Arc::new(Mutex::new(None));
    let seen = health.clone();
    let eye = ScriptedEye {
        script: vec![
            Step::Part,
            Step::Part,
            Step::Lose,
            Step::Back(Duration::from_millis(300)),
            Step::Part,
            Step::Part,
        ],
        period: Duration::from_millis(50),
        next: None,
    };
    let r = run(
        dir.path(),
        |v| {
            v["source"]["loop"] = json!(true);
            v["gpio"]["ready"] = json!("ready");
        },
        |s| {
            *seen.lock().expect("lock") = Some(s.health.clone());
            s.with_trigger(Box::new(eye))
        },
    );
    assert_eq!(r.results.len(), 4, "the parts before and after the loss are inspected: {:?}", r.results);
    assert_eq!(r.report.metrics.trigger_lost, 1);
    assert_eq!(values(&r.timeline, "alarm"), [1, 0]);
    assert_eq!(values(&r.timeline, "ready"), [1, 0, 1, 0], "ready off while the photo-eye is lost");
    let alarm = common::edges(&r.timeline, "alarm");
    let lost_ms = alarm[1].0 - alarm[0].0;
    assert!(lost_ms >= 250.0, "alarm held while the input was lost: {lost_ms} ms");
    let h = health.lock().expect("lock").clone().expect("health");
    assert_eq!(h.stalled(Duration::ZERO), None, "the watchdog is fed again once the input is back");
}

#[test]
fn a_photo_eye_lost_for_good_starves_the_watchdog() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let health = Arc::new(Mutex::new(None));
    let seen = health.clone();
    let eye = ScriptedEye { script: vec![Step::Part, Step::Lose], period: Duration::from_millis(50), next: None };
    let r = run(
        dir.path(),
        |_| {},
        |s| {
            *seen.lock().expect("lock") = Some(s.health.clone());
            s.with_trigger(Box::new(eye))
        },
    );
    assert_eq!(values(&r.timeline, "alarm"), [1, 0], "alarm until the outputs go safe at the end");
    std::thread::sleep(Duration::from_millis(30));
    let h = health.lock().expect("lock").clone().expect("health");
    let stalled = h.stalled(Duration::from_millis(20)).map(|s| s.0.name());
    assert_eq!(stalled, Some("trigger input (lost)"), "systemd would restart the station");
}

#[test]
fn sustained_overload_sets_the_alarm_and_its_warning_is_rate_limited() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    // 6 cavities at 1000 Hz: 6000 parts/s, several times what two cores infer; about 1.5 s of it.
    let r = run(
        dir.path(),
        |v| {
            v["source"]["loop"] = json!(true);
            v["trigger"]["rate_hz"] = json!(1000);
            v["inspection"]["cavities"] = json!(6);
            v["gpio"]["reject"] = json!(["r0", "r1", "r2", "r3", "r4", "r5"]);
            v["runtime"]["intra_threads"] = json!(2);
        },
        |s| s.with_trigger(Box::new(Burst { left: 1500, period: Duration::from_millis(1), next: None })),
    );
    let m = &r.report.metrics;
    assert!(m.overload_drops > 0, "the station was overloaded: {m:?}");
    let shed = r.results.iter().filter(|x| x["error"].as_str().is_some_and(|e| e.contains("overloaded"))).count();
    assert!(shed > 0 && r.results.iter().filter(|x| x["error"].is_string()).all(|x| x["rejected"] == true));
    assert_eq!(values(&r.timeline, "alarm").first(), Some(&1), "overload is a fault: alarm on");
}

/// Free-running triggers for a fixed count, then the end of the run.
struct Burst {
    left: u32,
    period: Duration,
    next: Option<Instant>,
}

impl Trigger for Burst {
    fn wait(&mut self, stop: &AtomicBool) -> TriggerEvent {
        if self.left == 0 {
            return TriggerEvent::Stopped;
        }
        self.left -= 1;
        let t = self.next.unwrap_or_else(Instant::now);
        if !cellgate::trigger::sleep_until(t, stop) {
            return TriggerEvent::Stopped;
        }
        self.next = Some(t + self.period);
        TriggerEvent::Part(t)
    }
}

/// Good parts of one recipe judged against another recipe's reference (an operator loaded the wrong
/// recipe): every one must be rejected as NG by the model, while the same parts against their own
/// reference are OK.
///
/// Ignored until the model meets it (issue 18): seal model 2.2.0 calls 52 % of such pairs NG among the
/// four demo recipes, which differ only a little (2.1.0: 66 %, 2.0.0: 34 %, 1.0.0: 0 %), and 94-100 %
/// among recipes that differ more (`scripts/ml/seal_eval_suite.py`). `cargo test --test fail_safe -- --ignored` runs it.
#[test]
#[ignore = "issue 18: the shipped seal model calls only part of the wrong-recipe pairs NG"]
fn good_parts_against_the_wrong_recipe_are_rejected() {
    let _serial = common::serial();
    let golden = common::golden();
    let recipe_of = |reference: &str| Path::new(reference).file_stem().expect("stem").to_string_lossy().into_owned();
    let recipes: std::collections::BTreeSet<String> = golden.iter().map(|g| recipe_of(&g.1)).collect();
    for wrong in &recipes {
        let dir = tempfile::tempdir().expect("tempdir");
        let imgs = dir.path().join("frames");
        std::fs::create_dir_all(&imgs).expect("frames dir");
        let good_elsewhere: Vec<_> =
            golden.iter().filter(|g| !common::golden_says_ng(&g.2) && recipe_of(&g.1) != *wrong).collect();
        assert!(good_elsewhere.len() >= 2, "fixtures hold good parts of other recipes than {wrong}");
        for (i, g) in good_elsewhere.iter().enumerate() {
            let from = common::fixtures().join("seal").join(&g.0);
            std::fs::copy(&from, imgs.join(format!("{i:03}.png"))).expect("copy sample");
        }
        let r = run(
            dir.path(),
            |v| {
                v["source"]["path"] = json!(imgs);
                v["inspection"]["recipe"] = json!(wrong);
            },
            |s| s,
        );
        assert_eq!(r.results.len(), good_elsewhere.len());
        let passed: Vec<_> = r.results.iter().filter(|rec| rec["rejected"] != json!(true)).collect();
        assert!(
            passed.is_empty(),
            "against {wrong}: {} of {} good parts of other recipes passed: {passed:?}",
            passed.len(),
            r.results.len()
        );
    }
}

/// With the exposure check switched off, the model itself still calls blank frames NG: the two
/// defences do not depend on each other.
#[test]
fn the_model_itself_calls_blank_frames_ng() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let imgs = dir.path().join("frames");
    frames(&imgs, &[("a.png", Some(0)), ("b.png", Some(255)), ("c.png", Some(128)), ("d.png", Some(40))]);
    let r = run(
        dir.path(),
        |v| {
            v["source"]["path"] = json!(imgs);
            v["plausibility"] = json!({ "enabled": false });
        },
        |s| s,
    );
    assert_eq!(r.results.len(), 4);
    for rec in &r.results {
        assert_eq!((&rec["verdict"], &rec["rejected"]), (&json!("ng"), &json!(true)), "{rec}");
    }
}

/// A camera behind a lens cap for its first `capped` frames, then on the bundled parts. `live`: whether
/// the station may take a frame of it between parts (a real camera), or not (a replayed folder).
struct CappedCamera {
    inner: cellgate::sources::replay::ReplaySource,
    count: u32,
    capped: u32,
    live: bool,
}

impl cellgate::sources::FrameSource for CappedCamera {
    fn capture(&mut self, after: Instant) -> Result<cellgate::sources::Frame, cellgate::sources::SourceError> {
        self.count += 1;
        let f = self.inner.capture(after)?;
        Ok(if self.count <= self.capped {
            cellgate::sources::Frame { data: vec![0; f.data.len()].into(), ..f }
        } else {
            f
        })
    }
    fn describe(&self) -> String {
        "capped test camera".into()
    }
    fn live(&self) -> bool {
        self.live
    }
}

fn capped_then_quiet(live: bool) -> (f64, Vec<(f64, u8)>) {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let inner =
        cellgate::sources::replay::ReplaySource::open(&common::fixtures().join("seal"), false).expect("fixtures");
    let camera = CappedCamera { inner, count: 0, capped: 3, live };
    let r = run(
        dir.path(),
        |_| {},
        |s| {
            s.with_source(Box::new(camera)).with_trigger(Box::new(common::PartsThenQuiet {
                parts: 3,
                period: Duration::from_millis(100),
                idles: 3,
                idle_gap: Duration::from_millis(300),
                end_after: Duration::from_millis(1500),
                next: None,
            }))
        },
    );
    assert_eq!(r.results.len(), 3, "frames taken between parts make no part");
    assert!(r.results.iter().all(|x| x["verdict"] == "error" && x["rejected"] == true), "{:?}", r.results);
    let t3 = r.results[2]["trigger_ms"].as_f64().expect("t3");
    (t3, common::edges(&r.timeline, "alarm"))
}

#[test]
fn a_lens_cap_taken_off_while_the_line_stands_still_clears_the_alarm_without_a_part() {
    let (t3, alarm) = capped_then_quiet(true);
    assert_eq!(alarm.iter().map(|e| e.1).collect::<Vec<_>>(), [1, 0], "{alarm:?}");
    let off = alarm[1].0 - t3;
    assert!(
        off < 1000.0,
        "cleared at the first idle look ({off:.0} ms after the last part), not at the end: {alarm:?}"
    );
}

#[test]
fn a_replayed_source_is_not_read_between_parts() {
    let (t3, alarm) = capped_then_quiet(false);
    assert_eq!(alarm.iter().map(|e| e.1).collect::<Vec<_>>(), [1, 0], "{alarm:?}");
    let off = alarm[1].0 - t3;
    assert!(off >= 1500.0, "on until the outputs go safe at the end ({off:.0} ms after the last part): {alarm:?}");
}

/// The bundled parts, but for captures in `away` the camera sees another scene with a normal exposure
/// (vertical stripes where the seal has horizontal bands: a camera knocked round, another product).
struct KnockedCamera {
    inner: cellgate::sources::replay::ReplaySource,
    count: u32,
    away: std::ops::RangeInclusive<u32>,
}

impl cellgate::sources::FrameSource for KnockedCamera {
    fn capture(&mut self, after: Instant) -> Result<cellgate::sources::Frame, cellgate::sources::SourceError> {
        self.count += 1;
        let f = self.inner.capture(after)?;
        if !self.away.contains(&self.count) {
            return Ok(f);
        }
        let (w, h) = (f.width as usize, f.height as usize);
        let data: Vec<u8> = (0..w * h).flat_map(|i| [if (i % w) * 6 / w % 2 == 0 { 70 } else { 180 }; 3]).collect();
        Ok(cellgate::sources::Frame { data: data.into(), format: cellgate::sources::PixelFormat::Rgb8, ..f })
    }
    fn describe(&self) -> String {
        "knocked test camera".into()
    }
}

#[test]
fn frames_of_another_scene_than_the_recipes_reference_are_rejected_unjudged_and_alarm() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let inner =
        cellgate::sources::replay::ReplaySource::open(&common::fixtures().join("seal"), false).expect("fixtures");
    let camera = KnockedCamera { inner, count: 0, away: 2..=4 };
    let r = run(dir.path(), |v| v["trigger"]["rate_hz"] = json!(10), |s| s.with_source(Box::new(camera)));
    for rec in &r.results[1..4] {
        assert_eq!((&rec["verdict"], &rec["rejected"]), (&json!("error"), &json!(true)), "{rec}");
        let e = rec["error"].as_str().unwrap_or_default();
        assert!(e.starts_with("camera: frame far from recipe") && e.contains("'s reference: similarity"), "{rec}");
    }
    assert!(
        r.results.iter().enumerate().all(|(i, x)| (1..4).contains(&i) || x["verdict"] != "error"),
        "{:?}",
        r.results
    );
    assert_eq!(r.report.metrics.implausible_frames, 3);
    assert_eq!(values(&r.timeline, "alarm"), [1, 0], "three in a row: alarm, cleared by the next real frame");
}
