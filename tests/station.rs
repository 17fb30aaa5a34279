//! The whole station on the real ONNX Runtime and the shipped model: replayed parts, simulated GPIO,
//! results log. Checks what a line operator would see: which parts were rejected, when the reject
//! output fired, when the alarm came on, and that nothing is lost.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cellgate::config::StationConfig;
use cellgate::sinks::gpio::timeline::LineChange;
use cellgate::sinks::gpio::{GpioError, GpioOutputs, OutputLine};
use cellgate::sources::replay::ReplaySource;
use cellgate::sources::{Frame, FrameSource, SourceError};
use cellgate::station::{Overrides, RunReport, Station};
use serde_json::{json, Value};

/// Timing slack for a loaded 2-core CI machine.
const SLACK_MS: f64 = 60.0;

struct Run {
    _dir: tempfile::TempDir,
    report: RunReport,
    results: Vec<Value>,
    timeline: Vec<Value>,
    dir: std::path::PathBuf,
}

fn run_station(
    edit: impl FnOnce(&mut Value),
    source: Option<Box<dyn FrameSource>>,
    stop_after: Option<Duration>,
) -> Run {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg_path = common::write_config(dir.path(), edit);
    let cfg = StationConfig::load(&cfg_path).expect("config");
    let mut station = Station::build(cfg, &Overrides::default()).expect("station builds");
    if let Some(s) = source {
        station = station.with_source(s);
    }
    let stop = Arc::new(AtomicBool::new(false));
    if let Some(after) = stop_after {
        let stop = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(after);
            stop.store(true, Ordering::SeqCst);
        });
    }
    let report = station.run(stop).expect("station runs");
    let results = common::read_jsonl(&dir.path().join("results.jsonl"));
    let timeline = common::read_jsonl(&dir.path().join("gpio.jsonl"));
    let d = dir.path().to_path_buf();
    Run { _dir: dir, report, results, timeline, dir: d }
}

fn golden_ng(frame: &str) -> bool {
    common::golden().iter().find(|g| g.0 == frame).map(|g| common::golden_says_ng(&g.2)).expect("frame in golden set")
}

#[test]
fn replay_gives_expected_verdicts_and_reject_timeline() {
    let delay = 200.0;
    let pulse = 30.0;
    let r = run_station(|_| {}, None, None);
    let n = common::golden().len();
    assert_eq!(r.results.len(), n, "one result line per part");
    let ids: Vec<u64> = r.results.iter().map(|x| x["part"].as_u64().expect("part")).collect();
    assert_eq!(ids, (1..=n as u64).collect::<Vec<_>>());

    let mut expected_pulses = Vec::new();
    for rec in &r.results {
        let frame = rec["frame"].as_str().expect("frame");
        let ng = golden_ng(frame);
        assert_eq!(rec["verdict"], if ng { "ng" } else { "ok" }, "{frame}: {rec}");
        assert_eq!(rec["rejected"], ng, "{frame}");
        assert_eq!(rec["late"], false, "{frame}");
        assert_eq!(rec["model"]["name"], "seal-siamese-attention");
        assert!(rec["model"]["sha256"].as_str().is_some_and(|s| s.len() == 64));
        if ng {
            expected_pulses.push(rec["trigger_ms"].as_f64().expect("trigger_ms") + delay);
        }
    }
    assert!(!expected_pulses.is_empty() && expected_pulses.len() < n, "the set has OK and NG parts");

    let edges = common::edges(&r.timeline, "reject0");
    let rises: Vec<f64> = edges.iter().filter(|e| e.1 == 1).map(|e| e.0).collect();
    let falls: Vec<f64> = edges.iter().filter(|e| e.1 == 0).map(|e| e.0).collect();
    assert_eq!(rises.len(), expected_pulses.len(), "one pulse per NG part, none for OK parts: {edges:?}");
    for (want, got) in expected_pulses.iter().zip(&rises) {
        assert!(*got >= want - 1.0 && *got <= want + SLACK_MS, "pulse at {got:.1} ms, scheduled {want:.1} ms");
    }
    for (rise, fall) in rises.iter().zip(&falls) {
        let width = fall - rise;
        assert!(width >= pulse - 1.0 && width <= pulse + SLACK_MS, "pulse width {width:.1} ms");
    }
    assert!(common::edges(&r.timeline, "alarm").is_empty(), "no fault, no alarm");
    assert_eq!(edges.last().map(|e| e.1), Some(0), "reject output ends off");
    let m = &r.report.metrics;
    assert_eq!(m.parts_settled, n as u64);
    assert_eq!(m.rejects_fired, expected_pulses.len() as u64);
    let archived = std::fs::read_dir(r.dir.join("ng")).expect("archive").count();
    assert_eq!(archived, expected_pulses.len(), "every NG image archived");
}

