use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use cellgate::config::StationConfig;
use cellgate::station::{Overrides, RunReport, Station};

use super::CliError;

/// How a replay is paced: at a rate, or flat out; once through the folder, or in a loop for `parts`.
pub struct Pace {
    pub rate: Option<f64>,
    pub parts: Option<u64>,
    pub flat_out: bool,
}

pub fn run(config: &Path, images: &Path, pace: Pace, quiet: bool) -> Result<(), CliError> {
    let Pace { rate, parts, flat_out } = pace;
    let stop = Arc::new(AtomicBool::new(false));
    cellgate::signals::install(stop.clone()).map_err(CliError::Signals)?;
    let cfg = StationConfig::load(config)?;
    if let Some(r) = rate {
        let range = cellgate::trigger::RATE_HZ;
        if !range.contains(&r) {
            return Err(CliError::Usage(format!("--rate {r} is outside {}..={}", range.start(), range.end())));
        }
    }
    let ov = Overrides {
        replay: Some(images.to_path_buf()),
        rate_hz: if flat_out { Some(f64::INFINITY) } else { rate },
        echo: !quiet,
        saturate: flat_out,
        max_triggers: parts,
        stop: Some(stop.clone()),
        vet_with: cellgate::model::vet::this_exe(),
        ..Overrides::default()
    };
    let station = Station::build(cfg, &ov)?;
    let report = station.run(stop)?;
    print_report(&report);
    Ok(())
}

/// The run's summary on stdout; a reader that has gone away (`| head`) is no error of the run's.
pub fn print_report(r: &RunReport) {
    if let Err(e) = write_report(&mut std::io::stdout().lock(), r) {
        log::info!("stdout: {e}: summary not printed");
    }
}

fn write_report(out: &mut impl std::io::Write, r: &RunReport) -> std::io::Result<()> {
    let s = &r.summary;
    let secs = r.wall.as_secs_f64().max(1e-9);
    writeln!(out, "--- summary")?;
    writeln!(
        out,
        "parts {}  ok {}  ng {}  error {}  late {}  rejected {}  ({:.1} parts/s over {:.1} s)",
        s.parts,
        s.ok,
        s.ng,
        s.error,
        s.late,
        s.rejected,
        s.parts as f64 / secs,
        secs
    )?;
    if let (Some(p50), Some(p99)) = (s.latency_ms(50.0), s.latency_ms(99.0)) {
        writeln!(out, "latency trigger->verdict  p50 {p50:.2} ms  p99 {p99:.2} ms")?;
    }
    if let Some((acc, recall, fr)) = s.agreement() {
        let pct = |v: Option<f64>| v.map(|v| format!("{:.2}%", 100.0 * v)).unwrap_or_else(|| "n/a".into());
        writeln!(
            out,
            "labels: {} parts  accuracy {:.2}%  NG recall {}  false-reject {}",
            s.labelled_parts(),
            100.0 * acc,
            pct(recall),
            pct(fr)
        )?;
    }
    match serde_json::to_string(&r.metrics) {
        Ok(j) => writeln!(out, "metrics {j}")?,
        Err(e) => log::error!("metrics: {e}"),
    }
    Ok(())
}
