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

use image::{ExtendedColorType, ImageEncoder};

use crate::sources::{Frame, PixelFormat};

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
    pub saved: u64,
    pub evicted: u64,
    pub write_errors: u64,
    /// Images not archived because the disk had less than `min_free` bytes free.
    pub skipped_low_space: u64,
}

impl NgArchive {
    pub fn open(dir: &Path, quota: u64, min_free: u64) -> Result<Self, ArchiveError> {
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
            saved: 0,
            evicted: 0,
            write_errors: 0,
            skipped_low_space: 0,
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

    /// Saves a frame as `<stem>.png`; returns the path when it was written.
    pub fn save(&mut self, frame: &Frame, stem: &str) -> Option<PathBuf> {
        let png = match encode_png(frame) {
            Ok(png) => png,
            Err(e) => {
                self.fail(format!("encode {stem}: {e}"));
                return None;
            }
        };
        let len = png.len() as u64;
        if !self.room_for(len) {
            self.skipped_low_space += 1;
            return None;
        }
        while self.total + len > self.quota {
            let Some((old, size)) = self.files.pop_front() else { break };
            match std::fs::remove_file(&old) {
                Ok(()) => self.evicted += 1,
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
                self.saved += 1;
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
        self.write_errors += 1;
        if !self.failing {
            log::error!("NG archive: {what}; inspection continues without archiving");
            self.failing = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::FrameInfo;
    use std::sync::Arc;
    use std::time::Instant;

    fn noisy_frame(seed: u8) -> Frame {
        // Pseudo-random pixels so PNG cannot compress them away: each file is ~the raw size.
        let data: Vec<u8> = (0..64 * 64 * 3u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8 ^ seed).collect();
        Frame {
            width: 64,
            height: 64,
            format: PixelFormat::Rgb8,
            data: data.into(),
            timestamp: Instant::now(),
            sequence: 0,
            info: Arc::new(FrameInfo::default()),
        }
    }

    /// The name the station gives part `i`'s image.
    fn stem(i: u8) -> String {
        format!("2026-11-29T21-00-{i:02}.000Z_{i:08}_recipe-a")
    }

    #[test]
    fn quota_deletes_oldest_first_and_survives_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = NgArchive::open(dir.path(), 40_000, 0).unwrap();
        for i in 0..5u8 {
            assert!(a.save(&noisy_frame(i), &stem(i)).is_some());
        }
        assert!(a.bytes() <= 40_000, "archive holds {} bytes over its quota", a.bytes());
        assert!(a.evicted >= 1);
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.contains(&format!("{}.png", stem(4))), "newest kept: {names:?}");
        assert!(!names.contains(&format!("{}.png", stem(0))), "oldest deleted: {names:?}");
        let reopened = NgArchive::open(dir.path(), 40_000, 0).unwrap();
        assert_eq!(reopened.bytes(), a.bytes());
    }

    #[test]
    fn unwritable_folder_is_counted_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = NgArchive::open(dir.path(), 10_000_000, 0).unwrap();
        std::fs::remove_dir_all(dir.path()).unwrap();
        assert!(a.save(&noisy_frame(1), &stem(1)).is_none());
        assert!(a.save(&noisy_frame(2), &stem(2)).is_none());
        assert_eq!(a.write_errors, 2);
        assert_eq!(a.bytes(), 0);
    }

    #[test]
    fn a_folder_with_files_the_archive_did_not_write_is_refused_and_nothing_is_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let reference = dir.path().join("recipe-a.png");
        std::fs::write(&reference, b"a recipe reference").unwrap();
        match NgArchive::open(dir.path(), 1024 * 1024, 0) {
            Err(e @ ArchiveError::Foreign { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains("records.archive.dir") && msg.contains("recipe-a.png"), "{msg}");
            }
            Err(e) => panic!("wrong error: {e}"),
            Ok(_) => panic!("a folder of references was taken as the archive"),
        }
        assert!(reference.is_file());
    }

    #[test]
    fn the_quota_deletes_only_images_the_archive_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = NgArchive::open(dir.path(), 40_000, 0).unwrap();
        assert!(a.save(&noisy_frame(0), &stem(0)).is_some());
        // Dropped in after the start: the quota must leave it alone.
        let other = dir.path().join("0000-reference.png");
        std::fs::write(&other, vec![0u8; 30_000]).unwrap();
        for i in 1..6u8 {
            assert!(a.save(&noisy_frame(i), &stem(i)).is_some());
        }
        assert!(a.evicted >= 1);
        assert!(other.is_file(), "a file the archive did not write was deleted");
    }

    #[test]
    fn archive_names_are_recognised() {
        assert!(is_archive_name(&format!("{}.png", stem(3))));
        assert!(is_archive_name("2026-11-29T21-00-03.000Z_123456789_electrode.png"));
        for other in [
            "recipe-a.png",
            "t000.png",
            "2026-11-29T21-00-03.000Z_123_a.png",
            "2026-11-29T21-00-03.000Z_00000001_a.jpg",
        ] {
            assert!(!is_archive_name(other), "{other}");
        }
    }

    #[test]
    fn archiving_stops_while_the_disk_is_under_its_free_space_floor() {
        let dir = tempfile::tempdir().unwrap();
        // A floor no disk meets: every image is skipped, counted, and nothing is written.
        let mut a = NgArchive::open(dir.path(), 40_000, u64::MAX / 2).unwrap();
        assert!(a.save(&noisy_frame(0), &stem(0)).is_none());
        assert!(a.save(&noisy_frame(1), &stem(1)).is_none());
        assert_eq!((a.skipped_low_space, a.saved, a.write_errors), (2, 0, 0));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
