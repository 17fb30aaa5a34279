//! The reject scheduler owns the output lines. Each part is decided at its reject point (trigger +
//! `delay_ms`): an NG or error verdict, a verdict not ready in time (late), or an active fault with
//! `reject_on_fault` fires the part's reject output for `pulse_ms`. The alarm output follows the
//! station's faults. Each part leaves here exactly once, as a record for the results log.
//!
//! The scheduler wakes only when an output may change: at a reject point that may fire, at the end of a
//! pulse, for a fault (on two cores every other wake-up takes a core from inference). A quiet part (judged
//! OK with nothing to fire, or NG on a line an earlier pulse already holds on past its reject point) is
//! settled, in time order, on the next wake-up or `QUIET_SETTLE` after its reject point, whichever is
//! first; its outputs and its record are the same either way.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use config::{ActuationConfig, Timing};

use super::gpio::{GpioOutputs, OutputLine};
use crate::inspect::decision::Verdict;
use crate::inspect::Judgement;
use crate::mailbox;
use crate::metrics::StationMetrics;
use crate::part::PartRecord;
pub use messages::*;
use overload::OverloadWindow;

/// How late a quiet part (judged OK, nothing to fire) may be settled after its reject point.
const QUIET_SETTLE: Duration = Duration::from_millis(20);
/// How long a settled part's record may wait before the recorder is woken for it.
const RECORD_SLACK: Duration = Duration::from_millis(50);
/// How soon a pulse end whose write failed is tried again.
const END_RETRY: Duration = Duration::from_millis(10);
/// How soon alarm and ready are written again after a write of either failed.
const STATUS_RETRY: Duration = Duration::from_millis(100);

#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    RejectPoint(u64),
    PulseEnd(OutputLine),
    /// Alarm and ready written again: the last write of either failed.
    StatusRetry,
}

pub struct RejectScheduler<G: GpioOutputs> {
    gpio: G,
    timing: Timing,
    station: String,
    metrics: Arc<StationMetrics>,
    /// Registered parts not yet settled: the record so far (`late`, `fault`, `reject_failed` set at the
    /// reject point) and the judgement, once it has come.
    parts: BTreeMap<u64, (PartRecord, Option<Judgement>)>,
    /// Events at which an output may change, at their time.
    events: BinaryHeap<Reverse<(Instant, Event)>>,
    /// Reject points of quiet parts (judged OK, nothing to fire), settled without a wake-up of their own.
    quiet: BinaryHeap<Reverse<(Instant, u64)>>,
    pulse_until: BTreeMap<OutputLine, Instant>,
    faults: BTreeMap<FaultKind, bool>,
    /// Outputs whose last write failed: the actuator fault lasts until each has been written again.
    failed_lines: std::collections::BTreeSet<OutputLine>,
    /// A `StatusRetry` is pending: alarm or ready could not be written.
    status_stale: bool,
    overload: OverloadWindow,
    out: mailbox::Sender<PartRecord>,
    /// `QUIET_SETTLE`; a test stretches it so that a part settled as quiet by mistake shows.
    quiet_settle: Duration,
}

impl<G: GpioOutputs> RejectScheduler<G> {
    pub fn new(
        gpio: G,
        timing: Timing,
        station: String,
        metrics: Arc<StationMetrics>,
        out: mailbox::Sender<PartRecord>,
    ) -> Self {
        Self {
            gpio,
            timing,
            station,
            metrics,
            parts: BTreeMap::new(),
            events: BinaryHeap::new(),
            quiet: BinaryHeap::new(),
            pulse_until: BTreeMap::new(),
            faults: BTreeMap::new(),
            failed_lines: Default::default(),
            status_stale: false,
            overload: OverloadWindow::default(),
            out,
            quiet_settle: QUIET_SETTLE,
        }
    }

    fn faulted(&self) -> bool {
        self.faults.values().any(|&a| a)
    }

    /// A fault rejects every part at its reject point.
    fn fault_rejects(&self) -> bool {
        self.timing.reject_on_fault && self.faulted()
    }

    /// A judged part whose reject point, at `t`, changes no output unless a fault comes first: judged OK
    /// with nothing to fire, or every line it fires already held on past `t` by an earlier part's pulse.
    fn is_quiet(&self, id: u64, t: Instant) -> bool {
        let Some((r, Some(j))) = self.parts.get(&id) else { return false };
        let held = |line: OutputLine| self.pulse_until.get(&line).is_some_and(|u| *u >= t);
        !self.fault_rejects()
            && j.error.is_none()
            && (!j.reject || held(OutputLine::Reject(r.cavity)))
            && j.markers.iter().all(|&m| held(OutputLine::Marker(m)))
    }

