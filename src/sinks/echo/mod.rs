//! The replay's echo: one line per settled part on stdout (verdict, NG probability, latency, defects).
//! A reader that goes away (`cellgate replay | head`) ends the echo, not the run: the other sinks keep
//! every part.

use std::io::Write;

use crate::part::PartRecord;
use crate::sinks::record::RecordSink;

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

    fn record(&mut self, part: &PartRecord) {
        if !self.open {
            return;
        }
        // The whole line in one write, flushed: a pipe sees each part as it settles, never half a line.
        let mut text = line(part);
        text.push('\n');
        let echoed = self.out.write_all(text.as_bytes()).and_then(|()| self.out.flush());
        if let Err(e) = echoed {
            log::info!("stdout: {e}: no more parts echoed; the results log goes on");
            self.open = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::decision::Verdict;
    use std::sync::{Arc, Mutex};

    /// Takes `ok` lines, then fails every write as a closed pipe does; counts the writes tried.
    struct Reader {
        ok: usize,
        lines: Arc<Mutex<(Vec<String>, usize)>>,
    }

    impl Write for Reader {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let mut l = self.lines.lock().expect("lines");
            l.1 += 1;
            if l.0.len() == self.ok {
                return Err(std::io::ErrorKind::BrokenPipe.into());
            }
            l.0.push(String::from_utf8_lossy(buf).into_owned());
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn one_line_per_part_until_the_reader_goes_away_then_nothing_more_is_tried() {
        let lines = Arc::new(Mutex::new((Vec::new(), 0)));
        let mut echo = Echo::to(Box::new(Reader { ok: 2, lines: lines.clone() }));
        for part in 1..=5 {
            echo.record(&PartRecord::for_test(part, if part == 2 { Verdict::Ng } else { Verdict::Ok }));
        }
        let (written, tried) = &*lines.lock().expect("lines");
        assert_eq!(written.len(), 2);
        assert_eq!(written[0], "part     1  cavity 0  recipe-a OK     p_ng  0.1000     2.00 ms  f1.png\n");
        assert!(written[1].contains("NG") && written[1].contains("rejected"), "{written:?}");
        assert_eq!(*tried, 3, "the failed write ended the echo");
    }
}
