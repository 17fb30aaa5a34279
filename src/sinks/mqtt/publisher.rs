//! The MQTT thread: takes the parts the recorder hands over, keeps each in the spool until the broker
//! acknowledges it, and sends them in order whenever a session is up; between sessions it waits with
//! backoff. It also sends availability, status and model events and answers recipe commands. Nothing here
//! is on the line's path: the recorder only queues a part and goes on.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use rumqttc::{Event, Incoming, MqttOptions, Outgoing, QoS};

use super::reports::Reports;
use super::session::{Session, SessionEvent, CLIENT_QUEUE};
use super::spool::Spool;
use super::Topics;
use crate::metrics::Counter;

/// Part messages sent and not yet acknowledged, at most.
const WINDOW: usize = 64;
/// Reconnect backoff: doubling from the first to the last.
pub const BACKOFF: (Duration, Duration) = (Duration::from_millis(200), Duration::from_secs(5));
/// How often status and model events are looked at.
const LOOK_EVERY: Duration = Duration::from_millis(500);
/// At the end of a run: how long the spool may take to empty, then `offline` to be acknowledged.
const FLUSH_AT_END: Duration = Duration::from_secs(3);

/// The counters this sink registers.
#[derive(Clone, Default)]
pub struct Counters {
    /// Part messages the broker acknowledged.
    pub published: Counter,
    /// Parts that arrived while the broker was away (kept in the spool).
    pub spooled: Counter,
    /// Parts dropped: the oldest beyond `spool_bytes`, or not written to the spool (disk), or the queue
    /// from the recorder full.
    pub dropped: Counter,
    /// Sessions made again after the broker was lost.
    pub reconnects: Counter,
}

/// What a publish was, to know what its acknowledgement means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Part(u64),
    Offline,
    Other,
}

pub struct Publisher {
    pub opts: MqttOptions,
    pub topics: Topics,
    pub qos: QoS,
    pub spool: Spool,
    pub parts: Receiver<Vec<u8>>,
    pub events: Receiver<SessionEvent>,
    pub events_tx: Sender<SessionEvent>,
    pub session: Option<Session>,
    pub counters: Counters,
    pub reports: Reports,
    /// Sessions started so far (the next one's id).
    pub sessions: u64,
    connected: bool,
    ever_connected: bool,
    backoff: Duration,
    retry_at: Instant,
    /// Publishes the client has not numbered yet, in the order they were asked for.
    unnumbered: VecDeque<Tag>,
    /// Packet id -> what awaits its acknowledgement.
    awaiting: HashMap<u16, Tag>,
    next_look: Instant,
    offline_acked: bool,
    /// A loss is logged once until the next connection.
    lost_logged: bool,
}

impl Publisher {
    pub fn new(
        opts: MqttOptions,
        topics: Topics,
        qos: QoS,
        spool: Spool,
        parts: Receiver<Vec<u8>>,
        counters: Counters,
        reports: Reports,
    ) -> Self {
        let now = Instant::now();
        // Bounded: a flood of incoming messages holds up the session's thread (and so the broker's TCP
        // stream), never this thread's memory.
        let events = crossbeam_channel::bounded(4 * CLIENT_QUEUE);
        Self {
            opts,
            topics,
            qos,
            spool,
            parts,
            events_tx: events.0,
            events: events.1,
            session: None,
            counters,
            reports,
            sessions: 0,
            connected: false,
            ever_connected: false,
            backoff: BACKOFF.0,
            retry_at: now,
            unnumbered: VecDeque::new(),
            awaiting: HashMap::new(),
            next_look: now,
            offline_acked: false,
            lost_logged: false,
        }
    }

    /// Starts a session now (the first, from `start`, or after the backoff).
    pub fn connect(&mut self) {
        self.sessions += 1;
        match Session::start(&self.opts, self.sessions, self.events_tx.clone()) {
            Ok(s) => self.session = Some(s),
            Err(e) => {
                log::warn!("mqtt: {e}");
                self.retry_at = Instant::now() + self.backoff;
            }
        }
    }

