//! Record: every settled part to the results log (and the stdout echo of a replay), NG images to the
//! archive.

use std::io::Write;
use std::sync::Arc;

use super::super::metrics::StationMetrics;
use super::super::summary::Summary;
use crate::mailbox;
use crate::sinks::annotate::annotate;
use crate::sinks::ng_archive::NgArchive;
use crate::sinks::reject_scheduler::Settled;
use crate::sinks::results_log::ResultsLog;
use crate::sources::{Frame, PixelFormat};

pub struct Recorder {
    results: ResultsLog,
    archive: Option<NgArchive>,
    metrics: Arc<StationMetrics>,
    echo: bool,
}

impl Recorder {
    pub fn new(results: ResultsLog, archive: Option<NgArchive>, metrics: Arc<StationMetrics>, echo: bool) -> Self {
        Self { results, archive, metrics, echo }
    }

    pub fn run(mut self, rx: mailbox::Receiver<Settled>) -> Summary {
        let mut summary = Summary::default();
        let mut batch = std::collections::VecDeque::new();
        let mut open = true;
        while open {
            open = rx.recv(None, &mut batch);
            for s in batch.drain(..) {
                self.record(s, &mut summary);
            }
        }
        self.results.flush();
        let m = &self.metrics;
        m.add(&m.results_write_errors, self.results.write_errors);
        if let Some(a) = &self.archive {
            m.add(&m.archive_saved, a.saved);
            m.add(&m.archive_evicted, a.evicted);
            m.add(&m.archive_write_errors, a.write_errors);
            m.add(&m.archive_skipped_low_space, a.skipped_low_space);
        }
        summary
    }

    fn record(&mut self, s: Settled, summary: &mut Summary) {
        let r = &s.record;
        self.results.write(r);
        if let (Some(a), Some(frame)) = (&mut self.archive, &s.frame) {
            let stem = format!("{}_{:08}_{}", r.time.replace(':', "-"), r.part, r.recipe);
            match &s.drawing {
                // The electrode NG picture: defects drawn on the visible frame, the X-ray beside it.
                Some((xray, result)) => {
                    let img = annotate(frame, xray, result);
                    let (width, height) = img.dimensions();
                    let drawn = Frame {
                        width,
                        height,
                        format: PixelFormat::Rgb8,
                        data: img.into_raw().into(),
                        ..frame.clone()
                    };
                    a.save(&drawn, &stem);
                }
                None => {
                    a.save(frame, &stem);
                }
            }
        }
        if self.echo {
            let defects = r
                .defects
                .as_ref()
                .filter(|d| !d.is_empty())
                .map(|d| {
                    let each: Vec<String> = d.iter().map(|d| format!("{} {:.2}", d.class, d.score)).collect();
                    format!("  [{}]", each.join(", "))
                })
                .unwrap_or_default();
            // A reader that goes away (`cellgate replay | head`) ends the echo, not the recorder: the
            // results log keeps every part.
            let echoed = writeln!(
                std::io::stdout().lock(),
                "part {:>5}  cavity {}  {:<8} {:<6} p_ng {:>7}  {:>7.2} ms{}{}  {}{defects}",
                r.part,
                r.cavity,
                r.recipe,
                format!("{:?}", r.verdict).to_uppercase(),
                r.p_ng.map(|p| format!("{p:.4}")).unwrap_or_else(|| "-".into()),
                r.latency.total_ms,
                if r.late { "  LATE" } else { "" },
                if r.rejected { "  rejected" } else { "" },
                r.frame
            );
            if let Err(e) = echoed {
                log::info!("stdout: {e}: no more parts echoed; the results log goes on");
                self.echo = false;
            }
        }
        summary.add(r);
    }
}
