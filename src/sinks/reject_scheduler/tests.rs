use super::*;
use crate::inspect::{Judgement, ModelIdentity};
use crate::runtime::Provider;
use crate::sinks::gpio::sim::SimGpio;
use crate::sinks::gpio::timeline::{LineChange, Timeline};
use crate::sinks::gpio::OutputNames;
use crate::sources::FrameInfo;
use std::collections::VecDeque;
use std::sync::Mutex;

const DELAY: Duration = Duration::from_millis(150);
const PULSE: Duration = Duration::from_millis(40);

fn timing() -> Timing {
    Timing {
        delay: DELAY,
        pulse: PULSE,
        reject_on_fault: true,
        threshold: 0.5,
        overload_window: 40,
        overload_max_share: 0.05,
        settle_when_judged: false,
    }
}

struct Harness {
    tx: ActuatorTx,
    records: mailbox::Receiver<PartRecord>,
    scheduler: std::thread::JoinHandle<()>,
    timeline: Arc<Mutex<Vec<LineChange>>>,
    epoch: Instant,
}

fn start() -> Harness {
    start_failing(0, false, false).0
}

fn registered(id: u64) -> PartRecord {
    PartRecord::registered(id, 0, String::new(), 0.0)
        .captured("r", &FrameInfo { name: format!("f{id}"), ..FrameInfo::default() })
}

/// Part `id`, triggered at `t`, registered and judged.
fn judged(h: &Harness, id: u64, t: Instant, ng: bool) {
    h.tx.register(t, registered(id)).unwrap();
    h.tx.judged(id, t, scored(ng)).unwrap();
}

fn scored(ng: bool) -> Judgement {
    let model = ModelIdentity {
        name: "m".into(),
        version: "1".into(),
        sha256: String::new(),
        provider: Provider::Cpu,
        graph: "full",
    };
    Judgement { model: Some(Arc::new(model)), ..Judgement::from_score(if ng { 0.9 } else { 0.1 }, 0.5) }
}

/// Ends the run; returns every record (by part id) and the line changes (ms after the epoch).
fn finish(h: Harness) -> (BTreeMap<u64, PartRecord>, Vec<LineChange>) {
    drop(h.tx);
    h.scheduler.join().unwrap();
    let mut got = VecDeque::new();
    while h.records.recv(None, &mut got) {}
    let records = got.into_iter().map(|r: PartRecord| (r.part, r)).collect();
    let changes = h.timeline.lock().unwrap().clone();
    (records, changes)
}

fn ms_after(epoch: Instant, t: Instant) -> f64 {
    t.duration_since(epoch).as_secs_f64() * 1e3
}

#[test]
fn back_to_back_ng_parts_hold_one_pulse_until_the_last_ones_end() {
    let h = start();
    let t0 = Instant::now();
    // Three NG parts 10 ms apart, judged at once: one continuous pulse, no chatter.
    for i in 0..3u64 {
        judged(&h, i + 1, t0 + Duration::from_millis(10 * i), true);
    }
    let first = ms_after(h.epoch, t0 + DELAY);
    let end = ms_after(h.epoch, t0 + Duration::from_millis(20) + DELAY + PULSE);
    let (records, changes) = finish(h);
    assert_eq!(records.len(), 3);
    assert!(records.values().all(|r| r.rejected && !r.late), "{records:?}");
    let reject: Vec<_> = changes.iter().filter(|c| c.line == "reject0").collect();
    assert_eq!(reject.len(), 2, "one rise and one fall: {reject:?}");
    assert_eq!((reject[0].value, reject[1].value), (1, 0));
    assert!(reject[0].t_ms >= first - 0.5 && reject[0].t_ms < first + 30.0, "rose at {}, due {first}", reject[0].t_ms);
    assert!(reject[1].t_ms >= end - 0.5 && reject[1].t_ms < end + 30.0, "fell at {}, due {end}", reject[1].t_ms);
}

#[test]
fn a_fault_rejects_the_parts_it_finds_at_their_reject_point_and_no_earlier_one() {
    let h = start();
    let t0 = Instant::now();
    // Part 1's reject point passes quietly (judged OK, not yet settled: the fault comes within
    // QUIET_SETTLE of it); the fault comes before part 2's.
    judged(&h, 1, t0, false);
    judged(&h, 2, t0 + Duration::from_millis(100), false);
    // A message due now (clearing a fault that is not active) makes the scheduler read both outcomes
    // now, so it knows part 1 is quiet before its reject point.
    h.tx.fault(FaultKind::Source, false).unwrap();
    std::thread::sleep((t0 + DELAY + QUIET_SETTLE / 4).saturating_duration_since(Instant::now()));
    h.tx.fault(FaultKind::Model, true).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    h.tx.fault(FaultKind::Model, false).unwrap();
    let (records, changes) = finish(h);
    assert!(!records[&1].rejected && !records[&1].fault, "OK before the fault: {:?}", records[&1]);
    assert!(records[&2].rejected && records[&2].fault, "reject point during the fault: {:?}", records[&2]);
    let alarm: Vec<u8> = changes.iter().filter(|c| c.line == "alarm").map(|c| c.value).collect();
    assert_eq!(alarm, [1, 0]);
    let rises = changes.iter().filter(|c| c.line == "reject0" && c.value == 1).count();
    assert_eq!(rises, 1, "only part 2 rejected: {changes:?}");
}

