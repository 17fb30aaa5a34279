//! The fleet connection over MQTT (issue 22): every settled part to `<prefix>/<station>/part` (the
//! results log's record, QoS 1, nothing lost while the broker is away: `spool`), availability with a Last
//! Will, the station's status and model events (retained), and recipe commands on `recipe/set` through
//! the station's one recipe switch.
//!
//! A record sink beside the line, not in it: `record` only queues the part's JSON for the MQTT thread
//! (`publisher`), which spools and sends it; a broker that is slow or away never reaches the recorder.
//! `session`: one connection (options, TLS, the thread driving it); `reports`: status, model events and
//! recipe commands.

mod config;
mod publisher;
mod reports;
mod session;
mod spool;

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Sender, TrySendError};
use rumqttc::QoS;

pub use config::{MqttConfig, TlsConfig};
pub use reports::{StationHandles, STATUS_EVERY};

use crate::key_problem::KeyProblem;
use crate::metrics::{Counter, StationMetrics};
use crate::part::PartRecord;
use crate::sinks::record::RecordSink;
use crate::sinks::results_log::record_json;
use publisher::{Counters, Publisher};
use session::SessionEvent;

/// Parts queued from the recorder to the MQTT thread; beyond it a part is dropped and counted (the
/// thread only writes a local file per part, so this fills only when that disk hangs).
const QUEUE: usize = 4096;
/// How long the start waits for the first connection: long enough to tell a wrong CA or refused
/// credentials (the start fails), short enough that a broker that is away does not hold up the line.
const FIRST_CONNECT: Duration = Duration::from_secs(3);
/// The spool's file under `model_updates.state_dir`.
pub const SPOOL_FILE: &str = "mqtt-spool.jsonl";

#[derive(Debug, thiserror::Error)]
pub enum MqttError {
    #[error(transparent)]
    Config(#[from] KeyProblem),
    #[error("mqtt.password_file: {path}: {problem}")]
    Password { path: PathBuf, problem: String },
    #[error("mqtt.{key}: {path}: {problem}")]
    Tls { key: &'static str, path: PathBuf, problem: String },
    /// The first connection was refused for a reason another try will not mend.
    #[error("mqtt: {host}:{port} refused at start: {reason}")]
    Refused { host: String, port: u16, reason: String },
    #[error("mqtt: spool {path}: {source}")]
    Spool { path: PathBuf, source: std::io::Error },
    #[error("mqtt: cannot start its thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// The topics of one station.
#[derive(Debug, Clone)]
pub struct Topics {
    pub availability: String,
    pub part: String,
    pub status: String,
    pub model: String,
    pub recipe_set: String,
    pub recipe_state: String,
}

impl Topics {
    pub fn new(prefix: &str, station: &str) -> Self {
        let t = |leaf: &str| format!("{prefix}/{station}/{leaf}");
        Self {
            availability: t("availability"),
            part: t("part"),
            status: t("status"),
            model: t("model"),
            recipe_set: t("recipe/set"),
            recipe_state: t("recipe/state"),
        }
    }
}

/// The record sink: hands each part's JSON to the MQTT thread.
pub struct MqttSink {
    tx: Option<Sender<Vec<u8>>>,
    thread: Option<JoinHandle<()>>,
    dropped: Counter,
    /// A full queue is logged once per streak.
    full: bool,
}

impl MqttSink {
    /// Checks the section, opens the spool, registers the counters and makes the first connection (a
    /// wrong CA or refused credentials fail the start here; a broker that is away does not), then starts
    /// the MQTT thread. `base_dir`: where relative paths start.
    pub fn start(cfg: &MqttConfig, base_dir: &Path, h: StationHandles) -> Result<Self, MqttError> {
        cfg.validate(base_dir).map_err(|p| p.under("mqtt"))?;
        if h.station.contains(['/', '+', '#', '\0']) {
            return Err(KeyProblem::new(
                "name",
                "a station name with mqtt must not contain / + # (it is a topic level)",
            )
            .into());
        }
        let topics = Topics::new(&cfg.topic_prefix, &h.station);
        let opts = session::options(cfg, base_dir, &h.station, &topics.availability)?;
        let spool_path = h.state_dir.join(SPOOL_FILE);
        let spool_err = |source| MqttError::Spool { path: spool_path.clone(), source };
        std::fs::create_dir_all(&h.state_dir).map_err(spool_err)?;
        let spool = spool::Spool::open(&spool_path, cfg.spool_bytes).map_err(spool_err)?;
        if !spool.is_empty() {
            log::info!("mqtt: {} parts left in the spool by the last run are sent first", spool.len());
        }
        let counters = register(&h.metrics);
        let dropped = counters.dropped.clone();
        let qos = if cfg.qos == 2 { QoS::ExactlyOnce } else { QoS::AtLeastOnce };
        let (tx, rx) = crossbeam_channel::bounded(QUEUE);
        let mut p = Publisher::new(opts, topics, qos, spool, rx, counters, reports::Reports::new(h));
        first_connection(&mut p, cfg)?;
        let thread =
            std::thread::Builder::new().name("mqtt".into()).spawn(move || p.run()).map_err(MqttError::Thread)?;
        Ok(Self { tx: Some(tx), thread: Some(thread), dropped, full: false })
    }
}

/// Connects once and waits for the answer: a configuration error fails the start; a broker away or
/// slow leaves the publisher to retry with backoff.
fn first_connection(p: &mut Publisher, cfg: &MqttConfig) -> Result<(), MqttError> {
    p.connect();
    match p.events.recv_timeout(FIRST_CONNECT) {
        Ok(SessionEvent::Lost { error, fatal: true, .. }) => {
            Err(MqttError::Refused { host: cfg.host.clone(), port: cfg.port(), reason: error })
        }
        Ok(ev) => {
            p.on_event(ev);
            Ok(())
        }
        Err(_) => {
            log::warn!("mqtt: {}:{} has not answered yet; parts are spooled until it does", cfg.host, cfg.port());
            Ok(())
        }
    }
}

fn register(m: &StationMetrics) -> Counters {
    let c = |name| m.register(name).unwrap_or_default();
    Counters {
        published: c("mqtt_published"),
        spooled: c("mqtt_spooled"),
        dropped: c("mqtt_dropped"),
        reconnects: c("mqtt_reconnects"),
    }
}

impl RecordSink for MqttSink {
    fn name(&self) -> &str {
        "mqtt"
    }

    fn record(&mut self, part: &PartRecord) {
        let Some(tx) = &self.tx else { return };
        let json = match record_json(part) {
            Ok(j) => j,
            Err(e) => {
                self.dropped.inc();
                return log::error!("mqtt: part {} not sent: {e}", part.part);
            }
        };
        match tx.try_send(json) {
            Ok(()) => self.full = false,
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped.inc();
                if !self.full {
                    log::error!("mqtt: its thread is not keeping up; parts dropped (counted as mqtt_dropped)");
                    self.full = true;
                }
            }
        }
    }

    /// Lets the MQTT thread send what waits (a few seconds at most) and say `offline`.
    fn close(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                log::error!("mqtt: its thread panicked; unsent parts stay in the spool");
            }
        }
    }
}

impl Drop for MqttSink {
    fn drop(&mut self) {
        self.close();
    }
}
