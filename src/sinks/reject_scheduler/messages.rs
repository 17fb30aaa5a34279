//! What capture and inference tell the reject scheduler, and what it hands the recorder.

use std::time::{Duration, Instant};

use crate::inspect::Judgement;
use crate::mailbox;
use crate::part::PartRecord;

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

// One per part, moved once through a channel: boxing the large variants would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum ActuatorMsg {
    /// A part triggered at `trigger`: it must be settled at its reject point.
    Register {
        trigger: Instant,
        record: PartRecord,
    },
    Judged {
        id: u64,
        judgement: Judgement,
    },
    Fault {
        kind: FaultKind,
        active: bool,
    },
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

    pub fn register(&self, trigger: Instant, record: PartRecord) -> Result<(), ActuatorGone> {
        self.send(ActuatorMsg::Register { trigger, record }, trigger + self.delay)
    }

    /// The judgement of the part `id` triggered at `trigger`.
    pub fn judged(&self, id: u64, trigger: Instant, judgement: Judgement) -> Result<(), ActuatorGone> {
        self.send(ActuatorMsg::Judged { id, judgement }, trigger + self.delay)
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
pub fn record_channel() -> (mailbox::Sender<PartRecord>, mailbox::Receiver<PartRecord>) {
    mailbox::bounded(256)
}