#[test]
fn judged_ok_parts_are_recorded_soon_after_their_reject_point() {
    let h = start();
    let t0 = Instant::now();
    judged(&h, 1, t0, false);
    // The scheduler sleeps through the quiet reject point; the record still comes within the slack.
    let mut got = VecDeque::new();
    let deadline = t0 + DELAY + QUIET_SETTLE + RECORD_SLACK + Duration::from_millis(500);
    while got.is_empty() && Instant::now() < deadline {
        h.records.recv(Some(deadline), &mut got);
    }
    let waited = t0.elapsed();
    assert_eq!(got.len(), 1, "no record {waited:?} after the trigger");
    assert!(waited >= DELAY, "recorded {waited:?} after the trigger, before its reject point");
    assert!(!got[0].rejected);
    finish(h);
}

/// Outputs whose reject line (or, with `status`, alarm line) refuses its first `fail` writes (a driver
/// error, a line taken away).
struct FailingReject {
    inner: SimGpio,
    fail: usize,
    status: bool,
}

impl GpioOutputs for FailingReject {
    fn set(&mut self, line: OutputLine, active: bool) -> Result<(), crate::sinks::gpio::GpioError> {
        let target =
            if self.status { matches!(line, OutputLine::Alarm) } else { matches!(line, OutputLine::Reject(_)) };
        if target && self.fail > 0 {
            self.fail -= 1;
            return Err(crate::sinks::gpio::GpioError::Line { line: line.to_string(), reason: "injected: EIO".into() });
        }
        self.inner.set(line, active)
    }
    fn all_safe(&mut self) -> Result<(), crate::sinks::gpio::GpioError> {
        self.inner.all_safe()
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn timeline(&self) -> Arc<Mutex<Vec<LineChange>>> {
        self.inner.timeline()
    }
}

/// A harness on `FailingReject` outputs (`fail` refused writes of the reject line, or of the alarm with
/// `status`); `ready` adds a ready line, set active first as the station does at start.
fn start_failing(fail: usize, status: bool, ready: bool) -> (Harness, Arc<StationMetrics>) {
    let epoch = Instant::now();
    let ready_name = ready.then(|| "ready".to_string());
    let names =
        OutputNames { reject: vec!["reject0".into()], alarm: "alarm".into(), ready: ready_name, markers: vec![] };
    let timeline = Timeline::new(epoch, None).unwrap();
    let shared = timeline.shared.clone();
    let mut inner = SimGpio::new(names, timeline);
    if ready {
        inner.set(OutputLine::Ready, true).unwrap();
    }
    let gpio = FailingReject { inner, fail, status };
    let (rec_tx, records) = record_channel();
    let metrics: Arc<StationMetrics> = Arc::default();
    let s = RejectScheduler::new(gpio, timing(), "t".into(), metrics.clone(), rec_tx);
    let (tx, rx) = actuator_channel(DELAY);
    let scheduler = std::thread::spawn(move || {
        s.run(rx);
    });
    (Harness { tx, records, scheduler, timeline: shared, epoch }, metrics)
}

#[test]
fn a_reject_that_cannot_be_written_is_recorded_as_failed_with_the_alarm_on_until_a_write_works() {
    let (h, metrics) = start_failing(1, false, true);
    let t0 = Instant::now();
    judged(&h, 1, t0, true);
    // The second NG part comes after the first's pulse would have ended: its write is a new one.
    judged(&h, 2, t0 + PULSE * 3, true);
    let (records, changes) = finish(h);
    assert!(!records[&1].rejected && records[&1].reject_failed, "{:?}", records[&1]);
    assert!(records[&2].rejected && !records[&2].reject_failed, "the next edge writes again: {:?}", records[&2]);
    let alarm: Vec<u8> = changes.iter().filter(|c| c.line == "alarm").map(|c| c.value).collect();
    assert_eq!(alarm, [1, 0], "alarm on at the failed write, off when a write works: {changes:?}");
    let ready: Vec<u8> = changes.iter().filter(|c| c.line == "ready").map(|c| c.value).collect();
    assert_eq!(ready, [1, 0, 1, 0], "ready on, off during the fault, safe at the end: {changes:?}");
    let m = metrics.snapshot();
    assert_eq!((m.output_write_errors, m.rejects_fired), (1, 1), "{m:?}");
}

#[test]
fn parts_shed_for_want_of_capacity_set_the_overload_alarm_and_it_clears_when_they_stop() {
    let h = start();
    let t0 = Instant::now();
    let shed = || Judgement::shed("station overloaded: not inspected".into());
    // 20 judged parts, then 20 shed (50% of a full 40-part window > 5%): alarm; then 40 judged push the
    // shed ones out of the window (share under half the bound): alarm off.
    let mut id = 0;
    let mut next = |h: &Harness, judgement: Judgement| {
        id += 1;
        let t = t0 + Duration::from_micros(100 * id);
        h.tx.register(t, registered(id)).unwrap();
        h.tx.judged(id, t, judgement).unwrap();
    };
    for _ in 0..20 {
        next(&h, scored(false));
    }
    for _ in 0..20 {
        next(&h, shed());
    }
    for _ in 0..40 {
        next(&h, scored(false));
    }
    let (records, changes) = finish(h);
    assert_eq!(records.len(), 80);
    assert!(records.values().filter(|r| r.error.is_some()).all(|r| r.rejected));
    let alarm: Vec<u8> = changes.iter().filter(|c| c.line == "alarm").map(|c| c.value).collect();
    assert_eq!(alarm, [1, 0], "{changes:?}");
}

#[test]
fn a_late_part_whose_reject_cannot_be_written_is_not_recorded_as_rejected() {
    let (h, _) = start_failing(1, false, false);
    let t0 = Instant::now();
    h.tx.register(t0, registered(1)).unwrap();
    // No verdict by the reject point: rejected late, and that reject's write fails.
    std::thread::sleep((t0 + DELAY + PULSE).saturating_duration_since(Instant::now()));
    h.tx.judged(1, t0, scored(false)).unwrap();
    let (records, _) = finish(h);
    let r = &records[&1];
    assert!(r.late && r.reject_failed && !r.rejected, "{r:?}");
}

#[test]
fn an_alarm_that_cannot_be_written_is_written_again_until_it_takes() {
    let (h, metrics) = start_failing(2, true, false);
    h.tx.fault(FaultKind::Source, true).unwrap();
    std::thread::sleep(STATUS_RETRY * 3 + Duration::from_millis(50));
    let on_at = {
        let changes = h.timeline.lock().unwrap();
        changes.iter().find(|c| c.line == "alarm" && c.value == 1).map(|c| c.t_ms)
    };
    let on_at = on_at.expect("the alarm came on after its failed writes");
    assert!(on_at >= 2.0 * STATUS_RETRY.as_millis() as f64 - 5.0, "on after two retries, at {on_at} ms");
    assert_eq!(metrics.snapshot().output_write_errors, 2);
    // The registry shows the alarm as last written once the write took (polled: the write is on the
    // scheduler's thread), and both outputs safe after the stop.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !metrics.live().alarm && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(metrics.live().alarm, "the alarm written on is shown on");
    finish(h);
    let live = metrics.live();
    assert!(!live.alarm && !live.ready, "safe at the end: {live:?}");
}

#[test]
fn offline_a_judged_part_is_settled_and_pulsed_when_judged_not_at_its_reject_point() {
    let names = OutputNames { reject: vec!["reject0".into()], alarm: "alarm".into(), ready: None, markers: vec![] };
    let epoch = Instant::now();
    let timeline = Timeline::new(epoch, None).unwrap();
    let shared = timeline.shared.clone();
    let (rec_tx, records) = record_channel();
    // A reject point a minute away, as `cellgate evaluate` sets it so that no part is late.
    let t = Timing { delay: Duration::from_secs(60), settle_when_judged: true, ..timing() };
    let s = RejectScheduler::new(SimGpio::new(names, timeline), t, "t".into(), Arc::default(), rec_tx);
    let (tx, rx) = actuator_channel(Duration::ZERO);
    let scheduler = std::thread::spawn(move || {
        s.run(rx);
    });
    tx.register(epoch, registered(1)).unwrap();
    tx.judged(1, epoch, scored(true)).unwrap();
    drop(tx);
    scheduler.join().unwrap();
    let mut got = VecDeque::new();
    while records.recv(None, &mut got) {}
    let r = got.pop_front().unwrap();
    assert_eq!((r.verdict, r.rejected, r.late, r.error.as_deref()), (Verdict::Ng, true, false, None), "{r:?}");
    let rise = shared.lock().unwrap().iter().find(|c| c.line == "reject0" && c.value == 1).map(|c| c.t_ms);
    assert!(rise.is_some_and(|t| t < 30_000.0), "pulsed at {rise:?} ms, not when judged");
}
