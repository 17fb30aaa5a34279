//! A station: one validated config built into trigger -> capture -> infer -> decide -> actuate + record,
//! each step on its own thread, joined by bounded queues. The demo, the tests and a real station build
//! this same graph; only the source and the GPIO backend differ.

mod build;
pub mod health;
pub mod model_load;
pub mod model_swap;
mod pipeline;

pub mod summary;
pub mod teach;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::StationConfig;
use crate::inspect::plausibility::FrameChecks;
use crate::inspect::{InspectError, Inspection};
use crate::key_problem::KeyProblem;
use crate::metrics::file::{write_periodically, MetricsWriter, RunState};
use crate::metrics::{MetricsSnapshot, StationMetrics};
use crate::runtime::RuntimeError;
use crate::sinks::gpio::timeline::LineChange;
use crate::sinks::gpio::{GpioError, GpioOutputs, OutputLine};
use crate::sinks::record::{RecordSink, SinkError};
use crate::sinks::reject_scheduler::{actuator_channel, record_channel, FaultKind, RejectScheduler, Timing};
use crate::sources::replay::ReplayError;
use crate::sources::v4l2::device::CameraError;
use crate::trigger::photo_eye::TriggerError;
use crate::trigger::Trigger;
pub use build::Overrides;
use health::Health;
use pipeline::Imagers;
pub use summary::Summary;

