//! What starts an inspection: free-running at a rate (`free_run`), or the photo-eye on a GPIO input
//! (`photo_eye`); `config` is the `trigger` section that chooses one.

mod config;
pub mod free_run;
pub mod photo_eye;

pub use config::TriggerConfig;
pub use free_run::{FreeRun, RATE_HZ};

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
