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

/// How far a server's threads stand back for the line's threads (nice value, 0..19).
const BESIDE_THE_LINE: i32 = 10;

/// Lowers the calling thread's CPU priority (Linux's nice value is per thread, and threads it spawns
/// inherit it): on two cores busy with inference, a server's work waits for the capture, inference and
/// reject threads instead of delaying a reject pulse. Only lowers this thread's own standing: no privilege.
pub fn stand_beside_the_line(server: &str) {
    // SAFETY: setpriority(2) takes integers and touches no memory of this process; `0` is the calling
    // thread on Linux.
    if unsafe { nix::libc::setpriority(nix::libc::PRIO_PROCESS, 0, BESIDE_THE_LINE) } == -1 {
        log::debug!("{server}: at normal priority: {}", std::io::Error::last_os_error());
    }
}
