//! A logger for the unit tests that keeps every message with the thread that logged it, so that a test can
//! read what its own threads said (the tests of one binary run in parallel in one process).

use std::sync::{Mutex, Once, PoisonError};
use std::thread::ThreadId;

static KEPT: Mutex<Vec<(ThreadId, log::Level, String)>> = Mutex::new(Vec::new());

struct Keep;

impl log::Log for Keep {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        let line = (std::thread::current().id(), record.level(), record.args().to_string());
        KEPT.lock().unwrap_or_else(PoisonError::into_inner).push(line);
    }
    fn flush(&self) {}
}

/// Keeps what every thread logs from now on (once per process; a logger set before stays).
pub fn start() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if log::set_logger(&Keep).is_ok() {
            log::set_max_level(log::LevelFilter::Info);
        }
    });
}

/// The messages `thread` logged at `level`.
pub fn said(thread: ThreadId, level: log::Level) -> Vec<String> {
    let kept = KEPT.lock().unwrap_or_else(PoisonError::into_inner);
    kept.iter().filter(|(t, l, _)| *t == thread && *l == level).map(|(_, _, m)| m.clone()).collect()
}