    /// Runs until the recorder lets go (the end of the run), then sends what it can and says `offline`.
    pub fn run(mut self) {
        loop {
            let now = Instant::now();
            // What is due next; a session still connecting wakes us with its event.
            let wake = match (&self.session, self.connected) {
                (_, true) => self.next_look,
                (None, false) => self.retry_at,
                (Some(_), false) => now + LOOK_EVERY,
            };
            let wait = wake.saturating_duration_since(now);
            crossbeam_channel::select! {
                recv(self.parts) -> part => match part {
                    Ok(json) => self.take(&json),
                    Err(_) => break,
                },
                recv(self.events) -> ev => if let Ok(ev) = ev { self.on_event(ev) },
                default(wait) => {}
            }
            while let Ok(json) = self.parts.try_recv() {
                self.take(&json);
            }
            self.tick(false);
        }
        self.finish();
    }

    /// One part from the recorder: into the spool (counted when the broker is away).
    fn take(&mut self, json: &[u8]) {
        if !self.connected {
            self.counters.spooled.inc();
        }
        match self.spool.push(json) {
            Ok(p) if p.dropped > 0 => {
                self.counters.dropped.add(p.dropped);
                log::warn!("mqtt: spool full (mqtt.spool_bytes): {} oldest parts dropped", p.dropped);
            }
            Ok(_) => {}
            Err(e) => {
                self.counters.dropped.inc();
                log::error!("mqtt: cannot write the spool, part dropped: {e}");
            }
        }
    }

    /// Reconnects when due; while connected, sends parts and looks at status and model events.
    fn tick(&mut self, at_end: bool) {
        let now = Instant::now();
        if self.session.is_none() && now >= self.retry_at && !at_end {
            self.connect();
        }
        if !self.connected {
            return;
        }
        self.pump();
        if now >= self.next_look && !at_end {
            self.next_look = now + LOOK_EVERY;
            self.report(false);
        }
    }

    /// Sends waiting parts, in order, up to the window.
    fn pump(&mut self) {
        while self.spool.in_flight() < WINDOW {
            let (seq, json) = match self.spool.next_unsent() {
                Ok(Some(next)) => next,
                Ok(None) => return,
                Err(e) => {
                    log::error!("mqtt: cannot read the spool: {e}");
                    return;
                }
            };
            if !self.send(&self.topics.part.clone(), self.qos, false, json, Tag::Part(seq)) {
                return;
            }
        }
    }

    /// Status when due, new model events (all of them again with `force`).
    fn report(&mut self, force: bool) {
        if let Some(status) = self.reports.status(Instant::now(), force) {
            self.send(&self.topics.status.clone(), QoS::AtLeastOnce, true, status, Tag::Other);
        }
        for event in self.reports.model_events(force) {
            self.send(&self.topics.model.clone(), QoS::AtLeastOnce, true, event, Tag::Other);
        }
    }

    /// Asks the session's client to publish; false when it cannot (the session is ending: its `Lost`
    /// event follows and everything unacknowledged goes again).
    fn send(&mut self, topic: &str, qos: QoS, retain: bool, payload: Vec<u8>, tag: Tag) -> bool {
        let Some(s) = &self.session else { return false };
        if self.unnumbered.len() + self.awaiting.len() >= CLIENT_QUEUE {
            return false;
        }
        match s.client.try_publish(topic, qos, retain, payload) {
            Ok(()) => {
                self.unnumbered.push_back(tag);
                true
            }
            Err(e) => {
                log::debug!("mqtt: publish on {topic} not queued: {e}");
                false
            }
        }
    }

    pub fn on_event(&mut self, ev: SessionEvent) {
        let current = self.session.as_ref().map(|s| s.id);
        match ev {
            SessionEvent::Mqtt(id, _) | SessionEvent::Lost { session: id, .. } if Some(id) != current => {}
            SessionEvent::Lost { error, .. } => self.lost(&error),
            SessionEvent::Mqtt(_, Event::Incoming(Incoming::ConnAck(_))) => self.connected(),
            SessionEvent::Mqtt(_, Event::Outgoing(Outgoing::Publish(pkid))) => {
                if let Some(tag) = self.unnumbered.pop_front() {
                    self.awaiting.insert(pkid, tag);
                }
            }
            SessionEvent::Mqtt(_, Event::Incoming(Incoming::PubAck(a))) => self.acked(a.pkid),
            SessionEvent::Mqtt(_, Event::Incoming(Incoming::PubComp(c))) => self.acked(c.pkid),
            SessionEvent::Mqtt(_, Event::Incoming(Incoming::Publish(p))) if p.topic == self.topics.recipe_set => {
                let reply = self.reports.recipe_command(&p.payload, p.retain);
                self.send(&self.topics.recipe_state.clone(), QoS::AtLeastOnce, true, reply, Tag::Other);
            }
            SessionEvent::Mqtt(..) => {}
        }
    }

