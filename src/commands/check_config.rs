use std::path::Path;

use cellgate::config::StationConfig;

use super::CliError;

pub fn run(path: &Path) -> Result<(), CliError> {
    let cfg = StationConfig::load(path)?;
    let seal = cfg.seal();
    println!(
        "{}: ok (station '{}', seal inspection, model {}, {} recipe(s), {} cavit{})",
        path.display(),
        cfg.name,
        cfg.resolve(&seal.model).display(),
        seal.recipes.len(),
        seal.cavities,
        if seal.cavities == 1 { "y" } else { "ies" }
    );
    Ok(())
}
