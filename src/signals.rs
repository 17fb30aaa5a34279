//! SIGTERM / SIGINT: blocked in every thread and taken by one watcher thread, which sets the stop flag.
//! The station then drains its queues, settles every part in flight, sets outputs safe and exits 0.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use nix::sys::signal::{SigSet, Signal};

/// Must be called before any other thread starts, so that they all inherit the blocked mask.
pub fn install(stop: Arc<AtomicBool>) -> Result<(), nix::Error> {
    let mut set = SigSet::empty();
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGINT);
    set.thread_block()?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            while let Ok(sig) = set.wait() {
                if !stop.swap(true, Ordering::SeqCst) {
                    log::info!("{sig}: stopping (outputs to safe state after the parts in flight)");
                }
            }
        })
        .map(|_| ())
        .map_err(|_| nix::Error::EAGAIN)
}
