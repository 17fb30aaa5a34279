//! The station's extension points as a user of the library sees them: a frame source and a record sink
//! written here, outside the crate, plugged into a station built from a config (`Station::with_source`,
//! `Station::with_sink`), and the metrics a running station publishes (the `Station::metrics` registry,
//! `state_dir/metrics.json`).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cellgate::config::StationConfig;
use cellgate::metrics::file::{MetricsFile, RunState};
use cellgate::part::PartRecord;
use cellgate::sinks::record::RecordSink;
use cellgate::sources::{image_file, Frame, FrameSource, PixelFormat, SourceError};
use cellgate::station::{Overrides, Station};
use serde_json::json;

/// A camera stand-in: the same still image for every trigger, `parts` times, then the end.
struct StillSource {
    frame: Frame,
    left: u64,
}

impl FrameSource for StillSource {
    fn capture(&mut self, _after: Instant) -> Result<Frame, SourceError> {
        if self.left == 0 {
            return Err(SourceError::Ended);
        }
        self.left -= 1;
        Ok(Frame { timestamp: Instant::now(), ..self.frame.clone() })
    }

    fn describe(&self) -> String {
        "a still image (test)".into()
    }
}

/// The recipe's own reference as a live frame: a good part, judged OK.
fn good_part() -> Frame {
    let reference = common::fixtures().join("seal/references/recipe-a.png");
    let rgb = image_file::open(&reference).expect("reference").into_rgb8();
    Frame::still(rgb.width(), rgb.height(), PixelFormat::Rgb8, rgb.into_raw())
}

/// What the test's sink saw: part numbers and verdicts in the order they came, and whether it was closed.
#[derive(Default)]
struct Seen {
    parts: Vec<(u64, String)>,
    closed: bool,
}

struct CollectingSink(Arc<Mutex<Seen>>);

impl RecordSink for CollectingSink {
    fn name(&self) -> &str {
        "test collector"
    }

    fn record(&mut self, part: &PartRecord) {
        let verdict = format!("{:?}", part.verdict).to_lowercase();
        self.0.lock().expect("seen").parts.push((part.part, verdict));
    }

    fn close(&mut self) {
        self.0.lock().expect("seen").closed = true;
    }
}

#[test]
fn a_source_and_a_sink_defined_outside_the_crate_see_every_part() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg_path = common::write_config(dir.path(), |v| v["inspection"]["recipe"] = json!("recipe-a"));
    let cfg = StationConfig::load(&cfg_path).expect("config");
    let frame = good_part();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let parts = 5;
    let station = Station::build(cfg, &Overrides::default())
        .expect("station builds")
        .with_source(Box::new(StillSource { frame, left: parts }))
        .with_sink(Box::new(CollectingSink(seen.clone())));
    let report = station.run(Arc::new(AtomicBool::new(false))).expect("station runs");

    let seen = seen.lock().expect("seen");
    assert!(seen.closed, "the sink was closed at the end of the run");
    let logged: Vec<(u64, String)> = common::read_jsonl(&dir.path().join("results.jsonl"))
        .iter()
        .map(|r| (r["part"].as_u64().expect("part"), r["verdict"].as_str().expect("verdict").to_string()))
        .collect();
    let want: Vec<(u64, String)> = (1..=parts).map(|p| (p, "ok".to_string())).collect();
    assert_eq!(seen.parts, want, "every part, in order, judged OK");
    assert_eq!(logged, seen.parts, "the configured results log got the same parts");
    assert_eq!(report.metrics.parts_settled, parts);
}

#[test]
fn metrics_json_appears_and_follows_the_running_station_with_sink_counters_live() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg_path = common::write_config(dir.path(), |v| {
        // The fixtures in a loop (NG parts among them, so the archive saves images) until stopped.
        v["source"]["loop"] = json!(true);
        v["metrics"] = json!({ "period_ms": 100 });
    });
    let cfg = StationConfig::load(&cfg_path).expect("config");
    let state_dir = dir.path().join("models");
    let station = Station::build(cfg, &Overrides::default()).expect("station builds");
    let registry = station.metrics.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let run = {
        let stop = stop.clone();
        std::thread::spawn(move || station.run(stop))
    };
    // Polled, however slowly the machine runs: each condition only comes true by the station's own writes.
    let wait_for = |what: &str, ok: &dyn Fn(&MetricsFile) -> bool| -> MetricsFile {
        let t0 = Instant::now();
        loop {
            if let Ok(f) = MetricsFile::read(&state_dir) {
                if ok(&f) {
                    return f;
                }
            }
            assert!(t0.elapsed() < Duration::from_secs(300), "metrics.json never showed {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let first = wait_for("an archived NG image while running", &|f| {
        f.state == RunState::Running && f.live.counters.archive_saved > 0 && f.live.ready
    });
    let later = wait_for("a later write with more parts", &|f| {
        f.seq > first.seq && f.live.counters.parts_settled > first.live.counters.parts_settled
    });
    assert_eq!(later.state, RunState::Running);
    assert!(later.live.latency.count > 0 && later.live.latency.p99_ms.is_some(), "{:?}", later.live.latency);
    assert!(later.model.contains("seal-siamese-attention"), "{}", later.model);
    assert!(registry.snapshot().parts_settled >= later.live.counters.parts_settled, "the registry is live too");

    stop.store(true, Ordering::SeqCst);
    let report = run.join().expect("station thread").expect("station runs");
    let last = MetricsFile::read(&state_dir).expect("the file written at exit");
    assert_eq!(last.state, RunState::Stopped);
    assert_eq!(last.live.counters, report.metrics, "the last write has the run's final counters");
    assert!(!last.live.ready && !last.live.alarm, "outputs safe at exit");
    let s = &report.summary;
    assert_eq!(last.live.latency.p50_ms, s.latency_ms(50.0), "the summary's figures");
    assert_eq!(last.live.latency.p99_ms, s.latency_ms(99.0));
    assert_eq!(report.metrics.metrics_write_errors, 0);
}

