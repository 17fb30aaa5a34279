//! NG images, archived as PNG under a byte quota: the oldest go first. Names start with the time and
//! part number, so name order is age order and a restart picks up the folder as it was.
//! A failed write (disk full, folder gone) is counted and logged once per streak, never fatal.

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

pub struct NgArchive {
    dir: PathBuf,
    quota: u64,
    files: VecDeque<(PathBuf, u64)>,
    total: u64,
    failing: bool,
    pub saved: u64,
    pub evicted: u64,
    pub write_errors: u64,
}

impl NgArchive {
    pub fn open(dir: &Path, quota: u64) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let mut files: Vec<(PathBuf, u64)> = std::fs::read_dir(dir)?
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "png"))
            .filter_map(|e| Some((e.path(), e.metadata().ok()?.len())))
            .collect();
        files.sort();
        let total = files.iter().map(|f| f.1).sum();
        Ok(Self {
            dir: dir.to_path_buf(),
            quota,
            files: files.into(),
            total,
            failing: false,
            saved: 0,
            evicted: 0,
            write_errors: 0,
        })
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

    #[test]
    fn quota_deletes_oldest_first_and_survives_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = NgArchive::open(dir.path(), 40_000).unwrap();
        for i in 0..5u8 {
            assert!(a.save(&noisy_frame(i), &format!("t{i:03}")).is_some());
        }
        assert!(a.bytes() <= 40_000, "archive holds {} bytes over its quota", a.bytes());
        assert!(a.evicted >= 1);
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.contains(&"t004.png".to_string()), "newest kept: {names:?}");
        assert!(!names.contains(&"t000.png".to_string()), "oldest deleted: {names:?}");
        let reopened = NgArchive::open(dir.path(), 40_000).unwrap();
        assert_eq!(reopened.bytes(), a.bytes());
    }

    #[test]
    fn unwritable_folder_is_counted_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = NgArchive::open(dir.path(), 10_000_000).unwrap();
        std::fs::remove_dir_all(dir.path()).unwrap();
        assert!(a.save(&noisy_frame(1), "x").is_none());
        assert!(a.save(&noisy_frame(2), "y").is_none());
        assert_eq!(a.write_errors, 2);
        assert_eq!(a.bytes(), 0);
    }
}
