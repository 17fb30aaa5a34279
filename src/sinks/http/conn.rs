//! One HTTP/1.1 connection, kept short and bounded: the request head is read within `HEAD_DEADLINE` and
//! `MAX_HEAD` bytes, every read and write has a timeout, and every answer closes the connection. A
//! client that sends slowly, sends too much or stops reading loses its connection; it never holds a
//! thread for long.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Largest request head (request line and headers) read.
const MAX_HEAD: u64 = 8 * 1024;
/// Time a client has to send its whole request head.
const HEAD_DEADLINE: Duration = Duration::from_secs(5);
/// Longest a single read or write may block (a Live page that stops reading is dropped after it).
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// What the page needs of a request: its method and its path, percent-decoded, without the query.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// The `Authorization: Bearer` token, when the request carries one.
    pub bearer: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// Answered 431: the head is larger than `MAX_HEAD`.
    #[error("request head over {MAX_HEAD} bytes")]
    TooLarge,
    /// Answered 400.
    #[error("malformed request")]
    Malformed,
    /// Too slow, or gone: nothing is answered.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl RequestError {
    /// The status to answer with, if the client is still there to read it.
    pub fn status(&self) -> Option<u16> {
        match self {
            RequestError::TooLarge => Some(431),
            RequestError::Malformed => Some(400),
            RequestError::Io(_) => None,
        }
    }
}

/// Reads the request head; the body, if any, is never read (the page only answers reads).
pub fn read_request(stream: &TcpStream) -> Result<Request, RequestError> {
    let head = ByDeadline { stream, until: Instant::now() + HEAD_DEADLINE };
    let mut reader = BufReader::new(head.take(MAX_HEAD));
    let mut first = String::new();
    let mut bearer = None;
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line).map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => RequestError::Malformed,
            _ => RequestError::Io(e),
        })?;
        if n == 0 || !line.ends_with('\n') {
            // The limit cut the head short, or the client closed before its blank line.
            return Err(if reader.get_ref().limit() == 0 { RequestError::TooLarge } else { RequestError::Malformed });
        }
        if first.is_empty() {
            first = line.trim_end().to_string();
        } else if line.trim_end().is_empty() {
            break;
        } else if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("authorization") {
                bearer = value.trim().strip_prefix("Bearer ").map(|t| t.trim().to_string());
            }
        }
    }
    let mut parts = first.split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(RequestError::Malformed);
    };
    if !version.starts_with("HTTP/1.") || parts.next().is_some() {
        return Err(RequestError::Malformed);
    }
    let raw = target.split(['?', '#']).next().unwrap_or("");
    let path = percent_decode(raw).ok_or(RequestError::Malformed)?;
    Ok(Request { method: method.to_string(), path, bearer })
}

/// `%XX` decoded (a name with a space or an accent is sent that way); `None` for a broken escape, a NUL
/// or bytes that are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    let text = String::from_utf8(out).ok()?;
    (!text.contains('\0')).then_some(text)
}

/// The request head's reads, each bounded by what is left of the head's deadline: a client sending a
/// byte every few seconds inside one line would otherwise meet only the per-read timeout, and hold its
/// slot for hours.
struct ByDeadline<'a> {
    stream: &'a TcpStream,
    until: Instant,
}

impl Read for ByDeadline<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        self.stream.set_read_timeout(Some(left.min(IO_TIMEOUT)))?;
        (&mut &*self.stream).read(buf)
    }
}

/// A whole answer; the connection closes after it.
pub fn respond(stream: &mut TcpStream, status: u16, kind: &str, body: &[u8]) -> std::io::Result<()> {
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n\
         X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n",
        reason(status),
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

/// After an error answer to a request not read to its end: stop sending, and read (and drop) a little of
/// what the client still sends, so that the answer reaches it before the connection closes (a close with
/// unread data resets it).
pub fn linger(stream: &mut TcpStream) {
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let _ = std::io::copy(&mut stream.take(64 * 1024), &mut std::io::sink());
}

/// The head of an event stream (its body runs until the connection closes).
pub fn start_stream(stream: &mut TcpStream) -> std::io::Result<()> {
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    stream.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n\
          X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n",
    )?;
    stream.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        401 => "Unauthorized",
        403 => "Forbidden",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_sending_its_head_a_byte_at_a_time_is_dropped_at_the_head_deadline() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let client = std::thread::spawn(move || {
            let mut c = TcpStream::connect(addr).expect("connect");
            // One byte every 400 ms, never a line's end: far inside the per-read timeout every time.
            for b in b"GET /api/status HTTP/1.1 and more and more and more".iter().cycle() {
                if c.write_all(&[*b]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(400));
            }
        });
        let (conn, _) = listener.accept().expect("accept");
        let t0 = Instant::now();
        let refused = read_request(&conn);
        let took = t0.elapsed();
        assert!(matches!(refused, Err(RequestError::Io(_))), "{refused:?}");
        assert!(
            took >= HEAD_DEADLINE - Duration::from_millis(500) && took < HEAD_DEADLINE + IO_TIMEOUT / 2,
            "{took:?}"
        );
        drop(conn);
        client.join().expect("client");
    }

    #[test]
    fn names_are_percent_decoded_and_broken_escapes_refused() {
        assert_eq!(percent_decode("/recipes/line%20A/reference").as_deref(), Some("/recipes/line A/reference"));
        assert_eq!(percent_decode("/ng/%C3%A9.png").as_deref(), Some("/ng/é.png"));
        assert_eq!(percent_decode("/ng/%2e%2e%2fx").as_deref(), Some("/ng/../x"));
        for bad in ["/ng/%", "/ng/%4", "/ng/%zz", "/ng/%00", "/ng/%ff"] {
            assert_eq!(percent_decode(bad), None, "{bad}");
        }
    }
}
