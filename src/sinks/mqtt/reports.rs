//! What the station tells the fleet besides parts, and the one command it takes: the `status` document
//! (the station page's `/api/status`, `station_status`), the model events (the model store's, as
//! `cellgate models status` shows them), and `recipe/set` through the station's one recipe switch
//! (`ActiveRecipe`, as the page's `POST /api/recipe/NAME`), answered on `recipe/state`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use crate::inspect::active_recipe::ActiveRecipe;
use crate::metrics::file::StuckProbe;
use crate::metrics::StationMetrics;
use crate::model::store::{ActiveModel, ModelEvent, ModelStore};
use crate::sinks::station_status;

/// The status goes out at least this often, and at once when anything but the counters changed.
pub const STATUS_EVERY: Duration = Duration::from_secs(10);
/// Longest recipe name a command may carry.
const MAX_RECIPE_NAME: usize = 256;

/// The station's handles the reports read, and the recipe switch commands act on.
pub struct StationHandles {
    pub station: String,
    pub metrics: Arc<StationMetrics>,
    /// The model judging parts, "name version on provider".
    pub model: Box<dyn Fn() -> String + Send>,
    pub stuck: StuckProbe,
    /// `model_updates.state_dir`: the model status with its events.
    pub state_dir: PathBuf,
    pub recipe: Arc<ActiveRecipe>,
}

pub struct Reports {
    h: StationHandles,
    /// The last status sent, without its counters and latency (what "changed" compares).
    last_status: Option<Value>,
    status_sent: Option<Instant>,
    /// The last model event sent.
    last_event: Option<ModelEvent>,
}

/// A `model` message: one model event and the model in use after it.
#[derive(Serialize)]
struct ModelMessage<'a> {
    #[serde(flatten)]
    event: &'a ModelEvent,
    active: Option<&'a ActiveModel>,
}

/// A `recipe/state` message: the active recipe, and what became of the last command.
#[derive(Serialize)]
struct RecipeState<'a> {
    active: &'a str,
    names: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    requested: Option<&'a str>,
    /// `switched` or `refused`; absent in the state sent at connect.
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

impl Reports {
    pub fn new(h: StationHandles) -> Self {
        Self { h, last_status: None, status_sent: None, last_event: None }
    }

    /// The status document when it is due: `force` (just connected), anything but the counters changed,
    /// or `STATUS_EVERY` passed.
    pub fn status(&mut self, now: Instant, force: bool) -> Option<Vec<u8>> {
        let (model, stuck) = ((self.h.model)(), (self.h.stuck)());
        let recipe = self.h.recipe.get().to_string();
        let s = station_status::status(&self.h.station, &self.h.metrics, model, stuck, &self.h.state_dir, recipe);
        let mut full = serde_json::to_value(&s).ok()?;
        let mut key = full.clone();
        if let Some(o) = key.as_object_mut() {
            // Counters and latency change with every part; a stuck step's age with every look.
            for k in ["counters", "latency"] {
                o.remove(k);
            }
            if let Some(stuck) = o.get_mut("stuck").and_then(Value::as_object_mut) {
                stuck.remove("for_ms");
            }
        }
        let due = self.status_sent.is_none_or(|t| now.duration_since(t) >= STATUS_EVERY);
        if !(force || due || self.last_status.as_ref() != Some(&key)) {
            return None;
        }
        if let Some(o) = full.as_object_mut() {
            o.insert("time".into(), humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string().into());
        }
        self.last_status = Some(key);
        self.status_sent = Some(now);
        serde_json::to_vec(&full).ok()
    }

    /// Model events not sent yet, oldest first; with `force` (just connected) the last one again, so a
    /// broker that lost its retained messages has it.
    pub fn model_events(&mut self, force: bool) -> Vec<Vec<u8>> {
        let Some(status) = ModelStore::read_status(&self.h.state_dir) else { return Vec::new() };
        let start = match &self.last_event {
            Some(last) => match status.events.iter().rposition(|e| e == last) {
                Some(i) if force => i,
                Some(i) => i + 1,
                None => 0,
            },
            None => status.events.len().saturating_sub(1),
        };
        let new = &status.events[start.min(status.events.len())..];
        if let Some(last) = new.last() {
            self.last_event = Some(last.clone());
        }
        let active = status.active.as_ref();
        new.iter().filter_map(|event| serde_json::to_vec(&ModelMessage { event, active }).ok()).collect()
    }

