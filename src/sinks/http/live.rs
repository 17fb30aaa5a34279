//! The Live page's feed: every settled part as the results log writes it, kept in a ring of the last N
//! and pushed to each open page as a Server-Sent Event. The recorder never waits here: a page that does
//! not read its events fast enough loses them (counted), it never slows the line.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};

use super::rate::{minute_now, Minute, MinuteCounts};
use crate::metrics::{Counter, StationMetrics};
use crate::part::PartRecord;
use crate::sinks::record::RecordSink;

/// Events queued per page before it loses some.
const STREAM_QUEUE: usize = 256;
/// A comment line sent when nothing happened for this long, so a page (and a proxy) sees the stream alive.
const KEEPALIVE: Duration = Duration::from_secs(5);
/// How often a waiting stream looks at the stop flag.
const POLL: Duration = Duration::from_millis(100);

/// The last parts (as JSON lines) and the open streams.
pub struct Live {
    capacity: usize,
    parts: Mutex<VecDeque<Arc<str>>>,
    streams: Mutex<Vec<Sender<Arc<str>>>>,
    dropped: Counter,
    /// Parts and rejects per minute, for the chart.
    rate: Mutex<MinuteCounts>,
}

impl Live {
    pub fn new(capacity: usize, metrics: &StationMetrics) -> Self {
        Self {
            capacity,
            parts: Mutex::new(VecDeque::with_capacity(capacity)),
            streams: Mutex::new(Vec::new()),
            dropped: metrics.register("http_events_dropped").unwrap_or_default(),
            rate: Mutex::default(),
        }
    }

    fn push(&self, json: Arc<str>) {
        {
            let mut parts = self.parts.lock().unwrap_or_else(PoisonError::into_inner);
            if parts.len() == self.capacity {
                parts.pop_front();
            }
            parts.push_back(json.clone());
        }
        self.streams.lock().unwrap_or_else(PoisonError::into_inner).retain(|tx| match tx.try_send(json.clone()) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.dropped.inc();
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        });
    }

    /// Parts and rejects per minute over the last hour, oldest first.
    pub fn last_hour(&self) -> Vec<Minute> {
        self.rate.lock().unwrap_or_else(PoisonError::into_inner).last_hour(minute_now())
    }

    /// The kept parts, oldest first, as one JSON array (formatted outside the lock the recorder takes).
    pub fn parts_json(&self) -> String {
        let parts: Vec<Arc<str>> = self.parts.lock().unwrap_or_else(PoisonError::into_inner).iter().cloned().collect();
        format!("[{}]", parts.iter().map(|p| &**p).collect::<Vec<_>>().join(","))
    }

    /// A new stream: the kept parts first, then each part as it settles, until `stop`.
    pub fn subscribe(&self, stop: Arc<AtomicBool>) -> SseStream {
        let (tx, rx) = crossbeam_channel::bounded(STREAM_QUEUE);
        let kept: Vec<Arc<str>> = {
            // Taken under the streams lock too, so no part falls between the backlog and the stream;
            // formatted after both are let go.
            let mut streams = self.streams.lock().unwrap_or_else(PoisonError::into_inner);
            let parts = self.parts.lock().unwrap_or_else(PoisonError::into_inner);
            streams.push(tx);
            parts.iter().cloned().collect()
        };
        let backlog: Vec<u8> = kept.iter().flat_map(|p| event(p)).collect();
        SseStream { rx, stop, backlog: Some(backlog), ended: false }
    }
}

fn event(json: &str) -> Vec<u8> {
    format!("event: part\ndata: {json}\n\n").into_bytes()
}

/// The record sink that feeds `Live`.
pub struct LiveFeed(pub Arc<Live>);

impl RecordSink for LiveFeed {
    fn name(&self) -> &str {
        "http live feed"
    }

    fn record(&mut self, part: &PartRecord) {
        self.0.rate.lock().unwrap_or_else(PoisonError::into_inner).count(minute_now(), part.rejected);
        match serde_json::to_string(part) {
            Ok(json) => self.0.push(json.into()),
            Err(e) => log::warn!("part {} not shown on the Live page: {e}", part.part),
        }
    }
}

/// One page's event stream: what to send next, until `stop` (the caller ends it when a write fails:
/// the page has gone).
pub struct SseStream {
    rx: Receiver<Arc<str>>,
    stop: Arc<AtomicBool>,
    backlog: Option<Vec<u8>>,
    ended: bool,
}

impl SseStream {
    /// The next bytes to send: the kept parts first, then each part's event, or a keep-alive comment
    /// when nothing happened for a while; an `end` event when the station stops (the page says so, and
    /// a client knows the stream is over without waiting for the connection to close), then `None`.
    pub fn next_chunk(&mut self) -> Option<Vec<u8>> {
        if self.ended {
            return None;
        }
        if let Some(b) = self.backlog.take().filter(|b| !b.is_empty()) {
            return Some(b);
        }
        let mut waited = Duration::ZERO;
        while !self.stop.load(Ordering::Relaxed) {
            match self.rx.recv_timeout(POLL) {
                Ok(json) => return Some(event(&json)),
                Err(RecvTimeoutError::Timeout) if waited + POLL >= KEEPALIVE => return Some(b": alive\n\n".to_vec()),
                Err(RecvTimeoutError::Timeout) => waited += POLL,
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        self.ended = true;
        Some(b"event: end\ndata: {}\n\n".to_vec())
    }
}
