//! The replay's echo: one line per settled part on stdout (verdict, NG probability, latency, defects).
//! A reader that goes away (`cellgate replay | head`) ends the echo, not the run: the other sinks keep
//! every part.

use std::io::Write;

use crate::sinks::record::{RecordSink, Settled};
use crate::sinks::results_log::PartRecord;

pub struct Echo {
    out: Box<dyn Write + Send>,
    open: bool,
}

impl Echo {
    pub fn stdout() -> Self {
        Self::to(Box::new(std::io::stdout()))
    }

    pub fn to(out: Box<dyn Write + Send>) -> Self {
        Self { out, open: true }
    }
}

/// A part's echo line.
pub fn line(r: &PartRecord) -> String {
    let defects = r
        .defects
        .as_ref()
        .filter(|d| !d.is_empty())
        .map(|d| {
            let each: Vec<String> = d.iter().map(|d| format!("{} {:.2}", d.class, d.score)).collect();
            format!("  [{}]", each.join(", "))
        })
        .unwrap_or_default();
    format!(
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
    )
}

impl RecordSink for Echo {
    fn name(&self) -> &str {
        "echo"
    }

    fn record(&mut self, part: &Settled) {
        if !self.open {
            return;
        }
        // One write per line, flushed: a line-buffered terminal and a pipe see each part as it settles.
        let echoed = writeln!(self.out, "{}", line(&part.record)).and_then(|()| self.out.flush());
        if let Err(e) = echoed {
            log::info!("stdout: {e}: no more parts echoed; the results log goes on");
            self.open = false;
        }
    }
}
