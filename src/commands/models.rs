use std::path::Path;

use cellgate::config::{RuntimeConfig, StationConfig};
use cellgate::model::LoadedModel;
use cellgate::runtime::Runtime;

use super::CliError;

pub fn inspect(file: &Path, config: Option<&Path>) -> Result<(), CliError> {
    let rt_cfg = match config {
        Some(c) => StationConfig::load(c)?.runtime,
        None => RuntimeConfig::default(),
    };
    let rt = Runtime::load(&rt_cfg, None)?;
    let m = LoadedModel::open(&rt, file)?;
    let contract = m.manifest.check_contract(m.manifest.task, m.manifest.graph);
    println!("file      {}", file.display());
    println!("sha256    {}", m.sha256);
    println!("task      {} ({:?} graph)", m.manifest.task, m.manifest.graph);
    println!("model     {}", m.label());
    println!("provider  {} (runtime {})", m.provider, rt.library.display());
    println!(
        "contract  {}",
        match &contract {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("BROKEN: {e}"),
        }
    );
    println!("graph inputs:");
    for t in &m.inputs {
        println!("  {:<22} {:?}{}", t.name, t.shape, if t.is_f32 { " f32" } else { " (not f32)" });
    }
    println!("graph outputs:");
    for t in &m.outputs {
        println!("  {:<22} {:?}{}", t.name, t.shape, if t.is_f32 { " f32" } else { " (not f32)" });
    }
    println!("manifest:");
    let json = serde_json::to_string_pretty(&m.manifest).map_err(|e| CliError::Other(e.to_string()))?;
    println!("{json}");
    contract.map_err(|source| CliError::Model(cellgate::model::ModelError::Manifest { path: file.into(), source }))
}
