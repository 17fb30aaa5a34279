//! The photo-eye on a GPIO input: each debounced edge is one trigger, timed by the kernel's timestamp
//! of the edge (not by when this thread woke up), so the frame chosen and the reject point follow the
//! part, not the scheduler.
//!
//! A photo-eye that dies must not look like an idle line. The input is lost when reading its events
//! fails, or when a probe (once a second while no edge comes) finds the chip gone or the line no longer
//! ours (`edges` reads with `poll`, which wakes when the chip goes, but the probe does not depend on how a
//! kernel reports a removal). The station is
//! told once (`Lost`: alarm on, ready off, the watchdog starved), and the line is requested again with
//! backoff until it works (`Back`).

use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use gpiod::{Active, Options};

use super::TriggerEvent;
use crate::clock::monotonic_to_instant;
use crate::gpio_chip::{ChipError, OpenChip};

mod config;
mod edges;
pub use config::{GpioTriggerConfig, LineBias, TriggerEdge};

/// The consumer label the kernel shows for the photo-eye line; the probe checks the line is still ours.
const CONSUMER: &str = "cellgate-trigger";
/// How often an idle input is probed.
const PROBE_EVERY: Duration = Duration::from_secs(1);
/// How long a quiet line waits before the station is told it is idle (and again after as long).
const IDLE_EVERY: Duration = Duration::from_secs(2);
const REOPEN_MIN: Duration = Duration::from_millis(200);
const REOPEN_MAX: Duration = Duration::from_secs(5);

