use std::path::Path;

use cellgate::config::StationConfig;

use super::CliError;

pub fn run(path: &Path) -> Result<(), CliError> {
    let cfg = StationConfig::load(path)?;
    let inspection = cfg.inspection.kind().describe(&|p| cfg.resolve(p));
    println!("{}: ok (station '{}', {inspection})", path.display(), cfg.name);
    Ok(())
}
