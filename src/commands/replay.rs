use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use cellgate::config::StationConfig;
use cellgate::station::{Overrides, RunReport, Station};

use super::CliError;

pub fn run(config: &Path, images: &Path, rate: Option<f64>, quiet: bool) -> Result<(), CliError> {
    let stop = Arc::new(AtomicBool::new(false));
    cellgate::signals::install(stop.clone()).map_err(|e| CliError::Other(format!("signal handling: {e}")))?;
    let cfg = StationConfig::load(config)?;
    if let Some(r) = rate {
        if !(r > 0.0 && r <= 1000.0) {
            return Err(CliError::Other(format!("--rate {r} is outside (0, 1000]")));
        }
    }
    let ov = Overrides {
        replay: Some(images.to_path_buf()),
        rate_hz: rate,
        echo: !quiet,
        stop: Some(stop.clone()),
        ..Overrides::default()
    };
    let station = Station::build(cfg, &ov)?;
    let report = station.run(stop)?;
    print_report(&report);
    Ok(())
}

pub fn print_report(r: &RunReport) {
    let s = &r.summary;
    let secs = r.wall.as_secs_f64().max(1e-9);
    println!("--- summary");
    println!(
        "parts {}  ok {}  ng {}  error {}  late {}  rejected {}  ({:.1} parts/s over {:.1} s)",
        s.parts,
        s.ok,
        s.ng,
        s.error,
        s.late,
        s.rejected,
        s.parts as f64 / secs,
        secs
    );
    if let (Some(p50), Some(p99)) = (s.latency_ms(50.0), s.latency_ms(99.0)) {
        println!("latency trigger->verdict  p50 {p50:.2} ms  p99 {p99:.2} ms");
    }
    if let Some((acc, recall, fr)) = s.agreement() {
        let pct = |v: Option<f64>| v.map(|v| format!("{:.2}%", 100.0 * v)).unwrap_or_else(|| "n/a".into());
        println!(
            "labels: {} parts  accuracy {:.2}%  NG recall {}  false-reject {}",
            s.labelled_parts(),
            100.0 * acc,
            pct(recall),
            pct(fr)
        );
    }
    match serde_json::to_string(&r.metrics) {
        Ok(j) => println!("metrics {j}"),
        Err(e) => log::error!("metrics: {e}"),
    }
}