#[test]
fn part_not_ready_at_its_reject_point_is_rejected_and_counted_late() {
    // A reject point at the trigger itself: no verdict can be ready, every part must leave the line.
    let r = run_station(|v| v["actuation"]["delay_ms"] = json!(0), None, None);
    let n = common::golden().len() as u64;
    assert_eq!(r.report.metrics.parts_late, n);
    assert_eq!(r.results.len() as u64, n);
    for rec in &r.results {
        assert_eq!(rec["late"], true, "{rec}");
        assert_eq!(rec["rejected"], true, "{rec}");
    }
    let rises = common::edges(&r.timeline, "reject0").iter().filter(|e| e.1 == 1).count();
    assert_eq!(rises as u64, n, "a reject pulse per late part");
}

/// A camera that drops out for some captures, then comes back. Its device watcher (`watch_faults`), if
/// the station gave it one, says "back" at capture `back_at` whatever the captures do.
struct FlakyCamera {
    inner: ReplaySource,
    count: u64,
    lost: std::ops::RangeInclusive<u64>,
    corrupt: Option<u64>,
    back_at: Option<u64>,
    notify: Option<cellgate::sources::FaultNotifier>,
}

impl FrameSource for FlakyCamera {
    fn capture(&mut self, after: Instant) -> Result<Frame, SourceError> {
        self.count += 1;
        if let Some(notify) = self.notify.as_ref().filter(|_| self.back_at == Some(self.count)) {
            notify(None);
        }
        if self.lost.contains(&self.count) {
            return Err(SourceError::Unavailable("test: camera unplugged".into()));
        }
        let mut f = self.inner.capture(after)?;
        if self.corrupt == Some(self.count) {
            f.data = f.data[..f.data.len() / 2].into();
        }
        Ok(f)
    }

    fn describe(&self) -> String {
        "flaky test camera".into()
    }

    fn watch_faults(&mut self, notify: cellgate::sources::FaultNotifier) {
        self.notify = Some(notify);
    }
}

fn flaky(lost: std::ops::RangeInclusive<u64>, corrupt: Option<u64>) -> Box<dyn FrameSource> {
    let inner = ReplaySource::open(&common::fixtures().join("seal"), false).expect("fixtures");
    Box::new(FlakyCamera { inner, count: 0, lost, corrupt, back_at: None, notify: None })
}

#[test]
fn a_camera_whose_device_says_back_while_captures_still_fail_keeps_the_alarm_on() {
    // Captures 4..=7 fail; at capture 6 the device watcher reports the camera back (it reconnected, but
    // frames still do not come). The failing parts after that must set the alarm again.
    let inner = ReplaySource::open(&common::fixtures().join("seal"), false).expect("fixtures");
    let camera = FlakyCamera { inner, count: 0, lost: 4..=7, corrupt: None, back_at: Some(6), notify: None };
    let r = run_station(
        |v| {
            v["trigger"]["rate_hz"] = json!(10);
            v["actuation"]["delay_ms"] = json!(60);
        },
        Some(Box::new(camera)),
        None,
    );
    let t = |id: u64| r.results.iter().find(|x| x["part"] == id).expect("part logged")["trigger_ms"].as_f64();
    let (t4, t8) = (t(4).expect("t4"), t(8).expect("t8"));
    let alarm = common::edges(&r.timeline, "alarm");
    let before_8 = alarm.iter().rfind(|e| e.0 < t8 - 1.0).map(|e| e.1);
    assert_eq!(before_8, Some(1), "alarm on through the failing captures: {alarm:?} (t4 {t4}, t8 {t8})");
    assert!(alarm.iter().any(|e| e.1 == 0 && e.0 >= t8 - 1.0), "off once frames come: {alarm:?}");
}

