//! What the station's local servers (the page's TCP listener, the control socket) share: the look for a
//! connection (their listeners are non-blocking, so each server sees its stop flag within `POLL`), and
//! their place beside the line (below the inspection threads on the CPU).

use std::time::Duration;

/// How long a server waits before it looks for a connection, and at its stop flag, again.
pub const POLL: Duration = Duration::from_millis(50);

/// The connection `accepted` holds; none after a `POLL` wait when nothing was waiting, or on an error
/// (logged under `server`) that the next look may not meet.
pub fn connection<C>(accepted: std::io::Result<C>, server: &str) -> Option<C> {
    match accepted {
        Ok(c) => Some(c),
        Err(e) => {
            if e.kind() != std::io::ErrorKind::WouldBlock {
                log::warn!("{server}: {e}");
            }
            std::thread::sleep(POLL);
            None
        }
    }
}

/// The nice value a server's threads take where the kernel refuses them the idle class (a seccomp filter
/// without `sched_setscheduler`): below the line, though a nice thread that has the CPU keeps it for its
/// time slice when a line thread wakes.
const BESIDE_THE_LINE: i32 = 10;

/// Puts the calling thread in Linux's idle scheduling class (`SCHED_IDLE`; the policy is per thread, and
/// threads it spawns inherit it): a line thread that wakes (the reject scheduler at a reject point) takes
/// the CPU from it at once, where a thread at a nice value would keep the CPU to the end of its time slice
/// (measured: the page's 20 clients moved the latest reject pulse from 0.6 to 3.1 ms late at nice 10).
/// On two cores busy with inference the page then waits for the line, never the other way round. Only
/// lowers the thread's own standing: no privilege. Where the idle class is refused, falls back to nice.
pub fn stand_beside_the_line(server: &str) {
    let idle = nix::libc::sched_param { sched_priority: 0 };
    // SAFETY: sched_setscheduler(2) reads the one sched_param passed by reference for the call's length;
    // `0` is the calling thread on Linux.
    if unsafe { nix::libc::sched_setscheduler(0, nix::libc::SCHED_IDLE, &idle) } == 0 {
        return;
    }
    let refused = std::io::Error::last_os_error();
    // SAFETY: setpriority(2) takes integers and touches no memory of this process; `0` is the calling
    // thread on Linux.
    if unsafe { nix::libc::setpriority(nix::libc::PRIO_PROCESS, 0, BESIDE_THE_LINE) } == -1 {
        log::debug!("{server}: at normal priority: idle class: {refused}; nice: {}", std::io::Error::last_os_error());
    } else {
        log::debug!("{server}: at nice {BESIDE_THE_LINE}: idle class: {refused}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_thread_and_the_threads_it_spawns_are_in_the_idle_class() {
        // SAFETY: sched_getscheduler(2) takes an integer; `0` is the calling thread.
        let policy = || unsafe { nix::libc::sched_getscheduler(0) };
        let ours = policy();
        let policies = std::thread::spawn(move || {
            stand_beside_the_line("test");
            let spawned = std::thread::spawn(policy).join().expect("spawned thread");
            (policy(), spawned)
        })
        .join()
        .expect("server thread");
        assert_eq!(policies, (nix::libc::SCHED_IDLE, nix::libc::SCHED_IDLE));
        assert_eq!(policy(), ours, "the server's threads only, not the thread that started it");
    }
}
