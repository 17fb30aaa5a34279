//! A station: one validated config built into trigger -> capture -> infer -> decide -> actuate + record,
//! each step on its own thread, joined by bounded queues. The demo, the tests and a real station build
//! this same graph; only the source and the GPIO backend differ.

pub mod health;
pub mod inspector;
pub mod metrics;
pub mod model_load;
pub mod model_swap;
mod pipeline;
pub mod summary;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::{
    ChardevConfig, GpioConfig, InspectionConfig, LineBias, LineDrive, SourceConfig, StationConfig, TriggerConfig,
    TriggerEdge,
};
use crate::inspect::plausibility::FrameChecks;
use crate::inspect::reference_similarity::ReferenceCheck;
use crate::inspect::seal::ModelIdentity;
use crate::inspect::InspectError;
use crate::model::integrity::{read_public_key, IntegrityPolicy};
use crate::model::store::ModelStore;
use crate::model::watch::ModelWatcher;
use crate::model::FilePolicy;
use crate::runtime::{Runtime, RuntimeError};
use crate::sinks::gpio::chardev::{ChardevGpio, OutputSpec};
use crate::sinks::gpio::sim::SimGpio;
use crate::sinks::gpio::timeline::{LineChange, Timeline};
use crate::sinks::gpio::{GpioError, GpioOutputs, OutputLine, OutputNames};
use crate::sinks::ng_archive::NgArchive;
use crate::sinks::reject_scheduler::{actuator_channel, record_channel, FaultKind, RejectScheduler, Timing};
use crate::sinks::results_log::ResultsLog;
use crate::sources::pairing::PairedSource;
use crate::sources::replay::{ReplayError, ReplaySource};
use crate::sources::v4l2::device::{CameraError, CameraSpec};
use crate::sources::v4l2::{V4l2Settings, V4l2Source};
use crate::sources::FrameSource;
use crate::trigger::photo_eye::{PhotoEye, PhotoEyeSpec};
use crate::trigger::{FreeRun, Trigger};
use health::Health;
use inspector::{Inspector, ModelLoader};
use metrics::{MetricsSnapshot, StationMetrics};
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
    #[error("camera {0}")]
    Camera(#[from] CameraError),
    #[error("trigger: {0}")]
    Trigger(#[from] crate::trigger::photo_eye::TriggerError),
    #[error("gpio: {0}")]
    Gpio(#[from] GpioError),
    #[error("{path}: {source}")]
    Records { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Archive(#[from] crate::sinks::ng_archive::ArchiveError),
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
    #[error("plausibility.min_reference_similarity: {0}")]
    ReferenceLayout(#[from] crate::inspect::reference_similarity::ReferenceLayoutError),
}

/// Inference queue depth of a flat-out run, in fixture cycles.
const FLAT_OUT_QUEUE: usize = 16;

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
    /// Stop after this many triggers.
    pub max_triggers: Option<u64>,
    /// A stop requested while the model loads at start abandons the start (no output is open yet).
    pub stop: Option<Arc<AtomicBool>>,
}

/// Everything a station runs with, built and checked before the first part.
pub struct Station {
    cfg: StationConfig,
    inspector: Inspector,
    source: Imagers,
    trigger: Box<dyn Trigger>,
    gpio: Box<dyn GpioOutputs>,
    results: ResultsLog,
    archive: Option<NgArchive>,
    epoch: Instant,
    echo: bool,
    swap: Option<model_swap::ModelSwap>,
    swap_rx: crossbeam_channel::Receiver<model_swap::Candidate>,
    /// Exposure (and, for a seal station, reference) checks of every frame; `None`: off.
    checks: Option<FrameChecks>,
    saturate: bool,
    max_triggers: Option<u64>,
    pub timeline: Arc<Mutex<Vec<LineChange>>>,
    pub metrics: Arc<StationMetrics>,
    pub health: Arc<Health>,
    /// The model judging parts, as the systemd status line names it (changes with each swap).
    pub model_in_use: model_swap::ModelInUse,
}

/// What a finished run reports.
pub struct RunReport {
    pub summary: Summary,
    pub metrics: MetricsSnapshot,
    pub wall: Duration,
}

impl Station {
    pub fn build(cfg: StationConfig, ov: &Overrides) -> Result<Self, StationError> {
        // The start loads under the same file rules as every swap: a restart never takes a file a swap
        // would refuse.
        let rt = Runtime::load(&cfg.runtime, ov.library.as_deref())?.with_file_policy(Self::file_policy(&cfg)?);
        // Seal recipes: the config's, plus those a replayed dataset names (its references).
        let mut references: BTreeMap<String, PathBuf> = cfg
            .seal()
            .map(|seal| seal.recipes.iter().map(|(k, r)| (k.clone(), cfg.resolve(&r.reference))).collect())
            .unwrap_or_default();
        let source = match (&cfg.inspection, &ov.replay, &cfg.source) {
            (InspectionConfig::Electrode(_), Some(dir), _) => Self::coco(dir, ov.max_triggers.is_some())?,
            (InspectionConfig::Electrode(_), None, SourceConfig::Coco { path, r#loop }) => {
                Self::coco(&cfg.resolve(path), *r#loop)?
            }
            // A replay with a part count loops until it is reached.
            (_, Some(dir), _) => Imagers::Single(Box::new(Self::replay(
                ReplaySource::open(dir, ov.max_triggers.is_some())?,
                &mut references,
            ))),
            (_, None, SourceConfig::Pair { visible, xray, max_skew_ms }) => Imagers::Pair(PairedSource::new(
                Self::imager(&cfg, visible, &mut references)?,
                Self::imager(&cfg, xray, &mut references)?,
                Duration::from_millis(*max_skew_ms),
            )),
            (_, None, src) => Imagers::Single(Self::imager(&cfg, src, &mut references)?),
        };
        let checks = match (FrameChecks::new(&cfg.plausibility), cfg.plausibility.min_reference_similarity) {
            (Some(c), Some(min)) if cfg.seal().is_some() => {
                Some(c.with_references(ReferenceCheck::new(min, &references)?))
            }
            (c, _) => c,
        };
        let loader = ModelLoader::new(&cfg, references);
        let load_timeout = Duration::from_millis(cfg.model_updates.load_timeout_ms);
        let model = cfg.resolve(cfg.inspection.model());
        log::info!("{}: loading, warming and self-testing", model.display());
        let inspector = model_load::load_within(&loader, &rt, &model, load_timeout, ov.stop.as_deref())?;
        let id = inspector.identity();
        log::info!(
            "model {} {} ({} graph) on {}, threshold {}",
            id.name,
            id.version,
            id.graph,
            id.provider,
            inspector.threshold()
        );
        let trigger: Box<dyn Trigger> = match (&cfg.trigger, ov.replay.is_some()) {
            (TriggerConfig::FreeRun { rate_hz }, _) => Box::new(FreeRun::new(ov.rate_hz.unwrap_or(*rate_hz))),
            // A replay is paced by the tool, not by parts passing the photo-eye.
            (TriggerConfig::Gpio(_), true) => Box::new(FreeRun::new(ov.rate_hz.unwrap_or(20.0))),
            (TriggerConfig::Gpio(g), false) => Box::new(PhotoEye::open(&PhotoEyeSpec {
                chip: g.chip.clone(),
                line: g.line.clone(),
                edge: match g.edge {
                    TriggerEdge::Rising => gpiod::EdgeDetect::Rising,
                    TriggerEdge::Falling => gpiod::EdgeDetect::Falling,
                    TriggerEdge::Both => gpiod::EdgeDetect::Both,
                },
                active_low: g.active_low,
                bias: match g.bias {
                    LineBias::AsIs => None,
                    LineBias::Disabled => Some(gpiod::Bias::Disable),
                    LineBias::PullUp => Some(gpiod::Bias::PullUp),
                    LineBias::PullDown => Some(gpiod::Bias::PullDown),
                },
                debounce: Duration::from_millis(g.debounce_ms),
            })?),
        };
        let epoch = Instant::now();
        let gpio = Self::outputs(&cfg, epoch)?;
        let results_path = cfg.resolve(&cfg.records.results);
        let results = ResultsLog::open(&results_path)
            .map_err(|source| StationError::Records { path: results_path.clone(), source })?;
        let archive = match &cfg.records.archive {
            Some(a) => {
                let dir = cfg.resolve(&a.dir);
                Some(NgArchive::open(&dir, a.quota_bytes, a.min_free_bytes)?)
            }
            None => None,
        };
        log::info!("source: {}; outputs: {}", source.describe(), gpio.describe());
        let metrics: Arc<StationMetrics> = Arc::default();
        let (swap_tx, swap_rx) = crossbeam_channel::bounded(1);
        let model_in_use = model_swap::ModelInUse::new(model_swap::describe(inspector.identity()));
        let swap = Self::model_swap(
            &cfg,
            loader,
            &rt,
            (inspector.identity(), inspector.threshold()),
            swap_tx,
            (metrics.clone(), model_in_use.clone()),
        )?;
        Ok(Self {
            swap,
            swap_rx,
            checks,
            timeline: gpio.timeline(),
            cfg,
            inspector,
            source,
            trigger,
            gpio,
            results,
            archive,
            epoch,
            echo: ov.echo,
            saturate: ov.saturate,
            max_triggers: ov.max_triggers,
            metrics,
            health: Arc::default(),
            model_in_use,
        })
    }

    /// One camera (or a replayed folder) as the config describes it.
    fn imager(
        cfg: &StationConfig,
        src: &SourceConfig,
        references: &mut BTreeMap<String, PathBuf>,
    ) -> Result<Box<dyn FrameSource>, StationError> {
        Ok(match src {
            SourceConfig::Replay { path, r#loop } => {
                Box::new(Self::replay(ReplaySource::open(&cfg.resolve(path), *r#loop)?, references))
            }
            SourceConfig::V4l2(v) => Box::new(V4l2Source::open(V4l2Settings {
                camera: CameraSpec {
                    device: v.device.clone(),
                    format: v.format,
                    width: v.width,
                    height: v.height,
                    fps: v.fps,
                    controls: v.controls.clone(),
                },
                buffers: v.buffers,
                timeout: Duration::from_millis(v.timeout_ms),
                reconnect_min: Duration::from_millis(v.reconnect_min_ms),
                reconnect_max: Duration::from_millis(v.reconnect_max_ms),
            })?),
            SourceConfig::Coco { .. } | SourceConfig::Pair { .. } => {
                return Err(StationError::Source(ReplayError::Empty(PathBuf::from("(a pair is not one imager)"))))
            }
        })
    }

    /// Electrode pairs replayed from a COCO folder (exposures are simultaneous by construction).
    fn coco(dir: &std::path::Path, looped: bool) -> Result<Imagers, StationError> {
        let (visible, xray) = ReplaySource::open_coco(dir, looped)?;
        Ok(Imagers::Pair(PairedSource::new(Box::new(visible), Box::new(xray), Duration::from_secs(1))))
    }

    /// A replayed dataset's recipes join the configured ones.
    fn replay(source: ReplaySource, references: &mut BTreeMap<String, PathBuf>) -> ReplaySource {
        for (k, p) in &source.references {
            references.entry(k.clone()).or_insert_with(|| p.clone());
        }
        source
    }

    /// The output backend the config names, every line requested in its safe state.
    fn outputs(cfg: &StationConfig, epoch: Instant) -> Result<Box<dyn GpioOutputs>, StationError> {
        Ok(match &cfg.gpio {
            GpioConfig::Sim { timeline, reject, alarm, ready, markers } => {
                let timeline = Timeline::new(epoch, timeline.as_ref().map(|p| cfg.resolve(p)).as_deref())?;
                let names = OutputNames {
                    reject: reject.clone(),
                    alarm: alarm.clone(),
                    ready: ready.clone(),
                    markers: markers.clone(),
                };
                Box::new(SimGpio::new(names, timeline))
            }
            GpioConfig::Chardev(ChardevConfig { chip, reject, alarm, ready, markers, timeline }) => {
                let timeline = Timeline::new(epoch, timeline.as_ref().map(|p| cfg.resolve(p)).as_deref())?;
                let lines: Vec<_> =
                    reject.iter().chain(std::iter::once(alarm)).chain(ready).chain(markers.values()).collect();
                let specs: Vec<OutputSpec> = lines
                    .iter()
                    .map(|l| OutputSpec {
                        line: l.line.clone(),
                        active_low: l.active_low,
                        drive: match l.drive {
                            LineDrive::PushPull => gpiod::Drive::PushPull,
                            LineDrive::OpenDrain => gpiod::Drive::OpenDrain,
                            LineDrive::OpenSource => gpiod::Drive::OpenSource,
                        },
                    })
                    .collect();
                // Lines are named by role in the timeline and as the kernel's consumer label.
                let names = OutputNames {
                    reject: (0..reject.len()).map(|i| format!("reject{i}")).collect(),
                    alarm: "alarm".into(),
                    ready: ready.as_ref().map(|_| "ready".into()),
                    markers: markers.keys().cloned().collect(),
                };
                Box::new(ChardevGpio::open(chip, &specs, names, timeline)?)
            }
        })
    }

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
        })
    }

    /// The model-swap step, when the config asks for it; records the model in use either way.
    fn model_swap(
        cfg: &StationConfig,
        loader: ModelLoader,
        rt: &Runtime,
        (identity, threshold): (&ModelIdentity, f32),
        tx: crossbeam_channel::Sender<model_swap::Candidate>,
        (metrics, in_use): (Arc<StationMetrics>, model_swap::ModelInUse),
    ) -> Result<Option<model_swap::ModelSwap>, StationError> {
        let mu = &cfg.model_updates;
        let model_path = cfg.resolve(cfg.inspection.model());
        let mut store = ModelStore::open(&cfg.resolve(&mu.state_dir));
        let files: Vec<PathBuf> =
            model_swap::ModelSwap::files(&model_path).into_iter().filter(|p| p.is_file()).collect();
        store.keep_active(&files, false);
        store.record("loaded", &model_path, format!("{} {}", identity.name, identity.version));
        store.set_active(model_swap::active_model(&model_path, identity, threshold));
        if !mu.watch {
            return Ok(None);
        }
        let dir = model_path.parent().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
        let watcher =
            ModelWatcher::new(&dir, &model_swap::ModelSwap::files(&model_path), Duration::from_millis(mu.settle_ms))?;
        Ok(Some(model_swap::ModelSwap {
            rt: rt.clone(),
            loader,
            active_set: model_swap::ModelSwap::set_sha256(&model_path, mu.max_model_bytes),
            model_path,
            watcher,
            store,
            tx,
            load_timeout: Duration::from_millis(mu.load_timeout_ms),
            threshold,
            in_use,
            metrics,
        }))
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

    /// Wraps the output backend (a test's faulty lines around the configured ones); the rest stays as
    /// built.
    pub fn wrap_outputs(mut self, wrap: impl FnOnce(Box<dyn GpioOutputs>) -> Box<dyn GpioOutputs>) -> Self {
        self.gpio = wrap(self.gpio);
        self.timeline = self.gpio.timeline();
        self
    }

    pub fn config(&self) -> &StationConfig {
        &self.cfg
    }

    /// "name version on provider" of the model the station starts with.
    pub fn model_description(&self) -> String {
        model_swap::describe(self.inspector.identity())
    }

    /// Runs until the source ends or `stop` is set; then drains, settles every part, sets outputs safe.
    pub fn run(self, stop: Arc<AtomicBool>) -> Result<RunReport, StationError> {
        let started = Instant::now();
        let cavities = self.cfg.inspection.cavities();
        let a = &self.cfg.actuation;
        let timing = Timing {
            delay: Duration::from_millis(a.delay_ms),
            pulse: Duration::from_millis(a.pulse_ms),
            reject_on_fault: a.reject_on_fault,
            threshold: self.inspector.threshold(),
            overload_window: a.overload_window as usize,
            overload_max_share: a.overload_max_share,
        };
        let metrics = self.metrics.clone();
        // Queues: a few fixture cycles of slack before the station sheds load (fail-safe rejects). A
        // flat-out run never sheds load: it queues more and refills the queue half at a time.
        let depth = if self.saturate { FLAT_OUT_QUEUE } else { 4 };
        let (infer_tx, infer_rx) = crossbeam_channel::bounded(depth);
        let (act_tx, act_rx) = actuator_channel(timing.delay);
        let (rec_tx, rec_rx) = record_channel();
        let spawn = |name: &str| std::thread::Builder::new().name(name.into());
        let mut gpio = self.gpio;
        if let Err(e) = gpio.set(OutputLine::Ready, true) {
            log::error!("ready output: {e}");
        }
        let scheduler = RejectScheduler::new(gpio, timing, self.cfg.name.clone(), metrics.clone(), rec_tx);
        let recorder = pipeline::Recorder::new(self.results, self.archive, metrics.clone(), self.echo);
        let rec_h = spawn("record")
            .spawn(move || recorder.run(rec_rx))
            .map_err(|source| StationError::Thread { name: "record", source })?;
        let act_h = spawn("actuate")
            .spawn(move || scheduler.run(act_rx))
            .map_err(|source| StationError::Thread { name: "actuate", source })?;
        let infer = pipeline::Infer {
            inspector: self.inspector,
            act_tx: act_tx.clone(),
            metrics: metrics.clone(),
            delay: timing.delay,
            swaps: self.swap_rx,
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
        let infer_h = spawn("infer")
            .spawn(move || infer.run(infer_rx))
            .map_err(|source| StationError::Thread { name: "infer", source })?;
        let default_recipe: Arc<str> = self.cfg.seal().map(|s| s.recipe.as_str()).unwrap_or("electrode").into();
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
            default_recipe,
            infer_tx,
            act_tx,
            metrics: metrics.clone(),
            health: self.health.clone(),
            saturate: self.saturate,
            max_triggers: self.max_triggers,
            checks: self.checks,
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
        let summary = rec_h.join().map_err(|_| StationError::Panicked("record".into()))?;
        if !panicked.is_empty() {
            return Err(StationError::Panicked(panicked.join(" and ")));
        }
        Ok(RunReport { summary, metrics: metrics.snapshot(), wall: started.elapsed() })
    }
}
