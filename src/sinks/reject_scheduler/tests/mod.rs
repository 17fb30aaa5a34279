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

/// Part `id` of `cavity`, triggered at `t`, registered and judged.
fn judged_in(h: &Harness, id: u64, cavity: usize, t: Instant, ng: bool) {
    let record = PartRecord { cavity, ..registered(id) };
    h.tx.register(t, record).unwrap();
    h.tx.judged(id, t, scored(ng)).unwrap();
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
    start_with(fail, status, ready, QUIET_SETTLE, timing())
}

/// `start_failing` with a quiet part's settling time of `quiet_settle` and the timing `t`.
fn start_with(
    fail: usize,
    status: bool,
    ready: bool,
    quiet_settle: Duration,
    t: Timing,
) -> (Harness, Arc<StationMetrics>) {
    let ready_name = ready.then(|| "ready".to_string());
    let names =
        OutputNames { reject: vec!["reject0".into()], alarm: "alarm".into(), ready: ready_name, markers: vec![] };
    start_on(names, fail, status, quiet_settle, t)
}

/// `start_with` on the outputs `names` (a ready output, when named, set active first).
fn start_on(
    names: OutputNames,
    fail: usize,
    status: bool,
    quiet_settle: Duration,
    t: Timing,
) -> (Harness, Arc<StationMetrics>) {
    let epoch = Instant::now();
    let ready = names.ready.is_some();
    let timeline = Timeline::new(epoch, None).unwrap();
    let shared = timeline.shared.clone();
    let mut inner = SimGpio::new(names, timeline);
    if ready {
        inner.set(OutputLine::Ready, true).unwrap();
    }
    let gpio = FailingReject { inner, fail, status };
    let (rec_tx, records) = record_channel();
    let metrics: Arc<StationMetrics> = Arc::default();
    let s = RejectScheduler { quiet_settle, ..RejectScheduler::new(gpio, t, "t".into(), metrics.clone(), rec_tx) };
    let (tx, rx) = actuator_channel(DELAY);
    let scheduler = std::thread::spawn(move || {
        s.run(rx);
    });
    (Harness { tx, records, scheduler, timeline: shared, epoch }, metrics)
}

/// Waits until every part registered so far is settled (or 5 s pass), so a test can count what that took.
fn wait_settled(metrics: &StationMetrics, parts: u64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while metrics.snapshot().parts_settled < parts && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Outputs whose reject line cannot be set inactive until `until` (a driver error that lasts); counts the
/// attempts.
struct StuckReject {
    inner: SimGpio,
    until: Instant,
    attempts: Arc<std::sync::atomic::AtomicUsize>,
}

impl GpioOutputs for StuckReject {
    fn set(&mut self, line: OutputLine, active: bool) -> Result<(), crate::sinks::gpio::GpioError> {
        if matches!(line, OutputLine::Reject(_)) && !active {
            self.attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if Instant::now() < self.until {
                return Err(crate::sinks::gpio::GpioError::Line {
                    line: line.to_string(),
                    reason: "injected: EIO".into(),
                });
            }
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

mod faults;
mod timing;
