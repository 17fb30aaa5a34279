//! Record: every settled part to every record sink in turn (the results log, the NG archive, the replay's
//! echo, any other), in settle order; the run summary and the live latency from the same parts.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use crate::mailbox;
use crate::metrics::StationMetrics;
use crate::part::PartRecord;
use crate::sinks::record::RecordSink;
use crate::station::summary::Summary;

pub struct Recorder {
    sinks: Vec<Box<dyn RecordSink>>,
    metrics: Arc<StationMetrics>,
}

impl Recorder {
    pub fn new(sinks: Vec<Box<dyn RecordSink>>, metrics: Arc<StationMetrics>) -> Self {
        Self { sinks, metrics }
    }

    pub fn run(mut self, rx: mailbox::Receiver<PartRecord>) -> Summary {
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
            let name = sink.name().to_string();
            if std::panic::catch_unwind(AssertUnwindSafe(|| sink.close())).is_err() {
                log::error!("record sink {name} panicked while closing");
                self.metrics.inc(&self.metrics.record_sink_panics);
            }
        }
        summary
    }

    fn record(&mut self, r: &PartRecord, summary: &mut Summary) {
        // A sink that panics (a bug in it) is dropped for the rest of the run and counted; the record
        // thread and the other sinks go on, so no other sink loses a part to it.
        let metrics = &self.metrics;
        self.sinks.retain_mut(|sink| {
            let ok = std::panic::catch_unwind(AssertUnwindSafe(|| sink.record(r))).is_ok();
            if !ok {
                log::error!("record sink {} panicked at part {}: dropped for the rest of the run", sink.name(), r.part);
                metrics.inc(&metrics.record_sink_panics);
            }
            ok
        });
        // The same parts as the summary's latency: those that got a score.
        if r.p_ng.is_some() {
            self.metrics.record_latency(r.latency.total_ms);
        }
        summary.add(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::decision::Verdict;
    use crate::sinks::echo::Echo;
    use crate::sinks::reject_scheduler::record_channel;
    use crate::sinks::results_log::ResultsLog;
    use std::sync::Mutex;
    use std::time::Instant;

    /// A reader that went away: every write fails as a closed pipe's does.
    struct ClosedPipe;

    impl std::io::Write for ClosedPipe {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    struct Collect(Arc<Mutex<Vec<u64>>>);

    impl RecordSink for Collect {
        fn name(&self) -> &str {
            "collect"
        }

        fn record(&mut self, part: &PartRecord) {
            self.0.lock().expect("parts").push(part.part);
        }
    }

    #[test]
    fn failing_sinks_cost_the_others_no_record_and_are_counted() {
        let metrics: Arc<StationMetrics> = Arc::default();
        // The results log on a full disk and the echo on a closed pipe, before and after a working sink.
        let full = ResultsLog::open(std::path::Path::new("/dev/full"), metrics.clone()).expect("open /dev/full");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sinks: Vec<Box<dyn RecordSink>> =
            vec![Box::new(full), Box::new(Echo::to(Box::new(ClosedPipe))), Box::new(Collect(seen.clone()))];
        let (tx, rx) = record_channel();
        for part in 1..=5 {
            let record = PartRecord::for_test(part, if part % 2 == 0 { Verdict::Ng } else { Verdict::Ok });
            tx.send(record, Instant::now()).map_err(|_| "send").expect("send");
        }
        drop(tx);
        let summary = Recorder::new(sinks, metrics.clone()).run(rx);
        assert_eq!(*seen.lock().expect("parts"), [1, 2, 3, 4, 5], "every part, in order");
        assert_eq!((summary.parts, summary.ng), (5, 2));
        let live = metrics.live();
        assert_eq!(live.counters.results_write_errors, 5, "counted as they happened");
        assert_eq!(live.latency.count, 5, "the live latency has every judged part");
    }
}
