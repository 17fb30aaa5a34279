//! A V4L2 camera as a frame source. A reader thread streams continuously (mmap buffers) and keeps the
//! last few frames with their kernel timestamps, so that for a trigger the frame used is the first one
//! whose exposure started after the edge, even when the trigger is handled a little after the edge, and
//! so that a gap in the driver's sequence numbers is a real dropped frame. When the camera errors or
//! disappears, the source reports it (the station raises the alarm and rejects), closes the device, and
//! reopens it with backoff until it is back.

mod config;
pub mod convert;
pub mod device;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use v4l::buffer::{Flags, Type};
use v4l::io::mmap::Stream;
use v4l::io::traits::CaptureStream;

use super::{FaultNotifier, Frame, FrameSource, SourceError};
use crate::clock::monotonic_to_instant;
pub use config::V4l2Config;
use convert::{convert, CameraFormat};
use device::{CameraError, Opened};

/// Frames kept for late-handled triggers (at 30 fps, a quarter of a second).
const RING: usize = 8;

struct RawFrame {
    data: Vec<u8>,
    format: CameraFormat,
    width: u32,
    height: u32,
    stride: usize,
    exposure_start: Instant,
    sequence: u32,
}

#[derive(Default)]
struct State {
    ring: VecDeque<Arc<RawFrame>>,
    /// Why there are no frames now (camera lost), until it streams again.
    lost: Option<String>,
    dropped: u64,
    reopened: u64,
}

struct Shared {
    state: Mutex<State>,
    fresh: Condvar,
    stop: AtomicBool,
    notify: Mutex<Option<FaultNotifier>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means the reader panicked mid-update; the ring is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn tell(&self, fault: Option<&str>) {
        if let Some(n) = self.notify.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            n(fault);
        }
    }
}

pub struct V4l2Source {
    shared: Arc<Shared>,
    cfg: V4l2Config,
    describe: String,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl V4l2Source {
    /// Opens the camera and starts streaming. A camera that cannot do the configured format, size, rate
    /// or controls is an error now; one that is absent starts the station with the camera lost (alarm
    /// on, parts rejected) until it appears.
    pub fn open(cfg: &V4l2Config) -> Result<Self, CameraError> {
        let first = match device::open(cfg) {
            Ok(o) => Some(o),
            Err(e) if !e.retrying_helps() => return Err(e),
            Err(e) => {
                log::error!("camera {e}; starting without it, retrying");
                None
            }
        };
        let describe = first
            .as_ref()
            .map(|o| o.summary.clone())
            .unwrap_or_else(|| format!("{} (not there yet)", cfg.device.display()));
        let shared = Arc::new(Shared {
            state: Mutex::default(),
            fresh: Condvar::new(),
            stop: AtomicBool::new(false),
            notify: Mutex::new(None),
        });
        if first.is_none() {
            shared.lock().lost = Some("camera not found at start".into());
        }
        let reader = {
            let (shared, s) = (shared.clone(), cfg.clone());
            std::thread::Builder::new().name("camera".into()).spawn(move || read_loop(&shared, &s, first)).map_err(
                |source| CameraError::Io { device: cfg.device.display().to_string(), what: "reader thread", source },
            )?
        };
        Ok(Self { shared, cfg: cfg.clone(), describe, reader: Some(reader) })
    }
}

impl Drop for V4l2Source {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.reader.take() {
            let _ = h.join();
        }
    }
}

impl FrameSource for V4l2Source {
    fn live(&self) -> bool {
        true
    }

    fn capture(&mut self, after: Instant) -> Result<Frame, SourceError> {
        let deadline = Instant::now() + self.cfg.timeout();
        let mut st = self.shared.lock();
        let raw = loop {
            if let Some(f) = first_exposed_after(&st.ring, after) {
                break f;
            }
            if let Some(why) = &st.lost {
                return Err(SourceError::Unavailable(why.clone()));
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(SourceError::Unavailable(format!(
                    "no frame exposed after the trigger within {} ms",
                    self.cfg.timeout().as_millis()
                )));
            }
            st =
                self.shared.fresh.wait_timeout(st, deadline - now).map(|(g, _)| g).unwrap_or_else(|p| p.into_inner().0);
        };
        drop(st);
        let (format, data) = convert(raw.format, &raw.data, raw.width, raw.height, raw.stride)
            .map_err(|e| SourceError::BadFrame(format!("frame {}: {e}", raw.sequence)))?;
        Ok(Frame::still(raw.width, raw.height, format, data)
            .exposed(raw.exposure_start, raw.sequence as u64)
            .named(format!("frame-{}", raw.sequence)))
    }

