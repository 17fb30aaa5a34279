//! Signals: every one whose default action would kill the station (SIGTERM, SIGINT, SIGHUP when the SSH
//! session that started it closes, SIGQUIT, SIGUSR1/2, timers, power, every real-time signal) is blocked
//! in every thread and taken
//! by one watcher thread, which sets the stop flag. The station then drains its queues, settles every part
//! in flight, sets outputs safe and exits 0: a killed station would leave its outputs as they were and
//! lose the parts in flight. SIGPIPE and SIGXFSZ are ignored, so a write to a closed pipe or over the file
//! size limit fails with an error (EPIPE, EFBIG) that the writer handles, instead of killing the process.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use nix::libc;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

/// Signals that stop the station in order. SIGKILL and SIGSTOP cannot be caught; SIGSEGV, SIGBUS,
/// SIGFPE, SIGILL, SIGTRAP and SIGABRT are the process's own faults and keep their default action.
pub const STOPPING: [Signal; 13] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGALRM,
    Signal::SIGVTALRM,
    Signal::SIGPROF,
    Signal::SIGXCPU,
    Signal::SIGPWR,
    Signal::SIGSTKFLT,
    // SIGPOLL: kills by default too (an fd set to O_ASYNC by mistake).
    Signal::SIGIO,
];

/// Must be called before any other thread starts, so that they all inherit the blocked mask.
pub fn install(stop: Arc<AtomicBool>) -> Result<(), nix::Error> {
    let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
    for sig in [Signal::SIGPIPE, Signal::SIGXFSZ] {
        // SAFETY: SIG_IGN installs no handler code; it only changes what the kernel does with the signal.
        unsafe { sigaction(sig, &ignore) }?;
    }
    let set = stopping_set();
    set.thread_block()?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || loop {
            let mut sig: libc::c_int = 0;
            // nix's `SigSet::wait` cannot name a real-time signal (it would end the loop): the raw call.
            // SAFETY: `set` is an initialised signal set and `sig` a valid place for the answer.
            if unsafe { libc::sigwait(set.as_ref(), &mut sig) } != 0 {
                break;
            }
            if !stop.swap(true, Ordering::SeqCst) {
                log::info!("{}: stopping (outputs to safe state after the parts in flight)", name(sig));
            }
        })
        .map(|_| ())
        .map_err(|_| nix::Error::EAGAIN)
}

/// `STOPPING` and every real-time signal (their default action terminates too; `kill -35` by mistake).
fn stopping_set() -> SigSet {
    let mut set = SigSet::empty();
    for sig in STOPPING {
        set.add(sig);
    }
    let mut raw: libc::sigset_t = *set.as_ref();
    // glibc keeps the first real-time signals for itself; SIGRTMIN() is the first one a program may use.
    for n in libc::SIGRTMIN()..=libc::SIGRTMAX() {
        // SAFETY: `raw` is an initialised set and `n` a signal number of this system.
        unsafe { libc::sigaddset(&mut raw, n) };
    }
    // SAFETY: `raw` was initialised by `SigSet::empty` and changed only by `sigaddset`.
    unsafe { SigSet::from_sigset_t_unchecked(raw) }
}

fn name(sig: libc::c_int) -> String {
    match Signal::try_from(sig) {
        Ok(s) => s.to_string(),
        Err(_) => format!("SIGRTMIN+{}", sig - libc::SIGRTMIN()),
    }
}