#[derive(Debug, thiserror::Error)]
pub enum StationError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("inspection: {0}")]
    Inspect(#[from] InspectError),
    #[error("source: {0}")]
    Source(#[from] ReplayError),
    /// A camera refused at start, with its config key (`source`, or `source.visible` of a pair).
    #[error("{key}: camera {source}")]
    Camera { key: String, source: CameraError },
    #[error("trigger: {0}")]
    Trigger(TriggerError),
    #[error("gpio: {0}")]
    Gpio(GpioError),
    #[error(transparent)]
    Sink(SinkError),
    /// A component's config section, given to its `build`, fails its checks (a config changed after
    /// `StationConfig::load` checked it).
    #[error("{0}")]
    Config(KeyProblem),
    #[error("cannot start thread {name}: {source}")]
    Thread { name: &'static str, source: std::io::Error },
    #[error("the {0} thread panicked: station stopped with its outputs safe")]
    Panicked(String),
    #[error(transparent)]
    Watch(#[from] crate::model::watch::WatchError),
    #[error("model_updates.public_key: {0}")]
    Key(#[source] crate::model::integrity::KeyError),
    #[error("model: {0}")]
    Load(#[from] model_load::LoadError),
    #[error(transparent)]
    Http(#[from] crate::sinks::http::HttpError),
    #[error(transparent)]
    Control(crate::control::ControlError),
    #[error(transparent)]
    Mqtt(crate::sinks::mqtt::MqttError),
    #[error("model_updates.golden: {0}")]
    Golden(#[from] crate::inspect::qualification::golden::GoldenError),
    #[error("plausibility.min_reference_similarity: {0}")]
    ReferenceLayout(#[from] crate::inspect::reference_similarity::ReferenceLayoutError),
}

// A component's config problem is the station's config problem, whichever component found it.
impl From<crate::sinks::mqtt::MqttError> for StationError {
    fn from(e: crate::sinks::mqtt::MqttError) -> Self {
        match e {
            crate::sinks::mqtt::MqttError::Config(p) => StationError::Config(p),
            e => StationError::Mqtt(e),
        }
    }
}

impl From<GpioError> for StationError {
    fn from(e: GpioError) -> Self {
        match e {
            GpioError::Config(p) => StationError::Config(p),
            e => StationError::Gpio(e),
        }
    }
}

impl From<TriggerError> for StationError {
    fn from(e: TriggerError) -> Self {
        match e {
            TriggerError::Config(p) => StationError::Config(p),
            e => StationError::Trigger(e),
        }
    }
}

impl From<SinkError> for StationError {
    fn from(e: SinkError) -> Self {
        match e {
            SinkError::Config(p) => StationError::Config(p),
            e => StationError::Sink(e),
        }
    }
}

/// Inference queue depth of a flat-out run, in fixture cycles.
const FLAT_OUT_QUEUE: usize = 16;

/// Everything a station runs with, built and checked before the first part.
pub struct Station {
    cfg: StationConfig,
    inspection: Box<dyn Inspection>,
    source: Imagers,
    trigger: Box<dyn Trigger>,
    gpio: Box<dyn GpioOutputs>,
    /// Where every settled part goes, in this order.
    sinks: Vec<Box<dyn RecordSink>>,
    /// `state_dir/metrics.json`, rewritten every `metrics.period_ms`.
    metrics_file: MetricsWriter,
    epoch: Instant,
    swap: Option<model_swap::ModelSwap>,
    swap_rx: crossbeam_channel::Receiver<model_swap::Candidate>,
    /// Exposure (and, for a seal station, reference) checks of every frame; `None`: off.
    checks: Option<FrameChecks>,
    saturate: bool,
    offline: bool,
    max_triggers: Option<u64>,
    pub timeline: Arc<Mutex<Vec<LineChange>>>,
    /// The metrics registry: counters, latency and outputs, readable at any time while the station runs.
    pub metrics: Arc<StationMetrics>,
    pub health: Arc<Health>,
    /// The model judging parts, as the systemd status line names it (changes with each swap).
    pub model_in_use: model_swap::ModelInUse,
    /// The station page (`http`), served while the station runs.
    http: Option<crate::sinks::http::HttpPage>,
    /// The recipe a camera's parts are judged against; switched at run time.
    pub recipe: Arc<crate::inspect::active_recipe::ActiveRecipe>,
    /// Teaching references (seal): offered frames by capture and inference.
    teacher: Option<Arc<teach::Teacher>>,
    /// The local control socket, served while the station runs.
    control_socket: Option<crate::control::ControlSocket>,
}

/// What a finished run reports.
pub struct RunReport {
    pub summary: Summary,
    pub metrics: MetricsSnapshot,
    pub wall: Duration,
}

/// How long an offline part may wait for inference: a year stands for "no deadline" (an `Instant` plus
/// `Duration::MAX` would overflow).
const OFFLINE_NO_DEADLINE: Duration = Duration::from_secs(365 * 24 * 3600);

impl Station {
    pub fn config(&self) -> &StationConfig {
        &self.cfg
    }

    /// Runs until the source ends or `stop` is set; then drains, settles every part, sets outputs safe.
    pub fn run(self, stop: Arc<AtomicBool>) -> Result<RunReport, StationError> {
        let started = Instant::now();
        let cavities = self.cfg.inspection.cavities();
        let timing =
            Timing { settle_when_judged: self.offline, ..self.cfg.actuation.timing(self.inspection.threshold()) };
        let metrics = self.metrics.clone();
        // Queues: a few fixture cycles of slack before the station sheds load (fail-safe rejects). A
        // flat-out run never sheds load: it queues more and refills the queue half at a time.
        let depth = if self.saturate { FLAT_OUT_QUEUE } else { 4 };
        let (infer_tx, infer_rx) = crossbeam_channel::bounded(depth);
        // Offline, every message is needed now: nothing waits for a reject point.
        let (act_tx, act_rx) = actuator_channel(if self.offline { Duration::ZERO } else { timing.delay });
        let (rec_tx, rec_rx) = record_channel();
        let spawn = |name: &str| std::thread::Builder::new().name(name.into());
        let mut gpio = self.gpio;
        match gpio.set(OutputLine::Ready, true) {
            Ok(()) => metrics.outputs_written(None, Some(true)),
            Err(e) => log::error!("ready output: {e}"),
        }
        let scheduler = RejectScheduler::new(gpio, timing, self.cfg.name.clone(), metrics.clone(), rec_tx);
        let recorder = pipeline::Recorder::new(self.sinks, metrics.clone());
        // Written while the station runs; once more, stopped, with the final counters after it drained.
        let (metrics_done, metrics_rx) = crossbeam_channel::bounded::<()>(0);
        let in_use = self.model_in_use.clone();
        let metrics_file = self.metrics_file;
        let metrics_h = spawn("metrics")
            .spawn(move || write_periodically(metrics_file, &metrics_rx, || in_use.get()))
            .map_err(|source| StationError::Thread { name: "metrics", source })?;
        let rec_h = spawn("record")
            .spawn(move || recorder.run(rec_rx))
            .map_err(|source| StationError::Thread { name: "record", source })?;
        let act_h = spawn("actuate")
            .spawn(move || scheduler.run(act_rx))
            .map_err(|source| StationError::Thread { name: "actuate", source })?;
        let infer = pipeline::Infer {
            inspection: self.inspection,
            act_tx: act_tx.clone(),
            metrics: metrics.clone(),
            // Offline no part has a reject point to miss: each is inferred however long it queued
            // (an emulated or slow model), as the figures need every part judged.
            delay: if self.offline { OFFLINE_NO_DEADLINE } else { timing.delay },
            swaps: self.swap_rx,
            teacher: self.teacher.clone(),
            health: self.health.clone(),
            // The capture loop below runs on this thread.
            refill: self.saturate.then(|| pipeline::Refill { producer: std::thread::current(), at: depth / 2 }),
        };
        let swap_stop = Arc::new(AtomicBool::new(false));
        let swap_h = match self.swap {
            Some(swap) => {
                let st = swap_stop.clone();
                let h = spawn("model-swap")
                    .spawn(move || swap.run(&st))
                    .map_err(|source| StationError::Thread { name: "model-swap", source })?;
                Some(h)
            }
            None => None,
        };
        // The page outlives the line by nothing: it stops once the last part is recorded.
        let page_stop = Arc::new(AtomicBool::new(false));
        let page_h = match self.http {
            Some(page) => Some(page.spawn(page_stop.clone())?),
            None => None,
        };
        let control_h = match self.control_socket {
            Some(socket) => Some(socket.spawn(page_stop.clone()).map_err(StationError::Control)?),
            None => None,
        };
        let infer_h = spawn("infer")
            .spawn(move || infer.run(infer_rx))
            .map_err(|source| StationError::Thread { name: "infer", source })?;

        let mut source = self.source;
        let fault_tx = act_tx.clone();
        source.watch_faults(Box::new(move |fault| {
            let _ = fault_tx.fault(FaultKind::Source, fault.is_some());
        }));
        let capture = pipeline::Capture {
            source,
            trigger: self.trigger,
            cavities,
            epoch: self.epoch,
            recipe: self.recipe.clone(),
            infer_tx,
            act_tx,
            metrics: metrics.clone(),
            health: self.health.clone(),
            saturate: self.saturate,
            max_triggers: self.max_triggers,
            checks: self.checks,
            teacher: self.teacher,
        };
        // The capture loop runs here; when it returns, its senders drop and the threads drain in order.
        capture.run(&stop);
        swap_stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(h) = swap_h {
            let _ = h.join();
        }
        // A panicked thread ends the run with an error (the service exits non-zero and systemd restarts
        // it) once the others have drained: parts in flight are still rejected at their reject points,
        // and the outputs are set safe by the scheduler's exit or, if it was the one that panicked, by
        // the GPIO backend's Drop while it unwound.
        let mut panicked = Vec::new();
        for (name, ok) in [("infer", infer_h.join().is_ok()), ("actuate", act_h.join().is_ok())] {
            if !ok {
                panicked.push(name);
            }
        }
        let summary = rec_h.join().map_err(|_| StationError::Panicked("record".into()));
        page_stop.store(true, std::sync::atomic::Ordering::SeqCst);
        for h in [page_h, control_h].into_iter().flatten() {
            let _ = h.join();
        }
        drop(metrics_done);
        match metrics_h.join() {
            Ok(mut file) => file.write(RunState::Stopped, self.model_in_use.get()),
            Err(_) => log::error!("the metrics thread panicked: no final metrics.json"),
        }
        let summary = summary?;
        if !panicked.is_empty() {
            return Err(StationError::Panicked(panicked.join(" and ")));
        }
        Ok(RunReport { summary, metrics: metrics.snapshot(), wall: started.elapsed() })
    }
}
