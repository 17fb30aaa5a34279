//! The photo-eye line's edge events, read with `poll` and a timeout rather than a blocking `read`.
//!
//! On Linux 6.9 and later a blocking read of a line request holds the GPIO device's SRCU read lock while
//! it sleeps, and removing the chip waits for every such reader (`synchronize_srcu` in
//! `gpiochip_remove`). A station blocked in `read` on a quiet photo-eye would therefore hang the
//! removal of its own chip (an unplugged GPIO expander, a driver rebind) until an edge came, which on a
//! removed chip never does: the removal, and anything waiting on it, stays stuck. `poll` sleeps outside
//! that lock and wakes with `POLLERR` when the chip goes, so the reader ends, closes its request and lets
//! the removal finish. The reader also ends within one poll period once its request is dropped.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::Sender;
use gpiod::{ChipInfo, Input, Options};
use gpiod_core::{Internal, LineId, RawEvent};
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

/// How long the reader sleeps in `poll` before it looks whether its request was dropped.
const POLL_EVERY_MS: u16 = 100;

/// A line requested for edge events: its request's file, non-blocking.
pub(super) struct EdgeRequest {
    file: File,
}

/// Requests the line of `opts` on the chip at `path`, which must still be the chip `expected` describes:
/// a chip removed since it was looked up, and another registered under its number, is refused rather
/// than having a line it was never checked for requested.
pub(super) fn request(
    path: &Path,
    expected: &ChipInfo,
    opts: Options<Input, [LineId; 1], &str>,
) -> std::io::Result<EdgeRequest> {
    let chip = OpenOptions::new().read(true).write(true).open(path)?;
    let info = Internal::<ChipInfo>::from_fd(chip.as_raw_fd())?;
    if (info.name(), info.label(), info.num_lines()) != (expected.name(), expected.label(), expected.num_lines()) {
        let why =
            format!("{} [{}] was replaced by {} [{}]", expected.name(), expected.label(), info.name(), info.label());
        return Err(std::io::Error::new(ErrorKind::NotFound, why));
    }
    let (_, fd) = info.request_lines(chip.as_raw_fd(), opts)?;
    // SAFETY: the kernel has just returned this descriptor for the new line request; nothing else holds
    // it, so it is owned here and closed exactly once (which releases the line).
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    // Never a sleeping read (see above), even if a wake-up were spurious.
    let flags = OFlag::from_bits_truncate(fcntl(&owned, FcntlArg::F_GETFL)?);
    fcntl(&owned, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(EdgeRequest { file: File::from(owned) })
}

/// The thread that forwards a request's edges. Dropping it stops the thread and waits for it (at most
/// one poll period), so the line is released when this is gone.
pub(super) struct Reader {
    dropped: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Reader {
    pub(super) fn spawn(req: EdgeRequest, tx: Sender<std::io::Result<Duration>>) -> std::io::Result<Self> {
        let dropped = Arc::new(AtomicBool::new(false));
        let flag = dropped.clone();
        let thread = std::thread::Builder::new().name("photo-eye".into()).spawn(move || forward(req, tx, &flag))?;
        Ok(Self { dropped, thread: Some(thread) })
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Forwards each edge's kernel timestamp (CLOCK_MONOTONIC) to `tx` until reading fails (the error is
/// sent, then the reader ends), the chip goes away, or `dropped` is set.
fn forward(mut req: EdgeRequest, tx: Sender<std::io::Result<Duration>>, dropped: &AtomicBool) {
    while !dropped.load(Ordering::Relaxed) {
        let mut fds = [PollFd::new(req.file.as_fd(), PollFlags::POLLIN)];
        let gone = match poll(&mut fds, PollTimeout::from(POLL_EVERY_MS)) {
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => fds[0]
                .revents()
                .is_some_and(|r| r.intersects(PollFlags::POLLERR | PollFlags::POLLHUP | PollFlags::POLLNVAL)),
            Err(e) => {
                let _ = tx.send(Err(e.into()));
                return;
            }
        };
        let event = if gone {
            // The chip is gone: the kernel answers POLLHUP | POLLERR for a removed chip's request.
            Err(std::io::Error::from(Errno::ENODEV))
        } else {
            match read_edge(&mut req.file) {
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => continue,
                other => other,
            }
        };
        let failed = event.is_err();
        if tx.send(event).is_err() || failed {
            return;
        }
    }
}

fn read_edge(file: &mut File) -> std::io::Result<Duration> {
    let mut raw = RawEvent::default();
    let bytes: &mut [u8] = raw.as_mut();
    let n = file.read(bytes)?;
    if n != bytes.len() {
        return Err(std::io::Error::new(ErrorKind::UnexpectedEof, format!("short edge event: {n} bytes")));
    }
    Ok(Duration::from_nanos(raw.timestamp_ns))
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::time::Instant;

    use super::*;

    type Edges = crossbeam_channel::Receiver<std::io::Result<Duration>>;

    /// A request whose "kernel" side is the write end of a pipe (non-blocking, as a request is).
    fn piped() -> (EdgeRequest, File) {
        let (read, write) = nix::unistd::pipe().expect("pipe");
        fcntl(&read, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).expect("non-blocking");
        (EdgeRequest { file: File::from(read) }, File::from(write))
    }

    fn raw_edge(ns: u64) -> Vec<u8> {
        let mut raw = RawEvent::default();
        raw.timestamp_ns = ns;
        raw.id = 1;
        let bytes: &mut [u8] = raw.as_mut();
        bytes.to_vec()
    }

    fn start(req: EdgeRequest) -> (Edges, Reader) {
        let (tx, rx) = crossbeam_channel::bounded(8);
        (rx, Reader::spawn(req, tx).expect("reader thread"))
    }

    fn wait_ended(reader: &Reader) {
        let asked = Instant::now();
        while !reader.thread.as_ref().is_none_or(|t| t.is_finished()) {
            assert!(asked.elapsed() < Duration::from_secs(5), "the reader still runs 5 s on");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn each_edge_is_forwarded_with_its_kernel_timestamp_and_a_hangup_ends_the_reader_with_an_error() {
        let (req, mut kernel) = piped();
        let (rx, reader) = start(req);
        kernel.write_all(&raw_edge(1_500_000_000)).expect("write");
        let first = rx.recv_timeout(Duration::from_secs(5)).expect("an edge");
        assert_eq!(first.expect("edge"), Duration::from_millis(1500));
        // The chip removed: the kernel answers POLLHUP | POLLERR, as a pipe with no writer answers POLLHUP.
        drop(kernel);
        let gone = rx.recv_timeout(Duration::from_secs(5)).expect("the loss is reported");
        assert_eq!(gone.expect_err("an error").raw_os_error(), Some(nix::libc::ENODEV));
        wait_ended(&reader);
    }

    #[test]
    fn dropping_the_reader_on_a_quiet_line_ends_it_and_closes_the_request_at_once() {
        let (req, mut kernel) = piped();
        let (_rx, reader) = start(req);
        std::thread::sleep(Duration::from_millis(50));
        let asked = Instant::now();
        drop(reader);
        // Drop joins the thread: a poll period (100 ms) and some, far under a second on any machine.
        assert!(asked.elapsed() < Duration::from_secs(1), "dropping the reader took {:?}", asked.elapsed());
        // The request's file is closed (on a chip: the line released), so nobody reads the other end.
        let err = kernel.write_all(&raw_edge(1)).expect_err("no reader is left");
        assert_eq!(err.kind(), ErrorKind::BrokenPipe);
    }

    #[test]
    fn a_short_event_is_an_error_not_an_edge() {
        let (req, mut kernel) = piped();
        let (rx, reader) = start(req);
        kernel.write_all(&[0u8; 10]).expect("write");
        let got = rx.recv_timeout(Duration::from_secs(5)).expect("an answer");
        assert_eq!(got.expect_err("an error").kind(), ErrorKind::UnexpectedEof);
        wait_ended(&reader);
    }
}