    fn describe(&self) -> String {
        format!("V4L2 {}", self.describe)
    }

    fn dropped_frames(&self) -> u64 {
        self.shared.lock().dropped
    }

    fn watch_faults(&mut self, notify: FaultNotifier) {
        // A camera already lost (absent at start) is told at once.
        if let Some(why) = self.shared.lock().lost.clone() {
            notify(Some(&why));
        }
        *self.shared.notify.lock().unwrap_or_else(|p| p.into_inner()) = Some(notify);
    }
}

/// The frame for a trigger at `after`: the first whose exposure began after it (older ones are stale).
fn first_exposed_after(ring: &VecDeque<Arc<RawFrame>>, after: Instant) -> Option<Arc<RawFrame>> {
    ring.iter().find(|f| f.exposure_start >= after).cloned()
}

/// The reader thread: stream while the camera works; when it fails, report once, close, and reopen with
/// backoff (doubling from `reconnect_min` to `reconnect_max`).
fn read_loop(shared: &Shared, s: &V4l2Config, mut opened: Option<Opened>) {
    let (reconnect_min, reconnect_max) =
        (Duration::from_millis(s.reconnect_min_ms), Duration::from_millis(s.reconnect_max_ms));
    let mut backoff = reconnect_min;
    let mut failures = 0u64;
    while !shared.stop.load(Ordering::Relaxed) {
        let cam = match opened.take() {
            Some(o) => o,
            None => match device::open(s) {
                Ok(o) => o,
                Err(e) => {
                    failures += 1;
                    // Each failed attempt at debug level only: a missing camera must not flood the journal.
                    log::debug!("camera reopen attempt {failures}: {e}");
                    shared.lock().lost.get_or_insert_with(|| e.to_string());
                    sleep_unless_stopped(shared, backoff);
                    backoff = (backoff * 2).min(reconnect_max);
                    continue;
                }
            },
        };
        let error = stream(shared, s, &cam);
        // Closed before the backoff: a driver may only let the device reappear once nobody holds it.
        drop(cam);
        if let Some(e) = error {
            let mut st = shared.lock();
            if st.lost.is_none() {
                log::error!("camera {}: {e}; closing it and reopening", s.device.display());
                shared.tell(Some(&e));
                st.lost = Some(e);
            }
            st.ring.clear();
            drop(st);
            shared.fresh.notify_all();
            failures = 0;
            backoff = reconnect_min;
            sleep_unless_stopped(shared, backoff);
        }
    }
}

/// `POLLIN` of Linux's <poll.h>.
const POLLIN: i16 = 0x0001;

