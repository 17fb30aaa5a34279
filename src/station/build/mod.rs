//! `Station::build`: one validated config (and a command line's overrides) made into a station, every
//! part opened and checked before the first part: the imagers, the model, the trigger, the outputs, the
//! records and the model-swap step. Tests then replace single parts (`with_source`, `wrap_outputs`, ...).

mod models;
mod mqtt;
mod page;
mod sources;
mod trigger;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::health::Health;
use super::pipeline::Imagers;
use super::teach::{Takeover, Teacher};
use super::{model_load, model_swap, Station, StationError};
use crate::config::StationConfig;
use crate::control::{ControlSocket, StationControl};
use crate::inspect::active_recipe::ActiveRecipe;
use crate::inspect::plausibility::FrameChecks;
use crate::inspect::reference_similarity::ReferenceCheck;
use crate::metrics::file::MetricsWriter;
use crate::metrics::StationMetrics;
use crate::model::store::ModelStore;
use crate::runtime::Runtime;
use crate::sinks::echo::Echo;
use crate::sinks::gpio::GpioOutputs;
use crate::sinks::record::RecordSink;
use crate::sources::pairing::PairedSource;
use crate::sources::FrameSource;
use crate::trigger::Trigger;

/// Overrides a command line may put over the config (the replay tool, tests).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// Replay this folder instead of the configured source: once, or in a loop when `max_triggers` is set.
    pub replay: Option<PathBuf>,
    pub rate_hz: Option<f64>,
    pub library: Option<PathBuf>,
    /// Print one line per settled part on stdout.
    pub echo: bool,
    /// Benchmarks: wait for the inference queue instead of shedding load, so the station runs flat out.
    pub saturate: bool,
    /// Offline judging (`cellgate evaluate`): each part is settled as soon as it is judged instead of at
    /// its reject point, so a run ends when its last part is judged.
    pub offline: bool,
    /// Stop after this many triggers.
    pub max_triggers: Option<u64>,
    /// A stop requested while the model loads at start abandons the start (no output is open yet).
    pub stop: Option<Arc<AtomicBool>>,
    /// Vet every model file in a child process running this executable (the `cellgate` binary, which
    /// has `models vet`) before loading it: see `model::vet`. The commands set it to themselves.
    pub vet_with: Option<PathBuf>,
}

/// The control socket; a station that cannot open it runs on without it (it is no part of inspecting),
/// and says so.
fn control_socket(cfg: &StationConfig, control: Arc<StationControl>) -> Option<ControlSocket> {
    match ControlSocket::bind(&cfg.control_socket(), control) {
        Ok(s) => Some(s),
        Err(e) => {
            log::error!("{e}; the station runs without it: `cellgate recipe` and `cellgate teach` cannot reach it");
            None
        }
    }
}