    fn acked(&mut self, pkid: u16) {
        match self.awaiting.remove(&pkid) {
            Some(Tag::Part(seq)) => {
                if self.spool.ack(seq) {
                    self.counters.published.inc();
                }
            }
            Some(Tag::Offline) => self.offline_acked = true,
            Some(Tag::Other) | None => {}
        }
    }

    fn connected(&mut self) {
        self.connected = true;
        self.backoff = BACKOFF.0;
        if self.ever_connected {
            self.counters.reconnects.inc();
        }
        self.ever_connected = true;
        log::info!(
            "mqtt: connected to {}:{} ({} parts waiting in the spool)",
            self.opts.broker_address().0,
            self.opts.broker_address().1,
            self.spool.len()
        );
        self.lost_logged = false;
        self.send(&self.topics.availability.clone(), QoS::AtLeastOnce, true, b"online".to_vec(), Tag::Other);
        if let Some(s) = &self.session {
            if let Err(e) = s.client.try_subscribe(self.topics.recipe_set.clone(), QoS::AtLeastOnce) {
                log::warn!("mqtt: cannot subscribe to {}: {e}", self.topics.recipe_set);
            }
        }
        let state = self.reports.recipe_state();
        self.send(&self.topics.recipe_state.clone(), QoS::AtLeastOnce, true, state, Tag::Other);
        self.report(true);
        self.pump();
    }

    /// The session ended: everything unacknowledged goes again on the next one, after the backoff.
    fn lost(&mut self, error: &str) {
        if !self.lost_logged {
            log::warn!(
                "mqtt: broker {}:{} away ({error}); parts are kept in the spool and sent when it is back",
                self.opts.broker_address().0,
                self.opts.broker_address().1
            );
            self.lost_logged = true;
        }
        self.session = None;
        self.connected = false;
        self.spool.unsend();
        self.unnumbered.clear();
        self.awaiting.clear();
        self.retry_at = Instant::now() + self.backoff;
        self.backoff = (self.backoff * 2).min(BACKOFF.1);
    }

    /// The run is over: a short while to send what waits, then `offline` (a clean disconnect sends no
    /// Last Will) and goodbye. What is still unacknowledged stays in the spool for the next start.
    fn finish(&mut self) {
        let deadline = Instant::now() + FLUSH_AT_END;
        let mut said_offline = false;
        while self.connected && Instant::now() < deadline {
            self.tick(true);
            if self.spool.is_empty() && !said_offline {
                let offline = b"offline".to_vec();
                said_offline =
                    self.send(&self.topics.availability.clone(), QoS::AtLeastOnce, true, offline, Tag::Offline);
            }
            if self.offline_acked {
                break;
            }
            if let Ok(ev) = self.events.recv_timeout(Duration::from_millis(50)) {
                self.on_event(ev);
            }
        }
        if let Some(s) = self.session.take() {
            // Sent before the process ends, so the broker does not also publish the Last Will.
            if self.connected && s.client.try_disconnect().is_ok() {
                let until = Instant::now() + Duration::from_secs(1);
                while let Ok(ev) = self.events.recv_deadline(until) {
                    if matches!(
                        ev,
                        SessionEvent::Mqtt(_, Event::Outgoing(Outgoing::Disconnect)) | SessionEvent::Lost { .. }
                    ) {
                        break;
                    }
                }
            }
        }
        if !self.spool.is_empty() {
            log::warn!(
                "mqtt: {} parts not acknowledged by the end of the run; sent at the next start",
                self.spool.len()
            );
        }
    }
}