#[test]
fn camera_loss_sets_alarm_rejects_parts_and_recovers_by_itself() {
    // 10 parts/s with the reject point 60 ms after the trigger: each part settles before the next.
    let r = run_station(
        |v| {
            v["trigger"]["rate_hz"] = json!(10);
            v["actuation"]["delay_ms"] = json!(60);
        },
        Some(flaky(4..=6, None)),
        None,
    );
    let by_part = |id: u64| r.results.iter().find(|x| x["part"] == id).cloned().expect("part logged");
    for id in 4..=6 {
        let rec = by_part(id);
        assert_eq!(rec["verdict"], "error", "{rec}");
        assert_eq!(rec["rejected"], true, "{rec}");
        assert!(rec["error"].as_str().is_some_and(|e| e.contains("camera unavailable")), "{rec}");
    }
    for id in [1, 2, 3, 7, 8] {
        let rec = by_part(id);
        assert_ne!(rec["verdict"], "error", "part {id} judged normally: {rec}");
        assert_eq!(rec["rejected"], golden_ng(rec["frame"].as_str().expect("frame")), "{rec}");
    }
    let alarm = common::edges(&r.timeline, "alarm");
    assert_eq!(alarm.iter().map(|e| e.1).collect::<Vec<_>>(), vec![1, 0], "alarm on once, off once: {alarm:?}");
    let t4 = by_part(4)["trigger_ms"].as_f64().expect("t");
    let t7 = by_part(7)["trigger_ms"].as_f64().expect("t");
    assert!(alarm[0].0 >= t4 - 1.0 && alarm[0].0 <= t4 + SLACK_MS, "alarm on at {} for loss at {t4}", alarm[0].0);
    assert!(alarm[1].0 >= t7 - 1.0 && alarm[1].0 <= t7 + SLACK_MS, "alarm off at {} for return at {t7}", alarm[1].0);
    assert_eq!(r.report.metrics.capture_errors, 3);
    assert_eq!(r.results.len(), 15, "12 replayed parts plus 3 lost to the camera, all logged");
}

#[test]
fn bad_frame_is_counted_logged_and_rejected_without_alarm() {
    let r = run_station(|_| {}, Some(flaky(0..=0, Some(5))), None);
    let rec = r.results.iter().find(|x| x["part"] == 5).expect("part 5 logged");
    assert_eq!(rec["verdict"], "error");
    assert_eq!(rec["rejected"], true);
    assert!(rec["error"].as_str().is_some_and(|e| e.contains("bad frame")), "{rec}");
    assert_eq!(r.report.metrics.bad_frames, 1);
    assert!(common::edges(&r.timeline, "alarm").is_empty(), "one bad frame is not a station fault");
    assert_eq!(r.results.len(), 12);
}

#[test]
fn stop_settles_every_part_in_flight_and_leaves_outputs_safe() {
    let r = run_station(
        |v| {
            v["source"]["loop"] = json!(true);
            v["trigger"]["rate_hz"] = json!(50);
        },
        None,
        Some(Duration::from_millis(700)),
    );
    let m = &r.report.metrics;
    assert!(m.triggers >= 10, "ran for a while: {m:?}");
    assert_eq!(m.parts_settled, m.frames_captured, "every captured part settled");
    assert_eq!(r.results.len() as u64, m.parts_settled, "every settled part logged");
    let mut last = std::collections::BTreeMap::new();
    for c in &r.timeline {
        last.insert(c["line"].as_str().expect("line").to_string(), c["value"].as_u64().expect("v"));
    }
    assert!(last.values().all(|&v| v == 0), "outputs safe at exit: {last:?}");
}

#[test]
fn fixture_cycle_of_six_cavities_is_judged_as_one_batch() {
    let r = run_station(
        |v| {
            v["inspection"]["cavities"] = json!(6);
            v["gpio"]["reject"] = json!(["r0", "r1", "r2", "r3", "r4", "r5"]);
            v["trigger"]["rate_hz"] = json!(5);
        },
        None,
        None,
    );
    assert_eq!(r.report.metrics.batches, 2, "12 parts in 2 cycles of 6");
    assert_eq!(r.results.len(), 12);
    for rec in &r.results {
        let frame = rec["frame"].as_str().expect("frame");
        let cavity = rec["cavity"].as_u64().expect("cavity");
        assert_eq!(rec["rejected"], golden_ng(frame), "{rec}");
        let line = format!("r{cavity}");
        let pulsed = common::edges(&r.timeline, &line)
            .iter()
            .any(|e| e.1 == 1 && (e.0 - rec["trigger_ms"].as_f64().expect("t") - 200.0).abs() <= SLACK_MS);
        assert_eq!(pulsed, golden_ng(frame), "cavity {cavity} output for {frame}");
    }
}

