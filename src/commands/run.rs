use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use cellgate::config::StationConfig;
use cellgate::station::{Overrides, Station};

use super::replay::print_report;
use super::CliError;

pub fn run(config: &Path) -> Result<(), CliError> {
    let stop = Arc::new(AtomicBool::new(false));
    cellgate::signals::install(stop.clone()).map_err(|e| CliError::Other(format!("signal handling: {e}")))?;
    let cfg = StationConfig::load(config)?;
    let station = Station::build(cfg, &Overrides::default())?;
    log::info!("station running; SIGTERM stops it");
    let report = station.run(stop)?;
    print_report(&report);
    Ok(())
}
