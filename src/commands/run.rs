use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use cellgate::config::StationConfig;
use cellgate::service::Service;
use cellgate::station::model_load::LoadError;
use cellgate::station::{Overrides, Station, StationError};

use super::replay::print_report;
use super::CliError;

pub fn run(config: &Path) -> Result<(), CliError> {
    let stop = Arc::new(AtomicBool::new(false));
    cellgate::signals::install(stop.clone()).map_err(CliError::Signals)?;
    let cfg = StationConfig::load(config)?;
    let station = match Station::build(
        cfg,
        &Overrides { stop: Some(stop.clone()), vet_with: cellgate::model::vet::this_exe(), ..Overrides::default() },
    ) {
        Ok(s) => s,
        // Stopped while the model loaded: nothing ran, no output was opened; an orderly stop.
        Err(StationError::Load(LoadError::Stopped { path })) => {
            log::info!("{}: stopped while loading; the station did not start", path.display());
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let service =
        Service::start(station.health.clone(), station.metrics.clone(), stop.clone(), station.model_in_use.clone())
            .map_err(|source| CliError::Thread { name: "systemd watchdog", source })?;
    log::info!("station running; SIGTERM stops it");
    let report = station.run(stop);
    service.finish();
    print_report(&report?);
    Ok(())
}