/// Why the photo-eye input stopped working.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error("photo-eye {0}")]
    Chip(#[from] ChipError),
    #[error("photo-eye {chip} line {line}: reading its edges failed: {source}")]
    Read { chip: String, line: u32, source: std::io::Error },
    #[error("photo-eye {chip} line {line}: the event reader ended")]
    ReaderGone { chip: String, line: u32 },
    #[error("photo-eye {chip} line {line}: no longer held by this station (now: '{consumer}')")]
    Released { chip: String, line: u32, consumer: String },
    /// The `trigger` section given to `build` fails its checks.
    #[error(transparent)]
    Config(#[from] crate::key_problem::KeyProblem),
}

/// A requested line and the thread that forwards its edges; dropping it ends the thread and releases
/// the line (`None`: a scripted line in the tests).
struct Live {
    events: Receiver<std::io::Result<Duration>>,
    chip: String,
    offset: u32,
    last_seen: Instant,
    _reader: Option<edges::Reader>,
}

/// How the photo-eye reaches its line: the GPIO chip on a station, a scripted line in the tests, so the
/// loss and reopen logic is the same code in both.
trait LineAccess: Send {
    /// Requests the line and starts forwarding its edges.
    fn request(&mut self) -> Result<Live, TriggerError>;
    /// Is the line still requested by us on a chip that still exists?
    fn probe(&mut self, live: &Live) -> Result<(), TriggerError>;
}

enum State {
    Live(Live),
    /// `kept` is the request a probe found lost while its reader still runs: if a later probe finds the
    /// line ours again (a glitch reading the chip's line info), it is taken back; requesting the line
    /// anew would fail as busy, held by ourselves.
    Lost {
        kept: Option<Live>,
        retry_at: Instant,
        backoff: Duration,
    },
}

#[derive(Debug, Clone, Copy)]
struct Timing {
    probe_every: Duration,
    idle_every: Duration,
    reopen_min: Duration,
    reopen_max: Duration,
}

const TIMING: Timing =
    Timing { probe_every: PROBE_EVERY, idle_every: IDLE_EVERY, reopen_min: REOPEN_MIN, reopen_max: REOPEN_MAX };

pub struct PhotoEye {
    access: Box<dyn LineAccess>,
    debounce: Duration,
    timing: Timing,
    state: State,
    last_edge: Option<Duration>,
    /// Since when nothing was returned but `Idle`.
    quiet_since: Instant,
}

impl PhotoEye {
    pub fn open(cfg: &GpioTriggerConfig) -> Result<Self, TriggerError> {
        Self::with_access(Box::new(Gpio(cfg.clone())), cfg.debounce(), TIMING)
    }

    fn with_access(mut access: Box<dyn LineAccess>, debounce: Duration, timing: Timing) -> Result<Self, TriggerError> {
        let live = access.request()?;
        Ok(Self { access, debounce, timing, state: State::Live(live), last_edge: None, quiet_since: Instant::now() })
    }

    fn lose(&mut self, why: TriggerError, kept: Option<Live>) -> TriggerEvent {
        log::error!("{why}: no parts can be triggered; alarm on, requesting the line again");
        let backoff = self.timing.reopen_min;
        self.state = State::Lost { kept, retry_at: Instant::now() + backoff, backoff };
        TriggerEvent::Lost(why)
    }

    /// A probe found the line lost: its request is kept, in case the line turns out ours after all.
    fn lose_probed(&mut self, why: TriggerError) -> TriggerEvent {
        let placeholder = State::Lost { kept: None, retry_at: Instant::now(), backoff: Duration::ZERO };
        let kept = match std::mem::replace(&mut self.state, placeholder) {
            State::Live(live) => Some(live),
            State::Lost { kept, .. } => kept,
        };
        self.lose(why, kept)
    }

    /// One attempt to get the line back: the kept request if the line is ours again, else a new one.
    fn reopen(&mut self) -> Option<Live> {
        let State::Lost { kept, retry_at, backoff } = &mut self.state else { return None };
        if let Some(old) = kept.take() {
            match self.access.probe(&old) {
                Ok(()) => return Some(old),
                // Dropped here: its reader ends and the line is released before it is requested anew.
                Err(e) => log::debug!("photo-eye: the old request is gone for good: {e}"),
            }
        }
        match self.access.request() {
            Ok(live) => Some(live),
            Err(e) => {
                log::debug!("photo-eye still lost: {e}");
                *backoff = (*backoff * 2).min(self.timing.reopen_max);
                *retry_at = Instant::now() + *backoff;
                None
            }
        }
    }
}

/// The line on a GPIO chip.
struct Gpio(GpioTriggerConfig);

impl LineAccess for Gpio {
    fn request(&mut self) -> Result<Live, TriggerError> {
        request(&self.0)
    }
    fn probe(&mut self, live: &Live) -> Result<(), TriggerError> {
        probe(&self.0, live)
    }
}

/// Requests the line for edge events and starts the thread that reads them.
fn request(spec: &GpioTriggerConfig) -> Result<Live, TriggerError> {
    let chip = OpenChip::open(&spec.chip)?;
    let offset = chip.offset(&spec.line)?;
    chip.check_free(offset, &spec.line)?;
    let mut opts = Options::input([offset]).consumer(CONSUMER).edge(spec.edge.detect()).active(if spec.active_low {
        Active::Low
    } else {
        Active::High
    });
    if let Some(b) = spec.bias.bias() {
        opts = opts.bias(b);
    }
    let req = edges::request(&chip.path, &chip.chip, opts).map_err(|e| chip.request_error(offset, &spec.line, e))?;
    let (tx, rx) = crossbeam_channel::bounded(64);
    // A reader thread forwards the edges, so that `wait` can still see a stop request.
    let reader = edges::Reader::spawn(req, tx)
        .map_err(|e| ChipError::Chip { chip: spec.chip.clone(), reason: format!("event thread: {e}") })?;
    Ok(Live { events: rx, chip: chip.describe(), offset, last_seen: Instant::now(), _reader: Some(reader) })
}

/// Is the line still requested by us on a chip that still exists?
fn probe(spec: &GpioTriggerConfig, live: &Live) -> Result<(), TriggerError> {
    let chip = OpenChip::open(&spec.chip)?;
    let info = chip.chip.line_info(live.offset).map_err(|source| TriggerError::Read {
        chip: live.chip.clone(),
        line: live.offset,
        source,
    })?;
    if info.used && info.consumer == CONSUMER {
        Ok(())
    } else {
        let consumer = if info.used { info.consumer } else { "nobody".into() };
        Err(TriggerError::Released { chip: live.chip.clone(), line: live.offset, consumer })
    }
}

impl super::Trigger for PhotoEye {
    fn wait(&mut self, stop: &AtomicBool) -> TriggerEvent {
        loop {
            if stop.load(Ordering::Relaxed) {
                return TriggerEvent::Stopped;
            }
            let live = match &mut self.state {
                State::Live(live) => live,
                State::Lost { retry_at, .. } => {
                    if Instant::now() < *retry_at {
                        std::thread::sleep(Duration::from_millis(20));
                        continue;
                    }
                    if let Some(live) = self.reopen() {
                        log::info!("photo-eye {} line {} works again; alarm cleared", live.chip, live.offset);
                        self.state = State::Live(live);
                        return TriggerEvent::Back;
                    }
                    continue;
                }
            };
            match live.events.recv_timeout(Duration::from_millis(20)) {
                Ok(Ok(t)) => {
                    live.last_seen = Instant::now();
                    let gap = self.last_edge.map(|l| t.saturating_sub(l));
                    if gap.is_some_and(|g| g < self.debounce) {
                        log::debug!("photo-eye: edge {gap:?} after the last one is bounce, ignored");
                        continue;
                    }
                    self.last_edge = Some(t);
                    self.quiet_since = Instant::now();
                    return TriggerEvent::Part(monotonic_to_instant(t));
                }
                Ok(Err(source)) => {
                    let why = TriggerError::Read { chip: live.chip.clone(), line: live.offset, source };
                    return self.lose(why, None);
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let why = TriggerError::ReaderGone { chip: live.chip.clone(), line: live.offset };
                    return self.lose(why, None);
                }
                Err(RecvTimeoutError::Timeout) => {
                    if self.quiet_since.elapsed() >= self.timing.idle_every {
                        self.quiet_since = Instant::now();
                        return TriggerEvent::Idle;
                    }
                    if live.last_seen.elapsed() >= self.timing.probe_every {
                        live.last_seen = Instant::now();
                        if let Err(why) = self.access.probe(live) {
                            return self.lose_probed(why);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