    /// The active recipe and the recipes there are (sent at connect).
    pub fn recipe_state(&self) -> Vec<u8> {
        self.recipe_reply(None, None, None)
    }

    /// A `recipe/set` message: its payload is the recipe's name (plain UTF-8 text). A known recipe
    /// becomes active from the next part on; anything else is refused and changes nothing. A retained
    /// command is refused too: it would be replayed at every reconnect, undoing later switches. The
    /// reply for `recipe/state`.
    pub fn recipe_command(&self, payload: &[u8], retained: bool) -> Vec<u8> {
        let name = std::str::from_utf8(payload).map(str::trim);
        let refused = |requested: Option<&str>, reason: String| {
            log::warn!("mqtt: recipe command {requested:?} refused: {reason}");
            self.recipe_reply(requested, Some("refused"), Some(reason))
        };
        let name = match name {
            Err(_) => return refused(None, "the payload is not UTF-8 text".into()),
            Ok("") => return refused(None, "the payload is empty; it must be a recipe name".into()),
            Ok(n) if n.len() > MAX_RECIPE_NAME || n.chars().any(char::is_control) => {
                return refused(None, "the payload is not a recipe name".into())
            }
            Ok(n) => n,
        };
        if retained {
            return refused(Some(name), "a retained command is not acted on; publish it without retain".into());
        }
        match self.h.recipe.switch(name) {
            Ok(previous) => {
                log::info!("mqtt: recipe switched {previous} -> {name}");
                self.recipe_reply(Some(name), Some("switched"), None)
            }
            Err(e) => refused(Some(name), e.to_string()),
        }
    }

    fn recipe_reply(&self, requested: Option<&str>, result: Option<&'static str>, reason: Option<String>) -> Vec<u8> {
        let active = self.h.recipe.get();
        let names = self.h.recipe.known().iter().map(String::as_str).collect();
        let state = RecipeState { active: &active, names, requested, result, reason };
        serde_json::to_vec(&state).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reports(dir: &std::path::Path) -> Reports {
        let recipe = Arc::new(ActiveRecipe::new("a", ["a".to_string(), "b".to_string()]));
        Reports::new(StationHandles {
            station: "s".into(),
            metrics: Arc::default(),
            model: Box::new(|| "m 1 on cpu".into()),
            stuck: Box::new(|| None),
            state_dir: dir.to_path_buf(),
            recipe,
        })
    }

    fn reply(r: &Reports, payload: &[u8], retained: bool) -> Value {
        serde_json::from_slice(&r.recipe_command(payload, retained)).expect("json")
    }

    #[test]
    fn a_known_recipe_is_switched_to_and_anything_else_changes_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let r = reports(dir.path());
        let ok = reply(&r, b"b\n", false);
        assert_eq!((ok["active"].as_str(), ok["result"].as_str()), (Some("b"), Some("switched")));
        for (payload, retained) in
            [(&b"zzz"[..], false), (b"", false), (b"\xff\xfe", false), (b"a\x00b", false), (b"a", true)]
        {
            let no = reply(&r, payload, retained);
            assert_eq!((no["active"].as_str(), no["result"].as_str()), (Some("b"), Some("refused")), "{payload:?}");
            assert!(no["reason"].as_str().is_some_and(|s| !s.is_empty()), "{no}");
        }
        assert_eq!(&*r.h.recipe.get(), "b");
    }

    #[test]
    fn status_goes_out_on_change_and_when_due_not_for_counters_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut r = reports(dir.path());
        let t0 = Instant::now();
        assert!(r.status(t0, false).is_some(), "the first");
        r.h.metrics.inc(&r.h.metrics.parts_ok);
        assert!(r.status(t0, false).is_none(), "a counter alone");
        r.h.metrics.outputs_written(Some(true), None);
        let alarm: Value = serde_json::from_slice(&r.status(t0, false).expect("the alarm changed")).expect("json");
        assert_eq!((alarm["state"].as_str(), alarm["counters"]["parts_ok"].as_u64()), (Some("fault"), Some(1)));
        assert!(r.status(t0 + STATUS_EVERY, false).is_some(), "due");
    }
}