#[test]
fn full_disk_never_stops_inspection() {
    // /dev/full accepts the open and fails every write with ENOSPC, as a full disk does.
    let r = run_station(
        |v| {
            v["records"]["results"] = json!("/dev/full");
        },
        None,
        None,
    );
    let m = &r.report.metrics;
    assert_eq!(m.parts_settled, 12, "every part still judged");
    assert!(m.results_write_errors >= 12, "each failed write counted: {m:?}");
    let rises = common::edges(&r.timeline, "reject0").iter().filter(|e| e.1 == 1).count();
    let ng = common::golden().iter().filter(|g| common::golden_says_ng(&g.2)).count();
    assert_eq!(rises, ng, "rejects still fire for every NG part");
    assert_eq!(r.report.summary.parts, 12, "the summary still has every part");
}

/// Frames that name a recipe the station has no reference for: inference cannot judge them.
struct UnknownRecipe {
    inner: ReplaySource,
    count: u64,
    bad: std::ops::RangeInclusive<u64>,
}

impl FrameSource for UnknownRecipe {
    fn capture(&mut self, after: Instant) -> Result<Frame, SourceError> {
        self.count += 1;
        let mut f = self.inner.capture(after)?;
        if self.bad.contains(&self.count) {
            let mut info = (*f.info).clone();
            info.recipe = Some("recipe-nobody-configured".into());
            f.info = Arc::new(info);
        }
        Ok(f)
    }

    fn describe(&self) -> String {
        "test source with unknown recipes".into()
    }
}

#[test]
fn inference_fault_sets_alarm_rejects_and_clears() {
    let inner = ReplaySource::open(&common::fixtures().join("seal"), false).expect("fixtures");
    let r = run_station(
        |v| {
            v["trigger"]["rate_hz"] = json!(10);
            v["actuation"]["delay_ms"] = json!(60);
        },
        Some(Box::new(UnknownRecipe { inner, count: 0, bad: 3..=4 })),
        None,
    );
    for id in [3u64, 4] {
        let rec = r.results.iter().find(|x| x["part"] == id).expect("logged");
        assert_eq!(rec["verdict"], "error", "{rec}");
        assert_eq!(rec["rejected"], true);
        assert!(rec["error"].as_str().is_some_and(|e| e.contains("recipe-nobody-configured")), "{rec}");
    }
    let alarm: Vec<u8> = common::edges(&r.timeline, "alarm").iter().map(|e| e.1).collect();
    assert_eq!(alarm, vec![1, 0], "alarm on at the fault, off when inference works again");
    assert_eq!(r.report.metrics.inference_errors, 2);
    let rec5 = r.results.iter().find(|x| x["part"] == 5).expect("logged");
    assert_ne!(rec5["verdict"], "error", "station recovered: {rec5}");
}

#[test]
fn a_model_fault_clears_on_its_self_test_while_no_part_comes() {
    // Parts 3 and 4 cannot be judged (alarm on); then the line stops, as lines do on an alarm. The
    // failing model is tried on its self-test while idle, passes, and the alarm clears with no part.
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = StationConfig::load(&common::write_config(dir.path(), |v| {
        v["actuation"]["delay_ms"] = json!(60);
    }))
    .expect("config");
    let inner = ReplaySource::open(&common::fixtures().join("seal"), false).expect("fixtures");
    let trigger = common::PartsThenQuiet {
        parts: 4,
        period: Duration::from_millis(100),
        idles: 0,
        idle_gap: Duration::ZERO,
        end_after: Duration::from_secs(6),
        next: None,
    };
    let station = Station::build(cfg, &Overrides::default())
        .expect("station builds")
        .with_source(Box::new(UnknownRecipe { inner, count: 0, bad: 3..=4 }))
        .with_trigger(Box::new(trigger));
    let report = station.run(Arc::new(AtomicBool::new(false))).expect("station runs");
    let results = common::read_jsonl(&dir.path().join("results.jsonl"));
    let timeline = common::read_jsonl(&dir.path().join("gpio.jsonl"));
    assert_eq!(report.metrics.inference_errors, 2);
    let t4 = results.iter().find(|x| x["part"] == 4).expect("logged")["trigger_ms"].as_f64().expect("t");
    let alarm = common::edges(&timeline, "alarm");
    assert_eq!(alarm.iter().map(|e| e.1).collect::<Vec<_>>(), [1, 0], "{alarm:?}");
    // Off about 2 s after the last part (the idle re-test), well before the end of the run at 6 s,
    // where every output goes safe anyway.
    let off = alarm[1].0 - t4;
    assert!((1500.0..5000.0).contains(&off), "alarm cleared {off:.0} ms after the last part: {alarm:?}");
}

