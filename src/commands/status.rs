//! `cellgate status`: the running station as its last `metrics.json` shows it: health (the file's age,
//! alarm and ready as last written), the model in use, latency and every counter. The exit status says
//! whether the station is running and reporting: 0 for a fresh file, 1 for a stale one, one written at
//! the station's exit, or none at all.

use std::path::Path;
use std::time::{Duration, SystemTime};

use cellgate::config::StationConfig;
use cellgate::metrics::file::{Freshness, MetricsFile, FILE_NAME, STALE_PERIODS};

use super::CliError;

pub fn run(config: &Path, json: bool) -> Result<(), CliError> {
    // Like the model tools: a status is wanted most when the model file is missing or broken.
    let cfg = StationConfig::load_for_model_tools(config)?;
    let dir = cfg.resolve(&cfg.model_updates.state_dir);
    let file = MetricsFile::read(&dir)?;
    let freshness = file.freshness(SystemTime::now());
    if json {
        let path = dir.join(FILE_NAME);
        // The file as written (it was just parsed: a whole one, as the rename guarantees).
        let raw = std::fs::read_to_string(&path).map_err(|source| CliError::Io { path, source })?;
        print!("{raw}");
    } else {
        print!("{}", report(&file, freshness));
    }
    match freshness {
        Freshness::Fresh { .. } => Ok(()),
        Freshness::Stale { age } => Err(CliError::NotReporting(format!(
            "{}: STALE: last written {} ago, more than {STALE_PERIODS} periods of {}: the station is hung or gone",
            dir.join(FILE_NAME).display(),
            secs(age),
            secs(Duration::from_millis(file.period_ms))
        ))),
        Freshness::Stopped { age } => Err(CliError::NotReporting(format!(
            "{}: the station stopped {} ago",
            dir.join(FILE_NAME).display(),
            secs(age)
        ))),
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// The text `cellgate status` prints.
fn report(f: &MetricsFile, freshness: Freshness) -> String {
    let on = |v: bool| if v { "on" } else { "off" };
    let health = match freshness {
        Freshness::Fresh { age } => {
            format!("running (written {} ago, every {})", secs(age), secs(Duration::from_millis(f.period_ms)))
        }
        Freshness::Stale { age } => format!(
            "STALE: last written {} ago, more than {STALE_PERIODS} periods of {}",
            secs(age),
            secs(Duration::from_millis(f.period_ms))
        ),
        Freshness::Stopped { age } => format!("STOPPED {} ago (the counters of its whole run)", secs(age)),
    };
    let ms = |v: Option<f64>| v.map(|v| format!("{v:.2} ms")).unwrap_or_else(|| "-".into());
    let l = &f.live.latency;
    let mut out = format!(
        "station   {} (pid {})\nhealth    {health}\nalarm     {}\nready     {}\nmodel     {}\nwritten   {} (#{})\n\
         latency   trigger->verdict p50 {}  p99 {}  max {}  ({} parts)\ncounters\n",
        f.station,
        f.pid,
        on(f.live.alarm),
        on(f.live.ready),
        f.model,
        f.written,
        f.seq,
        ms(l.p50_ms),
        ms(l.p99_ms),
        ms(l.max_ms),
        l.count
    );
    for (name, v) in f.live.counters.pairs() {
        out.push_str(&format!("  {name:<28} {v}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cellgate::metrics::file::{MetricsWriter, RunState};
    use cellgate::metrics::StationMetrics;
    use std::sync::Arc;

    #[test]
    fn the_report_shows_health_outputs_model_latency_and_every_counter() {
        let dir = tempfile::tempdir().expect("tmp");
        let m: Arc<StationMetrics> = Arc::default();
        m.add(&m.parts_settled, 7);
        m.record_latency(1.5);
        m.outputs_written(Some(true), Some(false));
        let mut w = MetricsWriter::new(dir.path(), "line-1", Duration::from_millis(2000), m);
        w.write(RunState::Running, "seal_classifier 2.1.0 on cpu".into());
        let f = MetricsFile::read(dir.path()).expect("file");
        let text = report(&f, Freshness::Fresh { age: Duration::from_millis(300) });
        for want in [
            "station   line-1",
            "health    running (written 0.3 s ago, every 2.0 s)",
            "alarm     on",
            "ready     off",
            "model     seal_classifier 2.1.0 on cpu",
            "p50 1.50 ms",
            "(1 parts)",
            "parts_settled",
            "metrics_write_errors",
        ] {
            assert!(text.contains(want), "{want:?} not in:\n{text}");
        }
        let stale = report(&f, Freshness::Stale { age: Duration::from_secs(7) });
        assert!(stale.contains("health    STALE: last written 7.0 s ago, more than 3 periods of 2.0 s"), "{stale}");
    }
}
