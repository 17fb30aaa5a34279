//! What starts an inspection: free-running at a rate, or the photo-eye on a GPIO input (`photo_eye`).

pub mod photo_eye;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What waiting for the next trigger gave.
#[derive(Debug)]
pub enum TriggerEvent {
    /// A part passed: its time (the kernel's timestamp of the edge for a photo-eye).
    Part(Instant),
    /// The input died (chip gone, line taken from us): no part can be seen until `Back`. Given once per
    /// loss; the trigger tries to come back on its own.
    Lost(photo_eye::TriggerError),
    /// The input works again after `Lost`.
    Back,
    /// No part for a while (the photo-eye says so every 2 s of quiet): a moment to look at the camera
    /// between parts, so a fault that only a frame can clear (a lens cap taken off) clears on a stopped
    /// line too.
    Idle,
    /// `stop` was set.
    Stopped,
}

pub trait Trigger: Send {
    /// Blocks until the next trigger, a change of the input's health, or `stop`.
    fn wait(&mut self, stop: &AtomicBool) -> TriggerEvent;
}

/// Triggers at a fixed rate, on a schedule that does not drift with processing time.
pub struct FreeRun {
    period: Duration,
    next: Option<Instant>,
}

impl FreeRun {
    pub fn new(rate_hz: f64) -> Self {
        Self { period: Duration::from_secs_f64(1.0 / rate_hz), next: None }
    }
}

/// Sleeps until `t` in short slices so a stop request is seen within ~20 ms.
pub fn sleep_until(t: Instant, stop: &AtomicBool) -> bool {
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let now = Instant::now();
        if now >= t {
            return true;
        }
        std::thread::sleep((t - now).min(Duration::from_millis(20)));
    }
}

impl Trigger for FreeRun {
    fn wait(&mut self, stop: &AtomicBool) -> TriggerEvent {
        let now = Instant::now();
        let mut t = self.next.unwrap_or(now);
        if t + self.period < now {
            // Fell behind by more than a period (stalled): restart the schedule, do not burst.
            t = now;
        }
        if !sleep_until(t, stop) {
            return TriggerEvent::Stopped;
        }
        self.next = Some(t + self.period);
        TriggerEvent::Part(t)
    }
}
