//! The command line's side of the control socket: one request, one answer.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use super::{Answer, ControlError, Request};

/// Sends `req` to the station on `socket` and waits at most `wait` for its answer.
pub fn ask(socket: &Path, req: &Request, wait: Duration) -> Result<Answer, ControlError> {
    let unreachable = |source| ControlError::Unreachable { path: socket.to_path_buf(), source };
    let no_answer = |source| ControlError::NoAnswer { path: socket.to_path_buf(), source };
    let mut conn = UnixStream::connect(socket).map_err(unreachable)?;
    conn.set_read_timeout(Some(wait)).map_err(no_answer)?;
    conn.set_write_timeout(Some(Duration::from_secs(5))).map_err(no_answer)?;
    let mut line = serde_json::to_vec(req).map_err(|source| ControlError::BadAnswer { path: socket.into(), source })?;
    line.push(b'\n');
    conn.write_all(&line).map_err(no_answer)?;
    let mut answer = String::new();
    if BufReader::new(conn).read_line(&mut answer).map_err(no_answer)? == 0 {
        return Err(ControlError::Closed { path: socket.to_path_buf() });
    }
    serde_json::from_str(&answer).map_err(|source| ControlError::BadAnswer { path: socket.to_path_buf(), source })
}
