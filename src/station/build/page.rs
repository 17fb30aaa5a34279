//! The station page (`http`), when the config has one: bound at build time, so a port in use fails the
//! start with the key named; served by `Station::run` for as long as the station runs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::super::health::Health;
use super::super::model_swap::ModelInUse;
use super::super::StationError;
use crate::config::StationConfig;
use crate::control::StationControl;
use crate::inspect::active_recipe::ActiveRecipe;
use crate::metrics::file::{Stuck, STUCK_AFTER};
use crate::metrics::StationMetrics;
use crate::sinks::http::{read_token, HttpConfig, HttpPage, LiveFeed, StationView};

/// The station's handles the page reads.
pub struct View<'a> {
    pub control: &'a Arc<StationControl>,
    pub metrics: &'a Arc<StationMetrics>,
    pub health: &'a Arc<Health>,
    pub model: &'a ModelInUse,
    pub recipes: BTreeMap<String, PathBuf>,
    pub active: &'a Arc<ActiveRecipe>,
}

pub fn bind(cfg: &StationConfig, http: &HttpConfig, v: View<'_>) -> Result<(HttpPage, LiveFeed), StationError> {
    let (model, health) = (v.model.clone(), v.health.clone());
    let token = match &http.token_file {
        Some(f) => Some(read_token(&cfg.resolve(f))?),
        None => None,
    };
    let view = |live| StationView {
        station: cfg.name.clone(),
        metrics: v.metrics.clone(),
        model: Box::new(move || model.get()),
        stuck: stuck_probe(health),
        state_dir: cfg.resolve(&cfg.model_updates.state_dir),
        archive: cfg.records.archive.as_ref().map(|a| cfg.resolve(&a.dir)),
        recipes: v.recipes,
        recipe: v.active.clone(),
        control: v.control.clone(),
        token: token.clone(),
        live,
    };
    let (page, feed) = HttpPage::bind(http, view, v.metrics)?;
    if let Some(addr) = page.local_addr() {
        log::info!("station page on http://{addr}/");
    }
    Ok((page, feed))
}

/// A step stuck inside one call for longer than `STUCK_AFTER`, from the station's health marks.
pub fn stuck_probe(health: Arc<Health>) -> Box<dyn Fn() -> Option<Stuck> + Send + Sync> {
    Box::new(move || {
        health
            .stalled(STUCK_AFTER)
            .map(|(step, age)| Stuck { step: step.name().into(), for_ms: age.as_millis() as u64 })
    })
}