    /// When the scheduler must be awake next: the first event that may change an output, or a quiet
    /// part's reject point plus `QUIET_SETTLE`. Quiet reject points settle in time order with the events,
    /// so a held line is extended before its pulse ends.
    fn next_wake(&mut self) -> Option<Instant> {
        while let Some(Reverse((t, Event::RejectPoint(id)))) = self.events.peek() {
            let (t, id) = (*t, *id);
            if !self.is_quiet(id, t) {
                break;
            }
            self.events.pop();
            self.quiet.push(Reverse((t, id)));
        }
        let event = self.events.peek().map(|Reverse((t, _))| *t);
        let slack = if self.fault_rejects() { Duration::ZERO } else { self.quiet_settle };
        let quiet = self.quiet.peek().map(|Reverse((t, _))| *t + slack);
        match (event, quiet) {
            (Some(e), Some(q)) => Some(e.min(q)),
            (e, q) => e.or(q),
        }
    }

    /// Runs until every sender is gone and every registered part is settled; then all outputs safe.
    /// Returns the GPIO backend so a caller can read its final state.
    pub fn run(mut self, rx: mailbox::Receiver<Stamped>) -> G {
        let mut open = true;
        let mut inbox = std::collections::VecDeque::new();
        loop {
            let wake = self.next_wake();
            if !open {
                // Stopping: a pending status retry alone keeps no one waiting (all outputs go safe below).
                let only_status = self.events.iter().all(|Reverse((_, e))| *e == Event::StatusRetry);
                if only_status && self.quiet.is_empty() {
                    break;
                }
                let Some(t) = wake else { break };
                std::thread::sleep(t.saturating_duration_since(Instant::now()));
            } else {
                open = rx.recv(wake, &mut inbox);
                for (at, m) in inbox.drain(..) {
                    self.fire_due(at);
                    self.handle(m);
                }
            }
            self.metrics.inc(&self.metrics.actuator_wakeups);
            self.fire_due(Instant::now());
        }
        // Parts whose outcome never came (their sender died): settle them as errors, never lose them.
        let left: Vec<u64> = self.parts.keys().copied().collect();
        for id in left {
            if let Some(p) = self.parts.remove(&id) {
                // Rejected late only if its reject output really fired.
                let rejected = p.0.late && !p.0.reject_failed;
                self.emit(p, rejected, Some("station stopped before a result".into()));
            }
        }
        self.all_safe();
        self.gpio
    }

    fn handle(&mut self, msg: ActuatorMsg) {
        match msg {
            ActuatorMsg::Register { trigger, mut record } => {
                record.station.clone_from(&self.station);
                record.threshold = self.timing.threshold;
                let id = record.part;
                // Offline, the judgement settles the part; a part never judged is settled at the end.
                if !self.timing.settle_when_judged {
                    self.events.push(Reverse((trigger + self.timing.delay, Event::RejectPoint(id))));
                }
                self.parts.insert(id, (record, None));
            }
            ActuatorMsg::Judged { id, judgement } => {
                let Some((record, j)) = self.parts.get_mut(&id) else {
                    log::warn!("result for unknown part {id} ignored");
                    return;
                };
                *j = Some(judgement);
                if self.timing.settle_when_judged && !record.late {
                    self.reject_point(id, Instant::now());
                } else if record.late {
                    if let Some(p) = self.parts.remove(&id) {
                        // Its reject point passed: rejected, unless that reject could not be written.
                        let rejected = !p.0.reject_failed;
                        self.emit(p, rejected, None);
                    }
                }
            }
            ActuatorMsg::Fault { kind, active } => self.set_fault(kind, active),
        }
    }

    /// Settles every reject point and ends every pulse due by `now`, in time order.
    fn fire_due(&mut self, now: Instant) {
        loop {
            let event = self.events.peek().map(|Reverse((t, _))| *t).filter(|t| *t <= now);
            let quiet = self.quiet.peek().map(|Reverse((t, _))| *t).filter(|t| *t <= now);
            let event_first = match (event, quiet) {
                (None, None) => break,
                // A held pulse is extended before it ends at the same instant.
                (Some(e), Some(q)) => e < q,
                (e, _) => e.is_some(),
            };
            if event_first {
                let Some(Reverse((t, ev))) = self.events.pop() else { break };
                match ev {
                    Event::RejectPoint(id) => self.reject_point(id, t),
                    Event::PulseEnd(line) => self.pulse_end(line),
                    Event::StatusRetry => self.write_status(),
                }
            } else {
                let Some(Reverse((t, id))) = self.quiet.pop() else { break };
                self.reject_point(id, t);
            }
        }
    }

