use super::*;
use crate::inspect::test_model::test_identity;
use crate::inspect::Judgement;
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
    /// Every write asked of the outputs, refused ones included.
    writes: Arc<Mutex<Vec<(OutputLine, bool)>>>,
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
    let model = test_identity("m");
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

/// Which writes the fake outputs refuse (a driver error, a line taken away), asked at every write.
type Refuse = Box<dyn FnMut(OutputLine, bool) -> bool + Send>;

/// Simulated outputs that note every write asked of them, as a chip driver sees the requests, and refuse
/// the writes `refuse` picks.
struct FakeOutputs {
    inner: SimGpio,
    refuse: Refuse,
    writes: Arc<Mutex<Vec<(OutputLine, bool)>>>,
}

impl GpioOutputs for FakeOutputs {
    fn set(&mut self, line: OutputLine, active: bool) -> Result<(), crate::sinks::gpio::GpioError> {
        self.writes.lock().unwrap().push((line, active));
        if (self.refuse)(line, active) {
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

/// Refuses the first `fail` writes of the reject lines, or with `status` of the alarm line.
fn first_writes(mut fail: usize, status: bool) -> Refuse {
    Box::new(move |line, _| {
        let target = if status { matches!(line, OutputLine::Alarm) } else { matches!(line, OutputLine::Reject(_)) };
        let refused = target && fail > 0;
        fail -= usize::from(refused);
        refused
    })
}

/// A harness whose outputs refuse `fail` writes of the reject line (or of the alarm with `status`);
/// `ready` adds a ready line, set active first as the station does at start.
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
    start_on(names, first_writes(fail, status), quiet_settle, t)
}

/// A harness on the outputs `names` (a ready output, when named, set active first) that refuse the writes
/// `refuse` picks.
fn start_on(names: OutputNames, refuse: Refuse, quiet_settle: Duration, t: Timing) -> (Harness, Arc<StationMetrics>) {
    let epoch = Instant::now();
    let ready = names.ready.is_some();
    let timeline = Timeline::new(epoch, None).unwrap();
    let shared = timeline.shared.clone();
    let mut inner = SimGpio::new(names, timeline);
    if ready {
        inner.set(OutputLine::Ready, true).unwrap();
    }
    let writes = Arc::new(Mutex::new(Vec::new()));
    let gpio = FakeOutputs { inner, refuse, writes: writes.clone() };
    let (rec_tx, records) = record_channel();
    let metrics: Arc<StationMetrics> = Arc::default();
    let s = RejectScheduler { quiet_settle, ..RejectScheduler::new(gpio, t, "t".into(), metrics.clone(), rec_tx) };
    let (tx, rx) = actuator_channel(DELAY);
    let scheduler = std::thread::spawn(move || {
        s.run(rx);
    });
    (Harness { tx, records, scheduler, timeline: shared, writes, epoch }, metrics)
}

/// Waits until every part registered so far is settled (or 5 s pass), so a test can count what that took.
fn wait_settled(metrics: &StationMetrics, parts: u64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while metrics.snapshot().parts_settled < parts && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

mod faults;
mod timing;
