use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crossbeam_channel::Sender;

use super::super::Trigger;
use super::*;

/// A line whose answers the test scripts; an empty script means "works".
#[derive(Default)]
struct Script {
    requests_fail: VecDeque<bool>,
    probes_fail: VecDeque<bool>,
    requests: u32,
    edges: Option<Sender<std::io::Result<Duration>>>,
}

struct Scripted(Arc<Mutex<Script>>);

fn lost() -> TriggerError {
    TriggerError::Released { chip: "sim".into(), line: 0, consumer: "nobody".into() }
}

impl LineAccess for Scripted {
    fn request(&mut self) -> Result<Live, TriggerError> {
        let mut s = self.0.lock().expect("script");
        s.requests += 1;
        if s.requests_fail.pop_front().unwrap_or(false) {
            return Err(lost());
        }
        let (tx, rx) = crossbeam_channel::bounded(8);
        s.edges = Some(tx);
        Ok(Live { events: rx, chip: "sim".into(), offset: 0, last_seen: Instant::now(), _reader: None })
    }
    fn probe(&mut self, _: &Live) -> Result<(), TriggerError> {
        let mut s = self.0.lock().expect("script");
        if s.probes_fail.pop_front().unwrap_or(false) {
            Err(lost())
        } else {
            Ok(())
        }
    }
}

const FAST: Timing = Timing {
    probe_every: Duration::from_millis(30),
    idle_every: Duration::from_secs(3600),
    reopen_min: Duration::from_millis(40),
    reopen_max: Duration::from_millis(80),
};

fn eye(script: Script) -> (PhotoEye, Arc<Mutex<Script>>) {
    eye_timed(script, FAST)
}

fn eye_timed(script: Script, timing: Timing) -> (PhotoEye, Arc<Mutex<Script>>) {
    let script = Arc::new(Mutex::new(script));
    let eye = PhotoEye::with_access(Box::new(Scripted(script.clone())), Duration::from_millis(5), timing)
        .expect("first request works");
    (eye, script)
}

#[test]
fn a_quiet_line_is_reported_idle_every_so_often_and_an_edge_restarts_the_count() {
    let timing = Timing { idle_every: Duration::from_millis(100), probe_every: Duration::from_secs(3600), ..FAST };
    let (mut eye, script) = eye_timed(Script::default(), timing);
    let stop = AtomicBool::new(false);
    let t0 = Instant::now();
    assert!(matches!(eye.wait(&stop), TriggerEvent::Idle));
    assert!(matches!(eye.wait(&stop), TriggerEvent::Idle));
    assert!(t0.elapsed() >= Duration::from_millis(200), "idle only after 100 ms of quiet each time");
    std::thread::sleep(Duration::from_millis(60));
    edge(&script, Ok(now_monotonic()));
    assert!(matches!(eye.wait(&stop), TriggerEvent::Part(_)), "an edge is a part, not lost in the quiet");
    let t1 = Instant::now();
    assert!(matches!(eye.wait(&stop), TriggerEvent::Idle));
    assert!(t1.elapsed() >= Duration::from_millis(90), "the quiet counts from the edge: {:?}", t1.elapsed());
}

fn edge(script: &Arc<Mutex<Script>>, ev: std::io::Result<Duration>) {
    let tx = script.lock().expect("script").edges.clone().expect("requested");
    tx.send(ev).expect("the photo-eye still listens");
}

fn now_monotonic() -> Duration {
    let ts = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).expect("clock");
    Duration::new(ts.tv_sec() as u64, ts.tv_nsec() as u32)
}

#[test]
fn edges_are_parts_and_bounce_is_ignored() {
    let (mut eye, script) = eye(Script::default());
    let stop = AtomicBool::new(false);
    let t = now_monotonic();
    edge(&script, Ok(t));
    edge(&script, Ok(t + Duration::from_millis(2)));
    edge(&script, Ok(t + Duration::from_millis(10)));
    assert!(matches!(eye.wait(&stop), TriggerEvent::Part(_)));
    assert!(matches!(eye.wait(&stop), TriggerEvent::Part(_)), "the 2 ms edge is bounce, the 10 ms one a part");
    stop.store(true, Ordering::Relaxed);
    assert!(matches!(eye.wait(&stop), TriggerEvent::Stopped));
}

#[test]
fn a_read_error_loses_the_line_once_and_it_is_requested_again_until_it_works() {
    let (mut eye, script) = eye(Script { requests_fail: [false, true, true].into(), ..Script::default() });
    let stop = AtomicBool::new(false);
    edge(&script, Err(std::io::Error::from_raw_os_error(nix::libc::ENODEV)));
    assert!(matches!(eye.wait(&stop), TriggerEvent::Lost(TriggerError::Read { .. })));
    let t0 = Instant::now();
    assert!(matches!(eye.wait(&stop), TriggerEvent::Back), "one Lost, then Back once a request works");
    assert_eq!(script.lock().expect("script").requests, 4, "the first, two refused, one that works");
    assert!(t0.elapsed() >= FAST.reopen_min + FAST.reopen_max, "retries back off: {:?}", t0.elapsed());
    edge(&script, Ok(now_monotonic()));
    assert!(matches!(eye.wait(&stop), TriggerEvent::Part(_)), "the new request's edges are parts");
}

#[test]
fn a_line_a_probe_lost_is_taken_back_when_it_is_ours_again_without_a_new_request() {
    // An idle line: the first probe fails (chip info unreadable for a moment), the next finds it ours.
    let (mut eye, script) = eye(Script { probes_fail: [true].into(), ..Script::default() });
    let stop = AtomicBool::new(false);
    assert!(matches!(eye.wait(&stop), TriggerEvent::Lost(TriggerError::Released { .. })));
    assert!(matches!(eye.wait(&stop), TriggerEvent::Back));
    assert_eq!(script.lock().expect("script").requests, 1, "the kept request came back; no new one");
    edge(&script, Ok(now_monotonic()));
    assert!(matches!(eye.wait(&stop), TriggerEvent::Part(_)), "the kept reader still delivers edges");
}

#[test]
fn a_line_a_probe_lost_for_good_is_requested_anew() {
    let (mut eye, script) = eye(Script { probes_fail: [true, true].into(), ..Script::default() });
    let stop = AtomicBool::new(false);
    assert!(matches!(eye.wait(&stop), TriggerEvent::Lost(_)));
    assert!(matches!(eye.wait(&stop), TriggerEvent::Back));
    assert_eq!(script.lock().expect("script").requests, 2, "the kept request failed its probe: a new one");
}

#[test]
fn a_reader_that_ends_loses_the_line() {
    let (mut eye, script) = eye(Script::default());
    script.lock().expect("script").edges = None;
    let stop = AtomicBool::new(false);
    assert!(matches!(eye.wait(&stop), TriggerEvent::Lost(TriggerError::ReaderGone { .. })));
}
