//! Watches a model folder (inotify) for a technician replacing model files.
//!
//! A file counts as replaced when it was written and closed (`IN_CLOSE_WRITE`) or moved in
//! (`IN_MOVED_TO`, the safe way: copy next to it under another name, then rename). It is handed on
//! only after it has settled: no new event for `settle` and the same size on two looks, so a file
//! still being written in several passes is never read half-done.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

#[derive(Debug, thiserror::Error)]
#[error("watching {dir}: {source}")]
pub struct WatchError {
    dir: PathBuf,
    source: nix::Error,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileEvent {
    /// One or more watched files were replaced and have settled.
    Replaced(Vec<PathBuf>),
    /// A watched file was deleted or moved away.
    Removed(PathBuf),
}

pub struct ModelWatcher {
    inotify: Inotify,
    dir: PathBuf,
    names: Vec<OsString>,
    settle: Duration,
    /// Replaced files waiting to settle: last event time, last size seen.
    pending: BTreeMap<PathBuf, (Instant, Option<u64>)>,
}

impl ModelWatcher {
    /// Watches `files`, which must share one folder.
    pub fn new(dir: &Path, files: &[PathBuf], settle: Duration) -> Result<Self, WatchError> {
        let err = |source| WatchError { dir: dir.to_path_buf(), source };
        let inotify = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK).map_err(err)?;
        let mask = AddWatchFlags::IN_CLOSE_WRITE
            | AddWatchFlags::IN_MOVED_TO
            | AddWatchFlags::IN_MOVED_FROM
            | AddWatchFlags::IN_DELETE;
        inotify.add_watch(dir, mask).map_err(err)?;
        let names = files.iter().filter_map(|f| f.file_name().map(OsString::from)).collect();
        Ok(Self { inotify, dir: dir.to_path_buf(), names, settle, pending: BTreeMap::new() })
    }

    /// Waits up to `timeout` and returns what happened, settled files included.
    pub fn poll(&mut self, timeout: Duration) -> Result<Vec<FileEvent>, WatchError> {
        let err = |source| WatchError { dir: self.dir.clone(), source };
        let wait = if self.pending.is_empty() { timeout } else { timeout.min(self.settle / 4) };
        let mut fds = [PollFd::new(self.inotify.as_fd(), PollFlags::POLLIN)];
        let ms = u16::try_from(wait.as_millis()).unwrap_or(u16::MAX);
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(_) | Err(nix::Error::EINTR) => {}
            Err(e) => return Err(err(e)),
        }
        let mut out = Vec::new();
        let events = match self.inotify.read_events() {
            Ok(ev) => ev,
            Err(nix::Error::EAGAIN) => Vec::new(),
            Err(e) => return Err(err(e)),
        };
        for ev in events {
            let Some(name) = ev.name else { continue };
            if !self.names.contains(&name) {
                continue; // temp files, sidecars written first, other models
            }
            let path = self.dir.join(&name);
            if ev.mask.intersects(AddWatchFlags::IN_CLOSE_WRITE | AddWatchFlags::IN_MOVED_TO) {
                self.pending.insert(path, (Instant::now(), None));
            } else if ev.mask.intersects(AddWatchFlags::IN_DELETE | AddWatchFlags::IN_MOVED_FROM) {
                self.pending.remove(&path);
                if !path.exists() {
                    out.push(FileEvent::Removed(path));
                }
            }
        }
        // Settled: quiet for `settle` and the size unchanged since the last look.
        let now = Instant::now();
        let quiet = self.pending.values().all(|(t, _)| now.duration_since(*t) >= self.settle);
        if quiet && !self.pending.is_empty() {
            let mut stable = true;
            for (path, (_, size)) in self.pending.iter_mut() {
                let now_size = std::fs::metadata(path).map(|m| m.len()).ok();
                if now_size.is_none() || *size != now_size {
                    stable = false;
                    *size = now_size;
                }
            }
            if stable {
                let files: Vec<PathBuf> = std::mem::take(&mut self.pending).into_keys().collect();
                out.push(FileEvent::Replaced(files));
            }
        }
        Ok(out)
    }
}
