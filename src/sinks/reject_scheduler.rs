//! The reject scheduler owns the output lines. Each part is decided at its reject point (trigger +
//! `delay_ms`): an NG or error verdict, a verdict not ready in time (late), or an active fault with
//! `reject_on_fault` fires the part's reject output for `pulse_ms`. The alarm output follows the
//! station's faults. Each part leaves here exactly once, as a record for the results log.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::gpio::{GpioOutputs, OutputLine};
use super::results_log::{PartRecord, StageLatency};
use crate::inspect::decision::Verdict;
use crate::inspect::defect_rules::DefectRecord;
use crate::inspect::electrode::ElectrodeResult;
use crate::inspect::seal::ModelIdentity;
use crate::sources::Frame;
use crate::station::metrics::StationMetrics;

/// A part the capture step registered: it must be settled at `reject_at`.
#[derive(Debug, Clone)]
pub struct PartTicket {
    pub id: u64,
    pub cavity: usize,
    pub trigger: Instant,
    pub trigger_ms: f64,
    pub time: String,
    pub recipe: String,
    pub frame_name: String,
    pub label_ng: Option<bool>,
}

/// What inference made of a part.
#[derive(Debug, Clone)]
// One per part, moved once through a channel: boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Outcome {
    Scored {
        p_ng: f32,
        /// The judging model's threshold.
        threshold: f32,
        verdict: Verdict,
        /// Fire the part's reject output.
        reject: bool,
        /// Marker outputs the electrode rules fired.
        markers: Vec<usize>,
        defects: Option<Vec<DefectRecord>>,
        reasons: Vec<String>,
        latency: StageLatency,
        model: Arc<ModelIdentity>,
        /// Kept for the NG archive.
        frame: Option<Frame>,
        /// Electrode: the aligned X-ray and the decoded result the NG picture is drawn from.
        drawing: Option<(Frame, Arc<ElectrodeResult>)>,
    },
    Failed {
        reason: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FaultKind {
    Source,
    Model,
}

pub enum ActuatorMsg {
    Register(PartTicket),
    Outcome { id: u64, outcome: Outcome },
    Fault { kind: FaultKind, active: bool },
}

/// A settled part, for the recorder.
pub struct Settled {
    pub record: PartRecord,
    pub frame: Option<Frame>,
    pub drawing: Option<(Frame, Arc<ElectrodeResult>)>,
}

#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub delay: Duration,
    pub pulse: Duration,
    pub reject_on_fault: bool,
    pub threshold: f32,
}

struct Pending {
    ticket: PartTicket,
    outcome: Option<Outcome>,
    /// Reject point passed without an outcome: rejected late, record waits for the outcome.
    rejected_late: bool,
    fault_at_reject: bool,
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    RejectPoint(u64),
    PulseEnd(OutputLine),
}

pub struct RejectScheduler<G: GpioOutputs> {
    gpio: G,
    timing: Timing,
    station: String,
    metrics: Arc<StationMetrics>,
    parts: BTreeMap<u64, Pending>,
    events: BinaryHeap<Reverse<(Instant, Event)>>,
    pulse_until: BTreeMap<OutputLine, Instant>,
    faults: BTreeMap<FaultKind, bool>,
    out: Sender<Settled>,
}

impl<G: GpioOutputs> RejectScheduler<G> {
    pub fn new(gpio: G, timing: Timing, station: String, metrics: Arc<StationMetrics>, out: Sender<Settled>) -> Self {
        Self {
            gpio,
            timing,
            station,
            metrics,
            parts: BTreeMap::new(),
            events: BinaryHeap::new(),
            pulse_until: BTreeMap::new(),
            faults: BTreeMap::new(),
            out,
        }
    }

    fn faulted(&self) -> bool {
        self.faults.values().any(|&a| a)
    }

    /// Runs until every sender is gone and every registered part is settled; then all outputs safe.
    /// Returns the GPIO backend so a caller can read its final state.
    pub fn run(mut self, rx: Receiver<ActuatorMsg>) -> G {
        let mut open = true;
        loop {
            let next_due = self.events.peek().map(|Reverse((t, _))| *t);
            if !open && next_due.is_none() {
                break;
            }
            let msg = match (open, next_due) {
                (true, Some(t)) => match rx.recv_timeout(t.saturating_duration_since(Instant::now())) {
                    Ok(m) => Some(m),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => {
                        open = false;
                        None
                    }
                },
                (true, None) => match rx.recv() {
                    Ok(m) => Some(m),
                    Err(_) => {
                        open = false;
                        None
                    }
                },
                (false, Some(t)) => {
                    std::thread::sleep(t.saturating_duration_since(Instant::now()));
                    None
                }
                (false, None) => None,
            };
            if let Some(m) = msg {
                self.handle(m);
            }
            self.fire_due();
        }
        // Parts whose outcome never came (their sender died): settle them as errors, never lose them.
        let left: Vec<u64> = self.parts.keys().copied().collect();
        for id in left {
            if let Some(p) = self.parts.remove(&id) {
                let rejected = p.rejected_late;
                self.emit(p, rejected, Some("station stopped before a result".into()));
            }
        }
        if let Err(e) = self.gpio.all_safe() {
            log::error!("cannot set outputs safe: {e}");
        }
        self.gpio
    }

