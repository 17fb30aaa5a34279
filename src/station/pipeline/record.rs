//! Record: every settled part to every record sink in turn (the results log, the NG archive, the replay's
//! echo, any other), in settle order; the run summary and the live latency from the same parts.

use std::sync::Arc;

use crate::mailbox;
use crate::metrics::StationMetrics;
use crate::sinks::record::{RecordSink, Settled};
use crate::station::summary::Summary;

pub struct Recorder {
    sinks: Vec<Box<dyn RecordSink>>,
    metrics: Arc<StationMetrics>,
}

impl Recorder {
    pub fn new(sinks: Vec<Box<dyn RecordSink>>, metrics: Arc<StationMetrics>) -> Self {
        Self { sinks, metrics }
    }

    pub fn run(mut self, rx: mailbox::Receiver<Settled>) -> Summary {
        let mut summary = Summary::default();
        let mut batch = std::collections::VecDeque::new();
        let mut open = true;
        while open {
            open = rx.recv(None, &mut batch);
            for s in batch.drain(..) {
                self.record(&s, &mut summary);
            }
        }
        for sink in &mut self.sinks {
            sink.close();
        }
        summary
    }

    fn record(&mut self, s: &Settled, summary: &mut Summary) {
        for sink in &mut self.sinks {
            sink.record(s);
        }
        let r = &s.record;
        // The same parts as the summary's latency: those that got a score.
        if r.p_ng.is_some() {
            self.metrics.record_latency(r.latency.total_ms);
        }
        summary.add(r);
    }
}
