use std::collections::BTreeSet;
use std::path::Path;

use cellgate::config::{SourceConfig, StationConfig};
use cellgate::sources::replay::ReplaySource;
use cellgate::station::Station;

use super::CliError;

pub fn run(path: &Path) -> Result<(), CliError> {
    let cfg = StationConfig::load(path)?;
    let inspection = cfg.inspection.kind().describe(&|p| cfg.resolve(p));
    // The golden set is read and checked as the start checks it: a technician finds a missing image or a
    // bad label line here, not at the next restart.
    let golden = match Station::qualification_gate(&cfg, recipes(&cfg))? {
        Some((_, holds)) => format!("; golden set: {} OK, {} NG parts", holds.ok, holds.ng),
        None => String::new(),
    };
    println!("{}: ok (station '{}', {inspection}{golden})", path.display(), cfg.name);
    Ok(())
}

/// The recipes the station will have references for: the config's, and a replayed dataset's.
fn recipes(cfg: &StationConfig) -> BTreeSet<String> {
    let mut recipes: BTreeSet<String> = cfg.inspection.kind().references().unwrap_or_default().into_keys().collect();
    if let (Some(_), SourceConfig::Replay { path, .. }) = (&cfg.model_updates.golden, &cfg.source) {
        if let Ok(r) = ReplaySource::open(&cfg.resolve(path), false) {
            recipes.extend(r.references.into_keys());
        }
    }
    recipes
}
