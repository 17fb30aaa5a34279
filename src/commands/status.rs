//! `cellgate status`: the running station as its last `metrics.json` shows it: health (the file's age,
//! alarm and ready as last written), the model in use, latency and every counter. The exit status says
//! whether the station is running and reporting: 0 for a fresh file, 1 for a stale one, one written at
//! the station's exit, or none at all.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use cellgate::config::StationConfig;
use cellgate::metrics::file::{Freshness, MetricsFile, FILE_NAME, STALE_PERIODS};

use super::CliError;

/// Why `status` exits non-zero although it could read the file.
#[derive(Debug, thiserror::Error)]
pub enum NotReporting {
    #[error("{}: STALE: last written {:.1} s ago, more than {STALE_PERIODS} periods of {:.1} s: the station is hung or gone", path.display(), age.as_secs_f64(), period.as_secs_f64())]
    Stale { path: PathBuf, age: Duration, period: Duration },
    #[error("{}: the station stopped {:.1} s ago", path.display(), age.as_secs_f64())]
    Stopped { path: PathBuf, age: Duration },
    #[error("{}: STUCK: {step} for {:.1} s: no part is being inspected", path.display(), Duration::from_millis(*for_ms).as_secs_f64())]
    Stuck { path: PathBuf, step: String, for_ms: u64 },
}

pub fn run(config: &Path, json: bool) -> Result<(), CliError> {
    // Like the model tools: a status is wanted most when the model file is missing or broken.
    let cfg = StationConfig::load_for_model_tools(config)?;
    let dir = cfg.resolve(&cfg.model_updates.state_dir);
    // One read: the file judged is the file printed.
    let (file, raw) = MetricsFile::read_raw(&dir)?;
    let freshness = file.freshness(SystemTime::now());
    if json {
        std::io::stdout().write_all(&raw).map_err(|source| CliError::Io { path: "stdout".into(), source })?;
    } else {
        print!("{}", report(&file, freshness));
    }
    let path = dir.join(FILE_NAME);
    Err(match (freshness, &file.stuck) {
        (Freshness::Fresh { .. }, None) => return Ok(()),
        (Freshness::Fresh { .. }, Some(s)) => NotReporting::Stuck { path, step: s.step.clone(), for_ms: s.for_ms },
        (Freshness::Stale { age }, _) => {
            NotReporting::Stale { path, age, period: Duration::from_millis(file.period_ms) }
        }
        (Freshness::Stopped { age }, _) => NotReporting::Stopped { path, age },
    }
    .into())
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// The text `cellgate status` prints.
fn report(f: &MetricsFile, freshness: Freshness) -> String {
    let on = |v: bool| if v { "on" } else { "off" };
    let health = match (freshness, &f.stuck) {
        (Freshness::Fresh { .. }, Some(s)) => {
            format!("STUCK: {} for {}", s.step, secs(Duration::from_millis(s.for_ms)))
        }
        (Freshness::Fresh { age }, None) => {
            format!("running (written {} ago, every {})", secs(age), secs(Duration::from_millis(f.period_ms)))
        }
        (Freshness::Stale { age }, _) => format!(
            "STALE: last written {} ago, more than {STALE_PERIODS} periods of {}",
            secs(age),
            secs(Duration::from_millis(f.period_ms))
        ),
        (Freshness::Stopped { age }, _) => format!("STOPPED {} ago (the counters of its whole run)", secs(age)),
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
    use cellgate::metrics::file::{MetricsWriter, RunState, Stuck};
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

    #[test]
    fn a_fresh_file_with_a_stuck_step_reads_stuck_not_running() {
        let dir = tempfile::tempdir().expect("tmp");
        let stuck = || Some(Stuck { step: "inference".into(), for_ms: 12_000 });
        let mut w = MetricsWriter::new(dir.path(), "line-1", Duration::from_millis(2000), Arc::default())
            .with_stuck_probe(Box::new(stuck));
        w.write(RunState::Running, "m".into());
        let f = MetricsFile::read(dir.path()).expect("file");
        let text = report(&f, Freshness::Fresh { age: Duration::from_millis(300) });
        assert!(text.contains("health    STUCK: inference for 12.0 s"), "{text}");
    }
}
