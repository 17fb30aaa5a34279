use std::path::Path;

use cellgate::config::StationConfig;

use super::CliError;

pub fn run(path: &Path) -> Result<(), CliError> {
    let cfg = StationConfig::load(path)?;
    match cfg.seal() {
        Some(seal) => println!(
            "{}: ok (station '{}', seal inspection, model {}, {} recipe(s), {} cavit{})",
            path.display(),
            cfg.name,
            cfg.resolve(&seal.model).display(),
            seal.recipes.len(),
            seal.cavities,
            if seal.cavities == 1 { "y" } else { "ies" }
        ),
        None => println!(
            "{}: ok (station '{}', electrode inspection, model {})",
            path.display(),
            cfg.name,
            cfg.resolve(cfg.inspection.model()).display()
        ),
    }
    Ok(())
}