#[test]
fn a_metrics_file_that_cannot_be_written_is_counted_and_the_line_runs_on() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    // The state folder's path taken by a file: no metrics.json can be written there.
    let blocked = dir.path().join("state-is-a-file");
    std::fs::write(&blocked, b"not a folder").expect("write");
    let cfg_path = common::write_config(dir.path(), |v| {
        v["model_updates"]["state_dir"] = json!(blocked);
        v["metrics"] = json!({ "period_ms": 100 });
    });
    let cfg = StationConfig::load(&cfg_path).expect("config");
    let station = Station::build(cfg, &Overrides::default()).expect("station builds");
    let report = station.run(Arc::new(AtomicBool::new(false))).expect("station runs");
    let parts = common::golden().len();
    assert_eq!(common::read_jsonl(&dir.path().join("results.jsonl")).len(), parts, "every part logged");
    assert_eq!(report.summary.parts, parts as u64);
    // At least the first write, made as the station starts, and the one at its exit.
    assert!(report.metrics.metrics_write_errors >= 2, "{:?}", report.metrics);
    assert_eq!(std::fs::read(&blocked).expect("file"), b"not a folder", "nothing written over it");
}

/// A camera that hangs inside its read after the first frame, until the test lets it go.
struct HangingSource {
    frame: Frame,
    served: bool,
    release: crossbeam_channel::Receiver<()>,
}

impl FrameSource for HangingSource {
    fn capture(&mut self, _after: Instant) -> Result<Frame, SourceError> {
        if !self.served {
            self.served = true;
            return Ok(Frame { timestamp: Instant::now(), ..self.frame.clone() });
        }
        let _ = self.release.recv();
        Err(SourceError::Ended)
    }

    fn describe(&self) -> String {
        "a camera that hangs (test)".into()
    }
}

#[test]
fn a_camera_hung_inside_its_read_shows_as_stuck_in_a_fresh_metrics_file() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg_path = common::write_config(dir.path(), |v| v["metrics"] = json!({ "period_ms": 100 }));
    let cfg = StationConfig::load(&cfg_path).expect("config");
    let frame = good_part();
    let (release_tx, release) = crossbeam_channel::bounded(1);
    let station = Station::build(cfg, &Overrides::default())
        .expect("station builds")
        .with_source(Box::new(HangingSource { frame, served: false, release }));
    let run = std::thread::spawn(move || station.run(Arc::new(AtomicBool::new(false))));
    let t0 = Instant::now();
    let stuck = loop {
        // The timer thread keeps the file fresh; only the stuck mark says no part is being inspected.
        if let Some(s) = MetricsFile::read(&dir.path().join("models")).ok().and_then(|f| f.stuck) {
            break s;
        }
        assert!(t0.elapsed() < Duration::from_secs(120), "no stuck step in metrics.json");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(stuck.step, "camera read");
    assert!(stuck.for_ms >= cellgate::metrics::file::STUCK_AFTER.as_millis() as u64, "{stuck:?}");
    release_tx.send(()).expect("release the camera");
    run.join().expect("station thread").expect("station runs");
    let last = MetricsFile::read(&dir.path().join("models")).expect("file");
    assert_eq!((last.state, last.stuck), (RunState::Stopped, None), "the read came back: nothing stuck at exit");
}

/// A sink written carelessly: it panics on the second part.
struct PanickingSink(u32);

impl RecordSink for PanickingSink {
    fn name(&self) -> &str {
        "test panicker"
    }

    fn record(&mut self, _part: &PartRecord) {
        self.0 += 1;
        assert!(self.0 < 2, "a sink bug");
    }
}

#[test]
fn a_panicking_sink_is_dropped_and_counted_and_the_other_sinks_get_every_part() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg_path = common::write_config(dir.path(), |v| v["inspection"]["recipe"] = json!("recipe-a"));
    let cfg = StationConfig::load(&cfg_path).expect("config");
    let frame = good_part();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let parts = 4;
    let station = Station::build(cfg, &Overrides::default())
        .expect("station builds")
        .with_source(Box::new(StillSource { frame, left: parts }))
        .with_sink(Box::new(PanickingSink(0)))
        .with_sink(Box::new(CollectingSink(seen.clone())));
    let report = station.run(Arc::new(AtomicBool::new(false))).expect("station runs");
    assert_eq!(seen.lock().expect("seen").parts.len() as u64, parts, "the sink after the panicking one");
    assert_eq!(common::read_jsonl(&dir.path().join("results.jsonl")).len() as u64, parts, "the results log");
    assert_eq!(report.metrics.record_sink_panics, 1);
}
