//! systemd integration (`Type=notify`): READY once the station is built (models loaded, warmed and
//! self-tested, source and outputs open), `WATCHDOG=1` only while no step is stuck inside a camera read or
//! a model run, a one-line `STATUS=`, and `STOPPING=1` as soon as a stop is requested.
//!
//! Outside systemd (no `NOTIFY_SOCKET`) every call is a no-op, so the demo and the tests use the same path.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sd_notify::NotifyState;

use crate::metrics::StationMetrics;
use crate::station::health::Health;
use crate::station::model_swap::ModelInUse;

/// How often STATUS is refreshed when no watchdog asks for more.
const STATUS_PERIOD: Duration = Duration::from_secs(2);

pub struct Service {
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

struct Watch {
    health: Arc<Health>,
    metrics: Arc<StationMetrics>,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicBool>,
    /// The model judging parts now (a swap changes it).
    model: ModelInUse,
    /// Ping period and the stall limit: systemd restarts us one watchdog timeout after the last ping.
    watchdog: Option<(Duration, Duration)>,
}

fn notify(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        log::warn!("systemd notify failed: {e}");
    }
}

impl Service {
    /// Tells systemd the station is ready and starts the watchdog/status thread.
    pub fn start(
        health: Arc<Health>,
        metrics: Arc<StationMetrics>,
        stop: Arc<AtomicBool>,
        model: ModelInUse,
    ) -> std::io::Result<Self> {
        let done = Arc::new(AtomicBool::new(false));
        if std::env::var_os("NOTIFY_SOCKET").is_none() {
            return Ok(Self { done, thread: None });
        }
        // Ping at a quarter of the timeout; withhold pings once a call has run for half of it.
        let watchdog = sd_notify::watchdog_enabled().map(|t| (t / 4, t / 2));
        let status = format!("ready; model {}", model.get());
        notify(&[NotifyState::Ready, NotifyState::Status(&status)]);
        match watchdog {
            Some((ping, limit)) => log::info!("systemd watchdog: ping every {ping:?}, a step stuck {limit:?} stops it"),
            None => log::info!("systemd notify on; no watchdog configured"),
        }
        let w = Watch { health, metrics, stop, done: done.clone(), model, watchdog };
        let thread = std::thread::Builder::new().name("systemd".into()).spawn(move || w.run())?;
        Ok(Self { done, thread: Some(thread) })
    }

    /// The station has drained and set its outputs safe.
    pub fn finish(mut self) {
        self.done.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Watch {
    fn run(self) {
        let period = self.watchdog.map(|w| w.0.min(STATUS_PERIOD)).unwrap_or(STATUS_PERIOD);
        let mut stopping = false;
        let mut stalled_logged = false;
        let mut last_status = Instant::now();
        while !self.done.load(Ordering::SeqCst) {
            if !stopping && self.stop.load(Ordering::SeqCst) {
                stopping = true;
                notify(&[NotifyState::Stopping, NotifyState::Status("stopping: draining parts in flight")]);
            }
            if let Some((_, limit)) = self.watchdog {
                match self.health.stalled(limit) {
                    None => {
                        stalled_logged = false;
                        notify(&[NotifyState::Watchdog]);
                    }
                    Some((step, age)) => {
                        if !stalled_logged {
                            stalled_logged = true;
                            log::error!(
                                "{} stuck for {age:.1?}: withholding the watchdog so systemd restarts the station",
                                step.name()
                            );
                        }
                        let s = format!("STALLED: {} stuck for {:.0}s", step.name(), age.as_secs_f64());
                        notify(&[NotifyState::Status(&s)]);
                    }
                }
            }
            if !stopping && !stalled_logged && last_status.elapsed() >= STATUS_PERIOD {
                last_status = Instant::now();
                notify(&[NotifyState::Status(&self.status_line())]);
            }
            std::thread::sleep(period.min(Duration::from_millis(250)));
        }
    }

    fn status_line(&self) -> String {
        let m = self.metrics.snapshot();
        format!(
            "parts {} (ok {}, ng {}, late {}, error {}); model {}",
            m.parts_settled,
            m.parts_ok,
            m.parts_ng,
            m.parts_late,
            m.parts_error,
            self.model.get()
        )
    }
}