/// The configured (simulated) lines, with a bug injected into the actuation path: the first reject
/// pulse panics the actuator thread while the reject output is active.
struct PanicOnFirstReject(Box<dyn GpioOutputs>);

impl GpioOutputs for PanicOnFirstReject {
    fn set(&mut self, line: OutputLine, active: bool) -> Result<(), GpioError> {
        self.0.set(line, active)?;
        if active && matches!(line, OutputLine::Reject(_)) {
            panic!("injected: actuator bug while the reject output is active");
        }
        Ok(())
    }
    fn all_safe(&mut self) -> Result<(), GpioError> {
        self.0.all_safe()
    }
    fn describe(&self) -> String {
        self.0.describe()
    }
    fn timeline(&self) -> Arc<std::sync::Mutex<Vec<LineChange>>> {
        self.0.timeline()
    }
}

#[test]
fn a_panic_in_the_actuator_stops_the_station_with_outputs_safe() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg_path = common::write_config(dir.path(), |v| {
        v["source"]["loop"] = json!(true);
        v["trigger"]["rate_hz"] = json!(50);
    });
    let cfg = StationConfig::load(&cfg_path).expect("config");
    let station = Station::build(cfg, &Overrides::default())
        .expect("station builds")
        .wrap_outputs(|inner| Box::new(PanicOnFirstReject(inner)));
    // A safety net only: the station must stop by itself long before this.
    let stop = Arc::new(AtomicBool::new(false));
    let net = stop.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(20));
        net.store(true, Ordering::SeqCst);
    });
    let started = Instant::now();
    let err = match station.run(stop) {
        Ok(r) => panic!("a station whose actuator died kept running: {:?}", r.metrics),
        Err(e) => e.to_string(),
    };
    assert!(started.elapsed() < Duration::from_secs(5), "stopped by itself in {:?}", started.elapsed());
    assert!(err.contains("actuate thread panicked"), "{err}");
    let timeline = common::read_jsonl(&dir.path().join("gpio.jsonl"));
    let reject = common::edges(&timeline, "reject0");
    assert_eq!(reject.first().map(|e| e.1), Some(1), "the reject output was active when it panicked: {reject:?}");
    let mut last = std::collections::BTreeMap::new();
    for c in &timeline {
        last.insert(c["line"].as_str().expect("line").to_string(), c["value"].as_u64().expect("v"));
    }
    assert!(last.values().all(|&v| v == 0), "outputs safe after the panic: {last:?}");
}

/// An offline run (`cellgate evaluate`) flat out with a reject delay no inference meets: every part is
/// still judged, none shed as past its reject point; on a line the same delay sheds them.
#[test]
fn offline_every_part_is_judged_however_long_it_waited_for_inference() {
    let _serial = common::serial();
    let judged = |offline: bool| {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg_path = common::write_config(dir.path(), |v| v["actuation"]["delay_ms"] = json!(1));
        let cfg = StationConfig::load(&cfg_path).expect("config");
        let ov = Overrides { saturate: true, rate_hz: Some(f64::INFINITY), offline, ..Overrides::default() };
        Station::build(cfg, &ov).expect("station").run(Arc::new(AtomicBool::new(false))).expect("run");
        let results = common::read_jsonl(&dir.path().join("results.jsonl"));
        (results.len(), results.iter().filter(|r| r["verdict"] == "ok" || r["verdict"] == "ng").count())
    };
    assert_eq!(judged(true), (12, 12), "offline: all 12 fixtures judged");
    let (settled, on_line) = judged(false);
    assert_eq!(settled, 12);
    assert!(on_line < 12, "on a line a 1 ms reject delay sheds parts: {on_line} of 12 judged");
}
