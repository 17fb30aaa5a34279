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
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::Sender;
use gpiod::{Input, Options};
use gpiod_core::{ChipInfo, Internal, LineId, RawEvent};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

/// How long the reader sleeps in `poll` before it looks whether its request was dropped.
const POLL_EVERY_MS: u16 = 100;

/// A line requested for edge events: its request's file.
pub(super) struct EdgeRequest {
    file: File,
}

/// Requests the lines of `opts` on the chip at `path` for edge events.
pub(super) fn request(path: &Path, opts: Options<Input, [LineId; 1], &str>) -> std::io::Result<EdgeRequest> {
    let chip = OpenOptions::new().read(true).write(true).open(path)?;
    let info = Internal::<ChipInfo>::from_fd(chip.as_raw_fd())?;
    let (_, fd) = info.request_lines(chip.as_raw_fd(), opts)?;
    // SAFETY: the kernel has just returned this descriptor for the new line request; nothing else holds
    // it, so it is owned here and closed exactly once (which releases the line).
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    Ok(EdgeRequest { file: File::from(owned) })
}

/// Set when the request's receiver is dropped: the reader then ends and releases the line.
#[derive(Clone, Default)]
pub(super) struct Dropped(Arc<AtomicBool>);

impl Dropped {
    pub(super) fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Forwards each edge's kernel timestamp (CLOCK_MONOTONIC) to `tx` until reading fails (the error is
/// sent, then the reader ends), the chip goes away, or `dropped` is set.
pub(super) fn forward(mut req: EdgeRequest, tx: Sender<std::io::Result<Duration>>, dropped: Dropped) {
    loop {
        if dropped.0.load(Ordering::Relaxed) {
            return;
        }
        let mut fds = [PollFd::new(req.file.as_fd(), PollFlags::POLLIN)];
        let revents = match poll(&mut fds, PollTimeout::from(POLL_EVERY_MS)) {
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => fds[0].revents().unwrap_or(PollFlags::empty()),
            Err(e) => {
                let _ = tx.send(Err(e.into()));
                return;
            }
        };
        let event = if revents.intersects(PollFlags::POLLERR | PollFlags::POLLHUP | PollFlags::POLLNVAL) {
            // The chip is gone (the kernel answers POLLHUP | POLLERR for a removed chip's request).
            Err(std::io::Error::from(Errno::ENODEV))
        } else {
            read_edge(&mut req.file)
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
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, format!("short edge event: {n} bytes")));
    }
    Ok(Duration::from_nanos(raw.timestamp_ns))
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::time::Instant;

    use super::*;

    /// A request whose "kernel" side is the write end of a pipe.
    fn piped() -> (EdgeRequest, File) {
        let (read, write) = nix::unistd::pipe().expect("pipe");
        (EdgeRequest { file: File::from(read) }, File::from(write))
    }

    fn raw_edge(ns: u64) -> Vec<u8> {
        let mut raw = RawEvent::default();
        raw.timestamp_ns = ns;
        raw.id = 1;
        let bytes: &mut [u8] = raw.as_mut();
        bytes.to_vec()
    }

    fn start(
        req: EdgeRequest,
    ) -> (crossbeam_channel::Receiver<std::io::Result<Duration>>, Dropped, std::thread::JoinHandle<()>) {
        let (tx, rx) = crossbeam_channel::bounded(8);
        let dropped = Dropped::default();
        let d = dropped.clone();
        (rx, dropped, std::thread::spawn(move || forward(req, tx, d)))
    }

    #[test]
    fn each_edge_is_forwarded_with_its_kernel_timestamp_and_a_hangup_ends_the_reader_with_an_error() {
        let (req, mut kernel) = piped();
        let (rx, _dropped, reader) = start(req);
        kernel.write_all(&raw_edge(1_500_000_000)).expect("write");
        let first = rx.recv_timeout(Duration::from_secs(5)).expect("an edge");
        assert_eq!(first.expect("edge"), Duration::from_millis(1500));
        // The chip removed: the kernel answers POLLHUP | POLLERR, as a pipe with no writer answers POLLHUP.
        drop(kernel);
        let gone = rx.recv_timeout(Duration::from_secs(5)).expect("the loss is reported");
        assert_eq!(gone.expect_err("an error").raw_os_error(), Some(nix::libc::ENODEV));
        reader.join().expect("the reader ends");
    }

    #[test]
    fn a_dropped_request_ends_its_reader_on_a_quiet_line_within_a_poll_period() {
        let (req, _kernel) = piped();
        let (_rx, dropped, reader) = start(req);
        std::thread::sleep(Duration::from_millis(50));
        let asked = Instant::now();
        dropped.set();
        while !reader.is_finished() {
            assert!(
                asked.elapsed() < Duration::from_secs(5),
                "the reader still runs (and holds the line) 5 s after its request was dropped"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn a_short_event_is_an_error_not_an_edge() {
        let (req, mut kernel) = piped();
        let (rx, _dropped, reader) = start(req);
        kernel.write_all(&[0u8; 10]).expect("write");
        let got = rx.recv_timeout(Duration::from_secs(5)).expect("an answer");
        assert_eq!(got.expect_err("an error").kind(), std::io::ErrorKind::UnexpectedEof);
        reader.join().expect("the reader ends");
    }
}
