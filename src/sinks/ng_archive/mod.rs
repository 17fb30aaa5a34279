//! NG images, archived as PNG under a byte quota: the oldest go first. Names start with the time and
//! part number, so name order is age order and a restart picks up the folder as it was.
//! A failed write (disk full, folder gone) is counted and logged once per streak, never fatal.
//!
//! The quota deletes only what the archive wrote: files named as it names them. A folder that holds
//! anything else (the recipe references, say, by a wrong `records.archive.dir`) is refused at start.
//! The archive also stops writing while the disk has less than `min_free` bytes free, so NG images never
//! take the room the results log needs.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::{ExtendedColorType, ImageEncoder};

use crate::metrics::StationMetrics;
use crate::sources::{Frame, PixelFormat};

pub mod caption;
mod config;
mod sink;

pub use config::ArchiveConfig;

/// A frame as PNG bytes, in its own pixel format (16-bit grey stays 16-bit).
pub fn encode_png(frame: &Frame) -> image::ImageResult<Vec<u8>> {
    let mut png = Vec::with_capacity(frame.data.len() / 2);
    let colour = match frame.format {
        PixelFormat::Rgb8 => ExtendedColorType::Rgb8,
        PixelFormat::Gray8 => ExtendedColorType::L8,
        PixelFormat::Gray16 => ExtendedColorType::L16,
    };
    image::codecs::png::PngEncoder::new(&mut png).write_image(&frame.data, frame.width, frame.height, colour)?;
    Ok(png)
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("records.archive.dir {dir}: {source}")]
    Io { dir: PathBuf, source: std::io::Error },
    #[error(
        "records.archive.dir {dir} holds {name}, which the archive did not write: its quota deletes old files, \
         so it needs a folder of its own"
    )]
    Foreign { dir: PathBuf, name: String },
}

/// Is `name` one the archive gives its images: `<time>_<part>_<recipe>.png`, the time as
/// `YYYY-MM-DDTHH-MM-SS.mmmZ` and the part as at least 8 digits.
pub fn is_archive_name(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(".png") else { return false };
    let b = stem.as_bytes();
    let time_ok = b.len() > 25
        && b[..24].iter().enumerate().all(|(i, &c)| match i {
            4 | 7 | 13 | 16 => c == b'-',
            10 => c == b'T',
            19 => c == b'.',
            23 => c == b'Z',
            _ => c.is_ascii_digit(),
        })
        && b[24] == b'_';
    if !time_ok {
        return false;
    }
    let Some((part, recipe)) = stem[25..].split_once('_') else { return false };
    part.len() >= 8 && part.bytes().all(|c| c.is_ascii_digit()) && !recipe.is_empty()
}

/// The first entry of `dir` that the archive did not write, if any (a folder that is absent has none).
pub fn foreign_entry(dir: &Path) -> std::io::Result<Option<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    for e in entries {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if !(is_archive_name(&name) && e.file_type()?.is_file()) {
            return Ok(Some(name));
        }
    }
    Ok(None)
}

/// Bytes an unprivileged process may still write on the file system that holds `dir`.
fn free_bytes(dir: &Path) -> nix::Result<u64> {
    let st = nix::sys::statvfs::statvfs(dir)?;
    Ok(st.blocks_available() as u64 * st.fragment_size() as u64)
}

pub struct NgArchive {
    dir: PathBuf,
    quota: u64,
    min_free: u64,
    files: VecDeque<(PathBuf, u64)>,
    total: u64,
    failing: bool,
    low_space: bool,
    /// Counted live: `archive_saved`, `archive_evicted`, `archive_write_errors`, `archive_skipped_low_space`.
    metrics: Arc<StationMetrics>,
}

impl NgArchive {
    pub fn open(dir: &Path, quota: u64, min_free: u64, metrics: Arc<StationMetrics>) -> Result<Self, ArchiveError> {
        let io = |source| ArchiveError::Io { dir: dir.to_path_buf(), source };
        std::fs::create_dir_all(dir).map_err(io)?;
        if let Some(name) = foreign_entry(dir).map_err(io)? {
            return Err(ArchiveError::Foreign { dir: dir.to_path_buf(), name });
        }
        let mut files: Vec<(PathBuf, u64)> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(Result::ok)
            .filter_map(|e| Some((e.path(), e.metadata().ok()?.len())))
            .collect();
        files.sort();
        let total = files.iter().map(|f| f.1).sum();
        Ok(Self {
            dir: dir.to_path_buf(),
            quota,
            min_free,
            files: files.into(),
            total,
            failing: false,
            low_space: false,
            metrics,
        })
    }

    /// Room for `len` more bytes with `min_free` left over; logged once per streak when there is not.
    fn room_for(&mut self, len: u64) -> bool {
        let free = match free_bytes(&self.dir) {
            Ok(f) => f,
            // Unknown: the write itself will tell.
            Err(_) => return true,
        };
        let room = free >= self.min_free.saturating_add(len);
        if !room && !self.low_space {
            log::warn!(
                "NG archive {}: {free} bytes free, under records.archive.min_free_bytes {}: not archiving until \
                 there is room (the results log goes on)",
                self.dir.display(),
                self.min_free
            );
        } else if room && self.low_space {
            log::info!("NG archive {}: room again, archiving", self.dir.display());
        }
        self.low_space = !room;
        room
    }

    pub fn bytes(&self) -> u64 {
        self.total
    }

    /// Saves a frame as `<stem>.png` with `caption` in it; returns the path when it was written.
    pub fn save(&mut self, frame: &Frame, stem: &str, caption: &str) -> Option<PathBuf> {
        let png = match encode_png(frame) {
            Ok(png) => caption::with_caption(png, caption),
            Err(e) => {
                self.fail(format!("encode {stem}: {e}"));
                return None;
            }
        };
        let len = png.len() as u64;
        if !self.room_for(len) {
            self.metrics.inc(&self.metrics.archive_skipped_low_space);
            return None;
        }
        while self.total + len > self.quota {
            let Some((old, size)) = self.files.pop_front() else { break };
            match std::fs::remove_file(&old) {
                Ok(()) => self.metrics.inc(&self.metrics.archive_evicted),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => log::warn!("{}: cannot delete: {e}", old.display()),
            }
            self.total = self.total.saturating_sub(size);
        }
        let path = self.dir.join(format!("{stem}.png"));
        match std::fs::write(&path, &png) {
            Ok(()) => {
                self.files.push_back((path.clone(), len));
                self.total += len;
                self.metrics.inc(&self.metrics.archive_saved);
                if self.failing {
                    log::info!("{}: archiving again", self.dir.display());
                    self.failing = false;
                }
                Some(path)
            }
            Err(e) => {
                let _ = std::fs::remove_file(&path); // a partial file must not count against the quota
                self.fail(format!("{}: {e}", path.display()));
                None
            }
        }
    }

    fn fail(&mut self, what: String) {
        self.metrics.inc(&self.metrics.archive_write_errors);
        if !self.failing {
            log::error!("NG archive: {what}; inspection continues without archiving");
            self.failing = true;
        }
    }
}

#[cfg(test)]
mod tests;