    fn handle(&mut self, msg: ActuatorMsg) {
        match msg {
            ActuatorMsg::Register(ticket) => {
                let at = ticket.trigger + self.timing.delay;
                self.events.push(Reverse((at, Event::RejectPoint(ticket.id))));
                self.parts
                    .insert(ticket.id, Pending { ticket, outcome: None, rejected_late: false, fault_at_reject: false });
            }
            ActuatorMsg::Outcome { id, outcome } => {
                let Some(p) = self.parts.get_mut(&id) else {
                    log::warn!("result for unknown part {id} ignored");
                    return;
                };
                p.outcome = Some(outcome);
                if p.rejected_late {
                    if let Some(p) = self.parts.remove(&id) {
                        self.emit(p, true, None);
                    }
                }
            }
            ActuatorMsg::Fault { kind, active } => {
                let was = self.faulted();
                self.faults.insert(kind, active);
                let now = self.faulted();
                if was != now {
                    if let Err(e) = self.gpio.set(OutputLine::Alarm, now) {
                        log::error!("alarm output: {e}");
                    }
                }
            }
        }
    }

    fn fire_due(&mut self) {
        let now = Instant::now();
        while let Some(Reverse((t, _))) = self.events.peek() {
            if *t > now {
                break;
            }
            let Some(Reverse((t, ev))) = self.events.pop() else { break };
            match ev {
                Event::RejectPoint(id) => self.reject_point(id, t),
                Event::PulseEnd(line) => {
                    if self.pulse_until.get(&line).is_some_and(|u| *u <= Instant::now()) {
                        self.pulse_until.remove(&line);
                        if let Err(e) = self.gpio.set(line, false) {
                            log::error!("{line} output: {e}");
                        }
                    }
                }
            }
        }
    }

    fn reject_point(&mut self, id: u64, scheduled: Instant) {
        let fault = self.faulted() && self.timing.reject_on_fault;
        let Some(p) = self.parts.get_mut(&id) else { return };
        p.fault_at_reject = fault;
        let verdict_rejects = match &p.outcome {
            Some(Outcome::Scored { reject, .. }) => Some(*reject),
            Some(Outcome::Failed { .. }) => Some(true),
            None => None,
        };
        let markers = match &p.outcome {
            Some(Outcome::Scored { markers, .. }) => markers.clone(),
            _ => Vec::new(),
        };
        let reject = verdict_rejects.unwrap_or(true) || fault;
        let cavity = p.ticket.cavity;
        if verdict_rejects.is_none() {
            p.rejected_late = true;
            self.metrics.inc(&self.metrics.parts_late);
        } else if fault && verdict_rejects == Some(false) {
            self.metrics.inc(&self.metrics.rejects_on_fault);
        }
        if reject {
            self.pulse(OutputLine::Reject(cavity), scheduled);
        }
        for m in markers {
            self.pulse(OutputLine::Marker(m), scheduled);
        }
        if verdict_rejects.is_some() {
            if let Some(p) = self.parts.remove(&id) {
                self.emit(p, reject, None);
            }
        }
    }

    fn pulse(&mut self, line: OutputLine, scheduled: Instant) {
        if let Err(e) = self.gpio.set(line, true) {
            log::error!("{line} output: {e}");
        }
        // Time the pulse from when the line changed, not from before the call: a thread preempted in
        // between would otherwise cut the pulse short (27 ms seen for 30 ms on a loaded 2-core box).
        let now = Instant::now();
        let err_us = now.saturating_duration_since(scheduled).as_micros() as u64;
        if let OutputLine::Reject(_) = line {
            self.metrics.reject_timing(err_us);
            self.metrics.inc(&self.metrics.rejects_fired);
        }
        // Back-to-back pulses on one output extend the pulse instead of chattering the solenoid.
        let until = now + self.timing.pulse;
        self.pulse_until.insert(line, until);
        self.events.push(Reverse((until, Event::PulseEnd(line))));
    }

    fn emit(&mut self, p: Pending, rejected: bool, extra_error: Option<String>) {
        let m = &self.metrics;
        m.inc(&m.parts_settled);
        let t = &p.ticket;
        let mut threshold = self.timing.threshold;
        let mut defects = None;
        let mut reasons = Vec::new();
        let mut drawing = None;
        let (verdict, p_ng, latency, model, frame, error) = match p.outcome {
            Some(Outcome::Scored {
                p_ng,
                threshold: t,
                verdict,
                latency,
                model,
                frame,
                defects: d,
                reasons: r,
                drawing: dr,
                ..
            }) => {
                threshold = t;
                (defects, reasons, drawing) = (d, r, dr);
                (verdict, Some(p_ng), latency, Some((*model).clone()), frame, None)
            }
            Some(Outcome::Failed { reason }) => {
                (Verdict::Error, None, StageLatency::default(), None, None, Some(reason))
            }
            None => (Verdict::Error, None, StageLatency::default(), None, None, extra_error),
        };
        match verdict {
            Verdict::Ok => m.inc(&m.parts_ok),
            Verdict::Ng => m.inc(&m.parts_ng),
            Verdict::Error => m.inc(&m.parts_error),
        }
        let record = PartRecord {
            time: t.time.clone(),
            trigger_ms: t.trigger_ms,
            part: t.id,
            cavity: t.cavity,
            station: self.station.clone(),
            recipe: t.recipe.clone(),
            frame: t.frame_name.clone(),
            model,
            verdict,
            p_ng,
            threshold,
            rejected,
            late: p.rejected_late,
            fault: p.fault_at_reject,
            error,
            latency,
            label: t.label_ng.map(|ng| if ng { "ng" } else { "ok" }),
            defects,
            reasons,
        };
        let frame = if verdict == Verdict::Ng { frame } else { None };
        if self.out.send(Settled { record, frame, drawing }).is_err() {
            log::error!("recorder gone: part {} not logged", t.id);
        }
    }
}
