//! The model side of a build: the file rules every model load follows, and the model-swap step that
//! watches the model files (with the store of active and previous models it keeps).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::config::InspectionConfig;
use crate::config::{GpioConfig, StationConfig};
use crate::inspect::config::StationSide;
use crate::inspect::qualification::golden::{GoldenError, GoldenSet, Holds};
use crate::inspect::qualification::{Gate, GatedLoader, Limits};
use crate::inspect::{InspectionLoader, ModelIdentity};
use crate::metrics::StationMetrics;
use crate::model::integrity::{read_public_key, IntegrityPolicy};
use crate::model::store::SharedModelStore;
use crate::model::watch::ModelWatcher;
use crate::model::FilePolicy;
use crate::runtime::Runtime;
use crate::station::{model_swap, Station, StationError};

impl Station {
    /// What a model file must be to be loaded, from `model_updates`.
    pub fn file_policy(cfg: &StationConfig) -> Result<FilePolicy, StationError> {
        let mu = &cfg.model_updates;
        let public_key = match &mu.public_key {
            Some(k) => Some(read_public_key(&cfg.resolve(k)).map_err(StationError::Key)?),
            None => None,
        };
        Ok(FilePolicy {
            integrity: Some(IntegrityPolicy { require_signature: mu.require_signature, public_key }),
            max_bytes: mu.max_model_bytes,
            vetted: None,
        })
    }
}

/// How this station loads its model, at start and at every swap. `references`: the seal recipes'
/// reference images (the config's and a replayed dataset's).
pub(super) fn loader(cfg: &StationConfig, references: BTreeMap<String, PathBuf>) -> Arc<dyn InspectionLoader> {
    let markers = match &cfg.gpio {
        GpioConfig::Sim { markers, .. } => markers.clone(),
        GpioConfig::Chardev(c) => c.markers.keys().cloned().collect(),
    };
    let reject_output = cfg.gpio.output_names().first().cloned().unwrap_or_default();
    cfg.inspection.kind().loader(StationSide { references, reject_output, markers })
}

impl Station {
    /// The qualification gate, when the config names a golden set (start and `check-config`): the set is
    /// read and checked whole now, and the limits it is asked for must be figures it can give. `recipes`:
    /// those the station has references for.
    pub fn qualification_gate(
        cfg: &StationConfig,
        recipes: BTreeSet<String>,
    ) -> Result<Option<(Arc<Gate>, Holds)>, StationError> {
        gate(cfg, recipes)
    }
}

fn gate(cfg: &StationConfig, recipes: BTreeSet<String>) -> Result<Option<(Arc<Gate>, Holds)>, StationError> {
    let mu = &cfg.model_updates;
    let Some(dir) = &mu.golden else { return Ok(None) };
    let dir = cfg.resolve(dir);
    let electrode = matches!(cfg.inspection, InspectionConfig::Electrode(_));
    let (set, holds) = GoldenSet::open(&dir, electrode, recipes)?;
    let cannot = |missing, figure| GoldenError::CannotGive { dir: dir.clone(), missing, figure };
    if holds.ng == 0 && (mu.min_ng_recall.is_some() || mu.min_map50.is_some() || mu.max_miss_rate.is_some()) {
        return Err(cannot("it has no NG part", "an NG recall, mAP50 or miss rate").into());
    }
    if holds.ok + holds.ng == 0 {
        return Err(cannot("it has no part", "any figure").into());
    }
    log::info!("qualification gate: golden set {} ({} OK, {} NG parts)", dir.display(), holds.ok, holds.ng);
    let limits = Limits {
        min_accuracy: mu.min_accuracy,
        min_ng_recall: mu.min_ng_recall,
        min_map50: mu.min_map50,
        max_miss_rate: mu.max_miss_rate,
        max_regression: mu.max_regression,
    };
    Ok(Some((Arc::new(Gate::new(set, limits, electrode)), holds)))
}

/// `loader` behind the gate: every model it loads is qualified first.
pub(super) fn gated(loader: Arc<dyn InspectionLoader>, gate: Option<&Arc<Gate>>) -> Arc<dyn InspectionLoader> {
    match gate {
        Some(g) => Arc::new(GatedLoader { inner: loader, gate: g.clone() }),
        None => loader,
    }
}

/// The model-swap step, when the config asks for it; records the model in use either way.
pub(super) fn swap_step(
    cfg: &StationConfig,
    loader: Arc<dyn InspectionLoader>,
    rt: &Runtime,
    (identity, threshold): (&ModelIdentity, f32),
    tx: crossbeam_channel::Sender<model_swap::Candidate>,
    (metrics, in_use): (Arc<StationMetrics>, model_swap::ModelInUse),
    (load_turn, gate, store): (model_swap::LoadTurn, Option<Arc<Gate>>, SharedModelStore),
) -> Result<Option<model_swap::ModelSwap>, StationError> {
    let mu = &cfg.model_updates;
    let model_path = cfg.resolve(cfg.inspection.model());
    {
        let mut s = store.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let files: Vec<PathBuf> = loader.files(&model_path).into_iter().filter(|p| p.is_file()).collect();
        s.keep_active(&files, false);
        s.record("loaded", &model_path, format!("{} {}", identity.name, identity.version));
        s.set_active(model_swap::active_model(&model_path, identity, threshold));
        if let Some(f) = gate.as_ref().and_then(|g| g.running()) {
            s.record("qualified", &model_path, f.to_string());
        }
    }
    if !mu.watch {
        return Ok(None);
    }
    let active_set = model_swap::ModelSwap::set_sha256(&loader.files(&model_path), mu.max_model_bytes);
    let dir = model_path.parent().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
    let watcher = ModelWatcher::new(&dir, &loader.files(&model_path), Duration::from_millis(mu.settle_ms))?;
    Ok(Some(model_swap::ModelSwap {
        rt: rt.clone(),
        loader,
        active_set,
        model_path,
        watcher,
        store,
        tx,
        load_timeout: Duration::from_millis(mu.load_timeout_ms),
        threshold,
        in_use,
        metrics,
        load_turn,
        gate,
        ticket: None,
    }))
}
