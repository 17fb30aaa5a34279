//! The only files the page serves: NG images the archive wrote, and the configured recipes' references,
//! each looked up by name in what the station knows, never by a path from the URL.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::sinks::ng_archive::caption::{caption_of, CAPTION_WINDOW};
use crate::sinks::ng_archive::is_archive_name;

/// Largest image served (an archived frame is a few MB at most).
const MAX_IMAGE_BYTES: u64 = 64 << 20;
/// NG images listed, newest first (each a full frame: a page of them is already megabytes).
pub const GALLERY: usize = 48;

/// An archived NG picture and why it is there (the caption the archive wrote into it).
#[derive(Debug, serde::Serialize)]
pub struct Archived {
    pub name: String,
    pub caption: Option<String>,
}

/// The archive's images, newest first (their names start with the time), each with its caption.
pub fn archived(dir: &Path) -> Vec<Archived> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()?.file_name().into_string().ok()).filter(|n| is_archive_name(n)).collect())
        .unwrap_or_default();
    names.sort_unstable_by(|a, b| b.cmp(a));
    names.truncate(GALLERY);
    names
        .into_iter()
        .map(|name| {
            let caption = read_head(&dir.join(&name), CAPTION_WINDOW).and_then(|h| caption_of(&h));
            Archived { name, caption }
        })
        .collect()
}

/// The first `n` bytes of a regular file in the archive (no link followed, no FIFO waited on).
fn read_head(path: &Path, n: usize) -> Option<Vec<u8>> {
    let f = open_regular(path, false)?;
    let mut head = Vec::with_capacity(n);
    f.take(n as u64).read_to_end(&mut head).ok()?;
    Some(head)
}

/// An archived image by its name: one the archive wrote, directly in its folder.
pub fn archived_image(dir: &Path, name: &str) -> Option<Vec<u8>> {
    if name.contains('/') || !is_archive_name(name) {
        return None;
    }
    read_image(&dir.join(name), false)
}

/// Reads a regular file of bounded size (no FIFO waited on); a link is followed only where `follow`
/// (a reference the config names may be one; an archive entry never is).
pub fn read_image(path: &Path, follow: bool) -> Option<Vec<u8>> {
    let f = open_regular(path, follow)?;
    let mut bytes = Vec::with_capacity(f.metadata().ok()?.len() as usize);
    f.take(MAX_IMAGE_BYTES).read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

/// A regular file of bounded size, opened without waiting on a FIFO; a link followed only where `follow`.
fn open_regular(path: &Path, follow: bool) -> Option<std::fs::File> {
    let nofollow = if follow { 0 } else { nix::fcntl::OFlag::O_NOFOLLOW.bits() };
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nofollow | nix::fcntl::OFlag::O_NONBLOCK.bits())
        .open(path)
        .ok()?;
    let meta = f.metadata().ok()?;
    (meta.is_file() && meta.len() <= MAX_IMAGE_BYTES).then_some(f)
}

/// The content type of an image file by its extension.
pub fn image_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("jpg" | "jpeg") => "image/jpeg",
        _ => "image/png",
    }
}