    fn pulse_end(&mut self, line: OutputLine) {
        let Some(&until) = self.pulse_until.get(&line) else { return };
        if until > Instant::now() {
            // Extended by a later pulse: end it then.
            self.events.push(Reverse((until, Event::PulseEnd(line))));
            return;
        }
        if !self.write(line, false) {
            // The line may still be active: try again soon rather than leave a solenoid on.
            let retry = Instant::now() + END_RETRY;
            self.pulse_until.insert(line, retry);
            self.events.push(Reverse((retry, Event::PulseEnd(line))));
            return;
        }
        self.pulse_until.remove(&line);
    }

    fn reject_point(&mut self, id: u64, scheduled: Instant) {
        let fault = self.fault_rejects();
        let Some((record, j)) = self.parts.get_mut(&id) else { return };
        record.fault = fault;
        let verdict_rejects = j.as_ref().map(|j| j.reject);
        let markers = j.as_ref().map(|j| j.markers.clone()).unwrap_or_default();
        let reject = verdict_rejects.unwrap_or(true) || fault;
        let cavity = record.cavity;
        if verdict_rejects.is_none() {
            record.late = true;
            self.metrics.inc(&self.metrics.parts_late);
        } else if fault && verdict_rejects == Some(false) {
            self.metrics.inc(&self.metrics.rejects_on_fault);
        }
        let fired = reject && self.pulse(OutputLine::Reject(cavity), scheduled);
        for m in markers {
            self.pulse(OutputLine::Marker(m), scheduled);
        }
        if let Some((record, _)) = self.parts.get_mut(&id) {
            record.reject_failed = reject && !fired;
        }
        if verdict_rejects.is_some() {
            if let Some(p) = self.parts.remove(&id) {
                self.emit(p, fired, None);
            }
        }
    }

    /// Starts or extends a pulse; `false` when the line could not be set (nothing fired: the next pulse
    /// on the line writes it again).
    fn pulse(&mut self, line: OutputLine, scheduled: Instant) -> bool {
        let held = self.pulse_until.get(&line).copied().filter(|u| *u >= scheduled);
        let (start, until) = match held {
            // Held on since before this reject point by an earlier pulse: this one runs from its own
            // reject point, on time, and the pending end moves on when it comes.
            Some(u) => (scheduled, u.max(scheduled + self.timing.pulse)),
            None => {
                if !self.write(line, true) {
                    return false;
                }
                // Time the pulse from when the line changed, not from before the call: a thread preempted
                // in between would otherwise cut the pulse short (27 ms seen for 30 ms on a loaded 2-core
                // box).
                let now = Instant::now();
                self.events.push(Reverse((now + self.timing.pulse, Event::PulseEnd(line))));
                (now, now + self.timing.pulse)
            }
        };
        self.pulse_until.insert(line, until);
        if let OutputLine::Reject(_) = line {
            self.metrics.reject_timing(start.saturating_duration_since(scheduled).as_micros() as u64);
            self.metrics.inc(&self.metrics.rejects_fired);
        }
        true
    }

    fn emit(
        &mut self,
        (mut record, judgement): (PartRecord, Option<Judgement>),
        rejected: bool,
        stopped: Option<String>,
    ) {
        let m = &self.metrics;
        m.inc(&m.parts_settled);
        let unjudged = record.late || judgement.as_ref().is_some_and(|j| j.shed);
        if let Some(share) = self.overload.push(unjudged, self.timing.overload_window) {
            let max = self.timing.overload_max_share;
            let active = self.faults.get(&FaultKind::Overload).copied().unwrap_or(false);
            // Hysteresis: on above the bound, off at half of it, so a share near the bound does not flicker.
            if !active && share > max {
                log::error!(
                    "overload: {:.0}% of the last {} parts not judged (bound {:.0}%): alarm on",
                    share * 100.0,
                    self.overload.flags.len(),
                    max * 100.0
                );
                self.set_fault(FaultKind::Overload, true);
            } else if active && share <= max / 2.0 {
                log::info!("overload over: {:.0}% of the last parts not judged; alarm cleared", share * 100.0);
                self.set_fault(FaultKind::Overload, false);
            }
        }
        match judgement {
            Some(j) => record.judged(j),
            None => record.error = stopped,
        }
        record.rejected = rejected;
        let m = &self.metrics;
        match record.verdict {
            Verdict::Ok => m.inc(&m.parts_ok),
            Verdict::Ng => m.inc(&m.parts_ng),
            Verdict::Error => m.inc(&m.parts_error),
        }
        let id = record.part;
        if self.out.send(record, Instant::now() + RECORD_SLACK).is_err() {
            log::error!("recorder gone: part {id} not logged");
        }
    }
}

mod config;
mod messages;
mod outputs;
mod overload;
#[cfg(test)]
mod tests;