impl Station {
    pub fn build(cfg: StationConfig, ov: &Overrides) -> Result<Self, StationError> {
        // The start loads under the same file rules as every swap: a restart never takes a file a swap
        // would refuse.
        let mut rt = Runtime::load(&cfg.runtime, ov.library.as_deref())?.with_file_policy(Self::file_policy(&cfg)?);
        if let Some(exe) = &ov.vet_with {
            rt = rt.with_vetting(exe.clone());
        }
        // Recipes' references (seal): the config's, plus those a replayed dataset names.
        let own = cfg.inspection.kind().references();
        let judged_against_references = own.is_some();
        let mut references: BTreeMap<String, PathBuf> =
            own.unwrap_or_default().into_iter().map(|(k, p)| (k, cfg.resolve(&p))).collect();
        let source = sources::open(&cfg, ov, &mut references)?;
        // The reference layouts are shared with the teach step, which replaces a taught one.
        let mut layouts = None;
        let checks = match (FrameChecks::new(&cfg.plausibility), cfg.plausibility.min_reference_similarity) {
            (Some(c), Some(min)) if judged_against_references => {
                let check = ReferenceCheck::new(min, &references)?;
                layouts = Some(check.clone());
                Some(c.with_references(check))
            }
            (c, _) => c,
        };
        let recipe_references = references.clone();
        let loader = models::loader(&cfg, references);
        let gate = Station::qualification_gate(&cfg, loader.references().into_keys().collect())?.map(|(g, _)| g);
        let loader = models::gated(loader, gate.as_ref());
        let load_timeout = Duration::from_millis(cfg.model_updates.load_timeout_ms);
        let model = cfg.resolve(cfg.inspection.model());
        log::info!("{}: loading, warming and self-testing", model.display());
        let ticket = gate.as_ref().map(|g| g.begin());
        let inspection = model_load::load_within(&loader, &rt, &model, load_timeout, ov.stop.as_deref())?;
        if let (Some(g), Some(t)) = (&gate, ticket) {
            g.took_over(t); // the start model's figures are what a replacement must not fall below
        }
        let id = inspection.identity();
        log::info!(
            "model {} {} ({} graph) on {}, threshold {}",
            id.name,
            id.version,
            id.graph,
            id.provider,
            inspection.threshold()
        );
        let trigger = trigger::open(&cfg, ov)?;
        let epoch = Instant::now();
        let gpio = cfg.gpio.build(&cfg.base_dir, epoch)?;
        let metrics: Arc<StationMetrics> = Arc::default();
        let mut sinks = cfg.records.build(&cfg.base_dir, &metrics)?;
        if ov.echo {
            sinks.push(Box::new(Echo::stdout()));
        }
        let health: Arc<Health> = Arc::default();
        let metrics_file = MetricsWriter::new(
            &cfg.resolve(&cfg.model_updates.state_dir),
            &cfg.name,
            Duration::from_millis(cfg.metrics.period_ms),
            metrics.clone(),
        )
        .with_stuck_probe(page::stuck_probe(health.clone()));
        log::info!("source: {}; outputs: {}", source.describe(), gpio.describe());
        // Room for a model swap and a taught reference both waiting for the next part.
        let (swap_tx, swap_rx) = crossbeam_channel::bounded(2);
        let model_in_use = model_swap::ModelInUse::new(model_swap::describe(inspection.identity()));
        let recipe = Arc::new(ActiveRecipe::new(cfg.inspection.kind().recipe(), recipe_references.keys().cloned()));
        let load_turn = model_swap::LoadTurn::default();
        let store = Arc::new(std::sync::Mutex::new(ModelStore::open(&cfg.resolve(&cfg.model_updates.state_dir))));
        let takeover = Takeover {
            load_turn: load_turn.clone(),
            loader: loader.clone(),
            rt: rt.clone(),
            model,
            limit: load_timeout,
            tx: swap_tx.clone(),
            layouts,
            gate: gate.clone(),
            store: store.clone(),
        };
        let teacher = Teacher::new(takeover, &metrics).map(Arc::new);
        let writers_teacher = teacher.clone().map(|t| t as Arc<dyn crate::control::Teach>);
        let control = Arc::new(StationControl { recipe: recipe.clone(), teacher: writers_teacher });
        let http = match &cfg.http {
            Some(h) => {
                let view = page::View {
                    control: &control,
                    metrics: &metrics,
                    health: &health,
                    model: &model_in_use,
                    recipes: recipe_references,
                    active: &recipe,
                };
                let (page, feed) = page::bind(&cfg, h, view)?;
                sinks.push(Box::new(feed));
                Some(page)
            }
            None => None,
        };
        let swap = models::swap_step(
            &cfg,
            loader,
            &rt,
            (inspection.identity(), inspection.threshold()),
            swap_tx,
            (metrics.clone(), model_in_use.clone()),
            (load_turn, gate, store),
        )?;
        let control_socket = cfg.control.enabled.then(|| control_socket(&cfg, control)).flatten();
        // After the model store has the loaded model: the first status and model messages name it.
        if let Some(m) = &cfg.mqtt {
            sinks.push(Box::new(mqtt::start(&cfg, m, &metrics, &health, &model_in_use, &recipe)?));
        }
        Ok(Self {
            teacher,
            control_socket,
            swap,
            swap_rx,
            checks,
            timeline: gpio.timeline(),
            cfg,
            inspection,
            source,
            trigger,
            gpio,
            sinks,
            metrics_file,
            epoch,
            saturate: ov.saturate,
            offline: ov.offline,
            max_triggers: ov.max_triggers,
            metrics,
            health,
            model_in_use,
            http,
            recipe,
        })
    }

    /// Where the station page listens (`http.listen`; the port the system chose for `:0`).
    pub fn http_addr(&self) -> Option<std::net::SocketAddr> {
        self.http.as_ref().and_then(|h| h.local_addr())
    }

    /// Replaces the frame source (a camera backend, or a test's faulty source); the rest of the graph
    /// stays as built.
    pub fn with_source(mut self, source: Box<dyn FrameSource>) -> Self {
        self.source = Imagers::Single(source);
        self
    }

    /// Replaces the trigger (a test's photo-eye that dies); the rest stays as built.
    pub fn with_trigger(mut self, trigger: Box<dyn Trigger>) -> Self {
        self.trigger = trigger;
        self
    }

    /// Replaces the electrode station's imagers (a test's faulty pair); the rest stays as built.
    pub fn with_pair(mut self, visible: Box<dyn FrameSource>, xray: Box<dyn FrameSource>, max_skew: Duration) -> Self {
        self.source = Imagers::Pair(PairedSource::new(visible, xray, max_skew));
        self
    }

    /// Adds a record sink after the configured ones: it gets every settled part, in order, and is closed
    /// at the end of the run (a sink the config does not know, such as a test's).
    pub fn with_sink(mut self, sink: Box<dyn RecordSink>) -> Self {
        self.sinks.push(sink);
        self
    }

    /// Wraps the output backend (a test's faulty lines around the configured ones); the rest stays as
    /// built.
    pub fn wrap_outputs(mut self, wrap: impl FnOnce(Box<dyn GpioOutputs>) -> Box<dyn GpioOutputs>) -> Self {
        self.gpio = wrap(self.gpio);
        self.timeline = self.gpio.timeline();
        self
    }
}