/// Streams until stopped (`None`) or the camera fails (`Some(reason)`).
fn stream(shared: &Shared, s: &V4l2Config, cam: &Opened) -> Option<String> {
    let mut stream = match Stream::with_buffers(&cam.device, Type::VideoCapture, s.buffers) {
        Ok(st) => st,
        Err(e) => return Some(format!("buffers: {e}")),
    };
    // v4l's `next()` hands the previous buffer back to the driver before it waits for the next one, so
    // calling it again after a wait timed out queues that buffer twice and the driver answers EINVAL:
    // any camera slower than the wait would be reopened for nothing. So the reader waits on the file
    // itself (short polls, so a stop request is seen), and calls `next()` only once a frame is ready.
    // The stream's own timeout only bounds the first frame after STREAMON.
    let handle = cam.device.handle();
    let stall_limit = s.timeout().max(Duration::from_millis(500));
    stream.set_timeout(stall_limit);
    let mut streaming = false;
    let mut last_seq: Option<u32> = None;
    // Dropped frames are logged at most once a minute, with the count since the last line.
    let (mut drops_unlogged, mut drops_logged_at) = (0u64, None::<Instant>);
    let mut stalled_since = Instant::now();
    let result = loop {
        if shared.stop.load(Ordering::Relaxed) {
            break None;
        }
        if streaming {
            match handle.poll(POLLIN, 100) {
                Ok(0) => {
                    if stalled_since.elapsed() > stall_limit {
                        break Some(format!("no frame for {} ms", stalled_since.elapsed().as_millis()));
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => break Some(format!("capture: {e}")),
            }
        }
        streaming = true;
        match stream.next() {
            Ok((buf, meta)) => {
                stalled_since = Instant::now();
                let ts = Duration::new(meta.timestamp.sec as u64, (meta.timestamp.usec as u32).saturating_mul(1000));
                // End-of-frame stamps are taken after readout: the exposure began about a frame earlier.
                let soe = meta.flags.contains(Flags::TSTAMP_SRC_SOE);
                let stamp = monotonic_to_instant(ts);
                let exposure_start = if soe { stamp } else { stamp - Duration::from_secs_f64(cam.period_s) };
                let used = (meta.bytesused as usize).min(buf.len());
                // The buffer of the frame about to leave the ring, when no capture still holds it.
                let mut data = {
                    let mut st = shared.lock();
                    let old = if st.ring.len() == RING { st.ring.pop_front() } else { None };
                    old.and_then(|f| Arc::try_unwrap(f).ok()).map(|f| f.data).unwrap_or_default()
                };
                data.clear();
                data.extend_from_slice(&buf[..used]);
                let raw = RawFrame {
                    data,
                    format: cam.format,
                    width: cam.width,
                    height: cam.height,
                    stride: cam.stride,
                    exposure_start,
                    sequence: meta.sequence,
                };
                let mut st = shared.lock();
                if st.lost.take().is_some() {
                    st.reopened += 1;
                    log::info!("camera streaming again: {}", cam.summary);
                    shared.tell(None);
                }
                if let Some(prev) = last_seq {
                    let gap = meta.sequence.wrapping_sub(prev).saturating_sub(1);
                    if gap > 0 && gap < 1_000_000 {
                        st.dropped += gap as u64;
                        drops_unlogged += gap as u64;
                        if drops_logged_at.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
                            log::warn!(
                                "camera dropped {drops_unlogged} frame(s) (sequence gaps; {} in all): the bus or \
                                 this box cannot keep up with {}",
                                st.dropped,
                                cam.summary
                            );
                            drops_unlogged = 0;
                            drops_logged_at = Some(Instant::now());
                        }
                    }
                }
                last_seq = Some(meta.sequence);
                st.ring.push_back(Arc::new(raw));
                drop(st);
                shared.fresh.notify_all();
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                break Some(format!("no frame for {} ms", stalled_since.elapsed().as_millis()));
            }
            Err(e) => break Some(format!("capture: {e}")),
        }
    };
    let _ = v4l::io::traits::Stream::stop(&mut stream);
    // v4l's Stream panics in Drop when STREAMOFF fails for a reason other than a vanished device; a
    // broken camera must not take the station down with it.
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(stream)));
    if dropped.is_err() {
        log::warn!("camera: buffers released with an error");
    }
    result
}

fn sleep_unless_stopped(shared: &Shared, d: Duration) {
    let end = Instant::now() + d;
    while !shared.stop.load(Ordering::Relaxed) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20).min(end.saturating_duration_since(Instant::now())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trigger_gets_the_first_frame_exposed_after_it() {
        let t0 = Instant::now();
        let ring: VecDeque<Arc<RawFrame>> = (0..4)
            .map(|i| {
                Arc::new(RawFrame {
                    data: vec![],
                    format: CameraFormat::Grey,
                    width: 1,
                    height: 1,
                    stride: 1,
                    exposure_start: t0 + Duration::from_millis(33 * i),
                    sequence: i as u32,
                })
            })
            .collect();
        // Edge 40 ms in: frames 0 and 1 began before it; frame 2 (66 ms) is the first exposed after it.
        let f = first_exposed_after(&ring, t0 + Duration::from_millis(40));
        assert_eq!(f.map(|f| f.sequence), Some(2));
        assert_eq!(first_exposed_after(&ring, t0).map(|f| f.sequence), Some(0));
        assert!(first_exposed_after(&ring, t0 + Duration::from_millis(100)).is_none(), "wait for a new frame");
    }
}
