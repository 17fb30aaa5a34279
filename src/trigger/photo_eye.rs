//! The photo-eye on a GPIO input: each debounced edge is one trigger, timed by the kernel's timestamp
//! of the edge (not by when this thread woke up), so the frame chosen and the reject point follow the
//! part, not the scheduler.
//!
//! A photo-eye that dies must not look like an idle line. The input is lost when reading its events
//! fails, or when a probe (once a second while no edge comes) finds the chip gone or the line no longer
//! ours: a blocked event read does not return on every kernel when its chip is removed. The station is
//! told once (`Lost`: alarm on, ready off, the watchdog starved), and the line is requested again with
//! backoff until it works (`Back`).

use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use gpiod::{Active, Bias, EdgeDetect, Options};

use super::TriggerEvent;
use crate::clock::monotonic_to_instant;
use crate::gpio_chip::{ChipError, LineRef, OpenChip};

/// The consumer label the kernel shows for the photo-eye line; the probe checks the line is still ours.
const CONSUMER: &str = "cellgate-trigger";
/// How often an idle input is probed.
const PROBE_EVERY: Duration = Duration::from_secs(1);
const REOPEN_MIN: Duration = Duration::from_millis(200);
const REOPEN_MAX: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct PhotoEyeSpec {
    pub chip: String,
    pub line: LineRef,
    pub edge: EdgeDetect,
    pub active_low: bool,
    pub bias: Option<Bias>,
    /// Edges closer than this to the last accepted one are contact bounce, ignored.
    pub debounce: Duration,
}

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
}

/// A requested line and the thread that forwards its edges.
struct Live {
    events: Receiver<std::io::Result<Duration>>,
    chip: String,
    offset: u32,
    last_seen: Instant,
}

enum State {
    Live(Live),
    Lost { retry_at: Instant, backoff: Duration },
}

pub struct PhotoEye {
    spec: PhotoEyeSpec,
    state: State,
    last_edge: Option<Duration>,
}

impl PhotoEye {
    pub fn open(spec: &PhotoEyeSpec) -> Result<Self, TriggerError> {
        let live = request(spec)?;
        Ok(Self { spec: spec.clone(), state: State::Live(live), last_edge: None })
    }

    fn lose(&mut self, why: TriggerError) -> TriggerEvent {
        log::error!("{why}: no parts can be triggered; alarm on, requesting the line again");
        self.state = State::Lost { retry_at: Instant::now() + REOPEN_MIN, backoff: REOPEN_MIN };
        TriggerEvent::Lost(why)
    }
}

/// Requests the line for edge events and starts the thread that reads them.
fn request(spec: &PhotoEyeSpec) -> Result<Live, TriggerError> {
    let chip = OpenChip::open(&spec.chip)?;
    let offset = chip.offset(&spec.line)?;
    chip.check_free(offset, &spec.line)?;
    let mut opts = Options::input([offset]).consumer(CONSUMER).edge(spec.edge).active(if spec.active_low {
        Active::Low
    } else {
        Active::High
    });
    if let Some(b) = spec.bias {
        opts = opts.bias(b);
    }
    let mut lines = chip.chip.request_lines(opts).map_err(|e| chip.request_error(offset, &spec.line, e))?;
    let (tx, rx) = crossbeam_channel::bounded(64);
    // `gpiod` reads events blocking, with no timeout; a reader thread forwards them so `wait` can still
    // see a stop request. The thread ends with the process, at a read error, or when the receiver is gone.
    std::thread::Builder::new()
        .name("photo-eye".into())
        .spawn(move || loop {
            let ev = lines.read_event().map(|e| e.time);
            let failed = ev.is_err();
            if tx.send(ev).is_err() || failed {
                break;
            }
        })
        .map_err(|e| ChipError::Chip { chip: spec.chip.clone(), reason: format!("event thread: {e}") })?;
    Ok(Live { events: rx, chip: chip.describe(), offset, last_seen: Instant::now() })
}

/// Is the line still requested by us on a chip that still exists?
fn probe(spec: &PhotoEyeSpec, live: &Live) -> Result<(), TriggerError> {
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
                State::Lost { retry_at, backoff } => {
                    if Instant::now() < *retry_at {
                        std::thread::sleep(Duration::from_millis(20));
                        continue;
                    }
                    match request(&self.spec) {
                        Ok(live) => {
                            log::info!("photo-eye {} line {} works again; alarm cleared", live.chip, live.offset);
                            self.state = State::Live(live);
                            return TriggerEvent::Back;
                        }
                        Err(e) => {
                            log::debug!("photo-eye still lost: {e}");
                            *backoff = (*backoff * 2).min(REOPEN_MAX);
                            *retry_at = Instant::now() + *backoff;
                            continue;
                        }
                    }
                }
            };
            match live.events.recv_timeout(Duration::from_millis(20)) {
                Ok(Ok(t)) => {
                    live.last_seen = Instant::now();
                    let gap = self.last_edge.map(|l| t.saturating_sub(l));
                    if gap.is_some_and(|g| g < self.spec.debounce) {
                        log::debug!("photo-eye: edge {gap:?} after the last one is bounce, ignored");
                        continue;
                    }
                    self.last_edge = Some(t);
                    return TriggerEvent::Part(monotonic_to_instant(t));
                }
                Ok(Err(source)) => {
                    let why = TriggerError::Read { chip: live.chip.clone(), line: live.offset, source };
                    return self.lose(why);
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let why = TriggerError::ReaderGone { chip: live.chip.clone(), line: live.offset };
                    return self.lose(why);
                }
                Err(RecvTimeoutError::Timeout) => {
                    if live.last_seen.elapsed() >= PROBE_EVERY {
                        live.last_seen = Instant::now();
                        if let Err(why) = probe(&self.spec, live) {
                            return self.lose(why);
                        }
                    }
                }
            }
        }
    }
}
