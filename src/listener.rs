//! The look for a connection that the station's local servers (the page's TCP listener, the control
//! socket) share: their listeners are non-blocking, so each server sees its stop flag within `POLL`.

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
