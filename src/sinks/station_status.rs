//! What the station says of itself to whoever asks from outside: the station page's `/api/status` and
//! the MQTT `status` topic send the same document. Its state (ready, fault with the reason, not ready),
//! the model in use and its status (swaps, refusals, the last events), the active recipe, a stuck step,
//! and the live counters, latency and outputs.

use std::path::Path;

use serde::Serialize;

use crate::metrics::file::Stuck;
use crate::metrics::{LiveSnapshot, StationMetrics};
use crate::model::store::{ModelEvent, ModelStore};

/// Model events the status carries, newest last.
const EVENTS: usize = 20;

#[derive(Debug, Serialize)]
pub struct Status {
    pub station: String,
    /// `ready`, `fault` (with `reason`) or `not ready` (starting, stopping, or a fault being retried).
    pub state: &'static str,
    pub reason: Option<String>,
    pub model: String,
    /// The recipe parts are judged against now.
    pub recipe: String,
    pub model_status: Option<ModelSummary>,
    pub stuck: Option<Stuck>,
    #[serde(flatten)]
    pub live: LiveSnapshot,
}

#[derive(Debug, Serialize)]
pub struct ModelSummary {
    /// Name, version, SHA-256, provider, graph, threshold and since when.
    pub active: Option<crate::model::store::ActiveModel>,
    pub swaps: u64,
    pub refusals: u64,
    /// The last events, newest last.
    pub events: Vec<ModelEvent>,
}

/// The station's status now. `model`: "name version on provider"; `state_dir`: where the model status is.
pub fn status(
    station: &str,
    metrics: &StationMetrics,
    model: String,
    stuck: Option<Stuck>,
    state_dir: &Path,
    recipe: String,
) -> Status {
    let live = metrics.live();
    let (state, reason) = match (&stuck, live.alarm, live.ready) {
        (Some(s), _, _) => ("fault", Some(format!("{} stuck for {} ms", s.step, s.for_ms))),
        (None, true, _) => ("fault", Some("alarm on (see the journal for its cause)".to_string())),
        (None, false, true) => ("ready", None),
        (None, false, false) => ("not ready", None),
    };
    let model_status = ModelStore::read_status(state_dir).map(|s| ModelSummary {
        active: s.active,
        swaps: s.swaps,
        refusals: s.refusals,
        events: s.events.into_iter().rev().take(EVENTS).rev().collect(),
    });
    Status { station: station.to_string(), state, reason, model, recipe, model_status, stuck, live }
}
