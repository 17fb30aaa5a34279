//! The fleet connection (`mqtt`), when the config has one: started at build time, so a wrong CA or
//! refused credentials fail the start; a record sink from then on, closed with the others at the end.

use std::sync::Arc;

use super::super::health::Health;
use super::super::model_swap::ModelInUse;
use super::super::StationError;
use crate::config::StationConfig;
use crate::inspect::active_recipe::ActiveRecipe;
use crate::metrics::StationMetrics;
use crate::sinks::mqtt::{MqttConfig, MqttSink, StationHandles};

pub fn start(
    cfg: &StationConfig,
    mqtt: &MqttConfig,
    metrics: &Arc<StationMetrics>,
    health: &Arc<Health>,
    model: &ModelInUse,
    recipe: &Arc<ActiveRecipe>,
) -> Result<MqttSink, StationError> {
    let model = model.clone();
    let handles = StationHandles {
        station: cfg.name.clone(),
        metrics: metrics.clone(),
        model: Box::new(move || model.get()),
        stuck: super::page::stuck_probe(health.clone()),
        state_dir: cfg.resolve(&cfg.model_updates.state_dir),
        recipe: recipe.clone(),
    };
    Ok(MqttSink::start(mqtt, &cfg.base_dir, handles)?)
}
