//! The photo-eye on a GPIO input: each debounced edge is one trigger, timed by the kernel's timestamp
//! of the edge (not by when this thread woke up), so the frame chosen and the reject point follow the
//! part, not the scheduler.

use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use gpiod::{Active, Bias, EdgeDetect, Options};

use super::Trigger;
use crate::clock::monotonic_to_instant;
use crate::gpio_chip::{ChipError, LineRef, OpenChip};

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

pub struct PhotoEye {
    events: Receiver<Result<Duration, String>>,
    debounce: Duration,
    last: Option<Duration>,
    failed: bool,
}

impl PhotoEye {
    pub fn open(spec: &PhotoEyeSpec) -> Result<Self, ChipError> {
        let chip = OpenChip::open(&spec.chip)?;
        let offset = chip.offset(&spec.line)?;
        chip.check_free(offset, &spec.line)?;
        let mut opts = Options::input([offset])
            .consumer("cellgate-trigger")
            .edge(spec.edge)
            .active(if spec.active_low { Active::Low } else { Active::High });
        if let Some(b) = spec.bias {
            opts = opts.bias(b);
        }
        let mut lines = chip.chip.request_lines(opts).map_err(|e| chip.request_error(offset, &spec.line, e))?;
        let (tx, rx) = crossbeam_channel::bounded(64);
        let name = chip.describe();
        // `gpiod` reads events blocking, with no timeout; a reader thread forwards them so `wait` can
        // still see a stop request. The thread ends with the process (or when the receiver is gone).
        std::thread::Builder::new()
            .name("photo-eye".into())
            .spawn(move || loop {
                let ev = lines.read_event().map(|e| e.time).map_err(|e| format!("{name} line {offset}: {e}"));
                let failed = ev.is_err();
                if tx.send(ev).is_err() || failed {
                    break;
                }
            })
            .map_err(|e| ChipError::Chip { chip: spec.chip.clone(), reason: format!("event thread: {e}") })?;
        Ok(Self { events: rx, debounce: spec.debounce, last: None, failed: false })
    }
}

impl Trigger for PhotoEye {
    fn wait(&mut self, stop: &AtomicBool) -> Option<Instant> {
        loop {
            if stop.load(Ordering::Relaxed) {
                return None;
            }
            match self.events.recv_timeout(Duration::from_millis(20)) {
                Ok(Ok(t)) => {
                    let gap = self.last.map(|l| t.saturating_sub(l));
                    if gap.is_some_and(|g| g < self.debounce) {
                        log::debug!("photo-eye: edge {gap:?} after the last one is bounce, ignored");
                        continue;
                    }
                    self.last = Some(t);
                    return Some(monotonic_to_instant(t));
                }
                Ok(Err(e)) => {
                    log::error!("photo-eye input failed, no more triggers: {e}");
                    self.failed = true;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    if !self.failed {
                        log::error!("photo-eye event thread ended");
                        self.failed = true;
                    }
                    // No trigger can come again; wait for the stop request without spinning.
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }
}
