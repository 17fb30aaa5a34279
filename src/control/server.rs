//! The socket's server: one thread accepts, each connection has a thread of its own (at most
//! `MAX_CONNECTIONS` at once), reads one request line (bounded in size and time), answers it and closes.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::{Answer, Request, StationControl};

/// Connections served at once; one more is answered "busy".
const MAX_CONNECTIONS: usize = 8;
/// A request line is at most this long.
const MAX_REQUEST: u64 = 4096;
/// A request must arrive, and an answer go out, within this.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("control.socket {path}: cannot listen: {source}")]
    Listen { path: PathBuf, source: std::io::Error },
    #[error("control.socket {path}: another station answers on it")]
    InUse { path: PathBuf },
    #[error("control socket: cannot start its thread: {0}")]
    Thread(#[source] std::io::Error),
    #[error(
        "cannot reach the station at {path}: {source} (is it running? `cellgate status` tells; the socket is \
         control.socket, by default model_updates.state_dir/control.sock)"
    )]
    Unreachable { path: PathBuf, source: std::io::Error },
    #[error("{path}: no answer from the station: {source}")]
    NoAnswer { path: PathBuf, source: std::io::Error },
    #[error("{path}: the station closed the connection without an answer (it is stopping?)")]
    Closed { path: PathBuf },
    #[error("{path}: the station's answer is not understood: {source}")]
    BadAnswer { path: PathBuf, source: serde_json::Error },
}

/// The socket, listening, not yet serving.
pub struct ControlSocket {
    listener: UnixListener,
    path: PathBuf,
    control: Arc<StationControl>,
}

impl ControlSocket {
    /// Listens on `path` (0660). A socket file left by a station that is gone is replaced; one another
    /// station answers on is not.
    pub fn bind(path: &Path, control: Arc<StationControl>) -> Result<Self, ControlError> {
        let listen = |source| ControlError::Listen { path: path.to_path_buf(), source };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(listen)?;
        }
        if path.symlink_metadata().is_ok() {
            if UnixStream::connect(path).is_ok() {
                return Err(ControlError::InUse { path: path.to_path_buf() });
            }
            std::fs::remove_file(path).map_err(listen)?;
        }
        let listener = UnixListener::bind(path).map_err(listen)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(listen)?;
        // Accepted without blocking, so the accepting thread sees the stop flag.
        listener.set_nonblocking(true).map_err(listen)?;
        log::info!("control socket on {}", path.display());
        Ok(Self { listener, path: path.to_path_buf(), control })
    }

    /// Serves until `stop`; the socket file is removed then.
    pub fn spawn(self, stop: Arc<AtomicBool>) -> Result<JoinHandle<()>, ControlError> {
        std::thread::Builder::new()
            .name("control".into())
            .spawn(move || self.serve(&stop))
            .map_err(ControlError::Thread)
    }

    fn serve(self, stop: &AtomicBool) {
        let open = Arc::new(AtomicUsize::new(0));
        while !stop.load(Ordering::Relaxed) {
            let Some(mut conn) = crate::listener::connection(self.listener.accept().map(|(c, _)| c), "control socket")
            else {
                continue;
            };
            if conn.set_nonblocking(false).is_err() {
                continue;
            }
            if open.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
                open.fetch_sub(1, Ordering::SeqCst);
                let _ = reply(&mut conn, &Answer::Refused { reason: "busy: too many control connections".into() });
                continue;
            }
            let (control, open2) = (self.control.clone(), open.clone());
            let spawned = std::thread::Builder::new().name("control-conn".into()).spawn(move || {
                serve_connection(conn, &control);
                open2.fetch_sub(1, Ordering::SeqCst);
            });
            if let Err(e) = spawned {
                open.fetch_sub(1, Ordering::SeqCst);
                log::warn!("control socket: connection thread: {e}");
            }
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn serve_connection(mut conn: UnixStream, control: &StationControl) {
    let _ = conn.set_read_timeout(Some(IO_TIMEOUT));
    let _ = conn.set_write_timeout(Some(IO_TIMEOUT));
    let mut line = String::new();
    let read = conn.try_clone().and_then(|c| BufReader::new(c.take(MAX_REQUEST)).read_line(&mut line));
    let answer = match read {
        Ok(_) if !line.ends_with('\n') => {
            Answer::Refused { reason: format!("a request is one line of at most {MAX_REQUEST} bytes") }
        }
        Ok(_) => match serde_json::from_str::<Request>(&line) {
            Ok(req) => control.handle(&req, &caller(&conn)),
            Err(e) => Answer::Refused { reason: format!("not a request: {e}") },
        },
        Err(e) => Answer::Refused { reason: format!("reading the request: {e}") },
    };
    // A caller that went away is no fault of the station's.
    let _ = reply(&mut conn, &answer);
}

fn reply(conn: &mut UnixStream, answer: &Answer) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(answer).map_err(std::io::Error::other)?;
    line.push(b'\n');
    conn.write_all(&line)
}

/// "uid U pid P" of the process at the other end (the kernel's word for it).
fn caller(conn: &UnixStream) -> String {
    match nix::sys::socket::getsockopt(conn, nix::sys::socket::sockopt::PeerCredentials) {
        Ok(c) => format!("uid {} pid {}", c.uid(), c.pid()),
        Err(e) => format!("an unknown caller ({e})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::active_recipe::ActiveRecipe;

    fn control() -> Arc<StationControl> {
        Arc::new(StationControl { recipe: Arc::new(ActiveRecipe::new("a", ["a".to_string()])), teacher: None })
    }

    #[test]
    fn a_socket_another_station_answers_on_is_kept_and_a_stale_one_replaced_mode_0660() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("state/control.sock");
        let first = ControlSocket::bind(&path, control()).expect("bind");
        let mode = std::fs::metadata(&path).expect("socket").permissions().mode() & 0o777;
        assert_eq!(mode, 0o660);
        let e = ControlSocket::bind(&path, control()).err().expect("in use");
        assert!(matches!(e, ControlError::InUse { .. }), "{e}");
        drop(first); // a station that died: its file stays, nobody answers
        assert!(path.exists());
        let again = ControlSocket::bind(&path, control()).expect("stale socket replaced");
        let stop = Arc::new(AtomicBool::new(false));
        let h = again.spawn(stop.clone()).expect("serve");
        let answer = crate::control::client::ask(&path, &Request::Recipe { name: None }, IO_TIMEOUT).expect("answer");
        assert_eq!(answer, Answer::Recipe { active: "a".into(), previous: None, recipes: vec!["a".into()] });
        stop.store(true, Ordering::SeqCst);
        h.join().expect("control thread");
        assert!(!path.exists(), "removed when the station stops");
        let e = crate::control::client::ask(&path, &Request::Recipe { name: None }, IO_TIMEOUT).expect_err("gone");
        assert!(matches!(e, ControlError::Unreachable { .. }), "{e}");
    }
}
