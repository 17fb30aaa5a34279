//! What capture and inference tell the reject scheduler, and what it hands the recorder.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::super::results_log::{PartRecord, StageLatency};
use crate::inspect::electrode::ElectrodeResult;
use crate::inspect::{Judgement, ModelIdentity};
use crate::mailbox;
use crate::sources::Frame;

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
        /// The verdict, the outputs it fires and what the record shows of it.
        judgement: Judgement,
        /// The judging model's threshold.
        threshold: f32,
        latency: StageLatency,
        model: Arc<ModelIdentity>,
        /// Kept for the NG archive.
        frame: Option<Frame>,
    },
    Failed {
        reason: String,
    },
    /// Not inspected for want of capacity (inference queue full, or its reject point passed before
    /// inference could start): rejected, and counted towards the overload alarm.
    Shed {
        reason: String,
    },
}

/// What can put the station in fault: the alarm is on (and ready off) while any is active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FaultKind {
    /// Camera lost or erroring.
    Source,
    /// Inference failing.
    Model,
    /// The photo-eye input lost.
    Trigger,
    /// A run of frames that cannot show a part (lens cap, lighting failed).
    Implausible,
    /// An output could not be written (a reject that did not fire).
    Actuator,
    /// Too many parts left unjudged over the overload window.
    Overload,
}

pub enum ActuatorMsg {
    Register(PartTicket),
    Outcome { id: u64, outcome: Outcome },
    Fault { kind: FaultKind, active: bool },
}

/// A message with the time it was sent: the scheduler settles what was due before it, then handles it,
/// so a verdict or a fault takes effect from when it happened, however late the scheduler wakes.
pub type Stamped = (Instant, ActuatorMsg);

/// The actuator thread is gone: nothing can reject parts any more.
#[derive(Debug)]
pub struct ActuatorGone;

/// What capture and inference send to the actuator. Each message says when it is needed (a part's reject
/// point, or now for a fault), so the actuator is not woken for it earlier.
#[derive(Clone)]
pub struct ActuatorTx {
    tx: mailbox::Sender<Stamped>,
    delay: Duration,
}

impl ActuatorTx {
    fn send(&self, msg: ActuatorMsg, due: Instant) -> Result<(), ActuatorGone> {
        self.tx.send((Instant::now(), msg), due).map_err(|_| ActuatorGone)
    }

    pub fn register(&self, ticket: PartTicket) -> Result<(), ActuatorGone> {
        let due = ticket.trigger + self.delay;
        self.send(ActuatorMsg::Register(ticket), due)
    }

    /// The outcome of the part `id` triggered at `trigger`.
    pub fn outcome(&self, id: u64, trigger: Instant, outcome: Outcome) -> Result<(), ActuatorGone> {
        self.send(ActuatorMsg::Outcome { id, outcome }, trigger + self.delay)
    }

    pub fn fault(&self, kind: FaultKind, active: bool) -> Result<(), ActuatorGone> {
        self.send(ActuatorMsg::Fault { kind, active }, Instant::now())
    }
}

/// The actuator's inbox and the handle that feeds it.
pub fn actuator_channel(delay: Duration) -> (ActuatorTx, mailbox::Receiver<Stamped>) {
    let (tx, rx) = mailbox::unbounded();
    (ActuatorTx { tx, delay }, rx)
}

/// The recorder's inbox and the scheduler's end of it: 256 parts of slack (25 s at 10 parts/s) for a slow
/// disk; a full disk does not fill it (the recorder counts write errors and goes on).
pub fn record_channel() -> (mailbox::Sender<Settled>, mailbox::Receiver<Settled>) {
    mailbox::bounded(256)
}

/// A settled part, for the recorder.
pub struct Settled {
    pub record: PartRecord,
    pub frame: Option<Frame>,
    pub drawing: Option<(Frame, Arc<ElectrodeResult>)>,
}
