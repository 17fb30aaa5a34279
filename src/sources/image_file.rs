//! Every image the station reads (replayed frames, recipe references, calibration pictures, MJPEG
//! frames) is decoded here, under bounds: a small file can declare a huge picture (a 388 KB PNG of
//! 20000x20000 took 2.37 GB), so the decoder is told the largest size and allocation it may make, and
//! anything beyond is refused before the pixels are allocated. Files are opened without blocking and only
//! regular files are read: a FIFO or a device named `*.png` would otherwise hang the reader.

use std::fs::File;
use std::io::{Cursor, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageError, ImageFormat, ImageReader, Limits};

/// Widest and tallest picture decoded: above any camera or X-ray imager the station drives.
pub const MAX_SIDE: u32 = 8192;
/// Most memory one decode may take (8192 x 8192 RGB is 192 MiB).
pub const MAX_DECODED_BYTES: u64 = 256 * 1024 * 1024;
/// Largest image file read (compressed bytes).
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ImageFileError {
    #[error("{path}: cannot read: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a regular file (a FIFO, device or socket is never read)")]
    NotRegular { path: PathBuf },
    #[error("{path}: file over {MAX_FILE_BYTES} bytes")]
    FileTooLarge { path: PathBuf },
    #[error(
        "{path}: picture too large to decode ({reason}; at most {MAX_SIDE}x{MAX_SIDE}, {MAX_DECODED_BYTES} bytes)"
    )]
    TooLarge { path: PathBuf, reason: String },
    #[error("{path}: not an image this station can read: {reason}")]
    Decode { path: PathBuf, reason: String },
}

/// The decoder bounds every image read goes through.
pub fn limits() -> Limits {
    let mut l = Limits::default();
    l.max_image_width = Some(MAX_SIDE);
    l.max_image_height = Some(MAX_SIDE);
    l.max_alloc = Some(MAX_DECODED_BYTES);
    l
}

/// Reads and decodes an image file under the bounds; the format is taken from the content.
pub fn open(path: &Path) -> Result<DynamicImage, ImageFileError> {
    let io = |source| ImageFileError::Io { path: path.to_path_buf(), source };
    // O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting for one.
    let file = std::fs::OpenOptions::new().read(true).custom_flags(nix::libc::O_NONBLOCK).open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(ImageFileError::NotRegular { path: path.to_path_buf() });
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(ImageFileError::FileTooLarge { path: path.to_path_buf() });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    Read::take(&file as &File, MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ImageFileError::FileTooLarge { path: path.to_path_buf() });
    }
    let reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(io)?;
    decode_with(reader, path)
}

/// Decodes image bytes of a known format under the bounds (`what` names them in errors).
pub fn decode(bytes: &[u8], format: ImageFormat, what: &Path) -> Result<DynamicImage, ImageFileError> {
    let mut reader = ImageReader::new(Cursor::new(bytes));
    reader.set_format(format);
    decode_with(reader, what)
}

fn decode_with<R: std::io::BufRead + std::io::Seek>(
    mut reader: ImageReader<R>,
    path: &Path,
) -> Result<DynamicImage, ImageFileError> {
    reader.limits(limits());
    reader.decode().map_err(|e| match e {
        ImageError::Limits(l) => ImageFileError::TooLarge { path: path.to_path_buf(), reason: l.to_string() },
        other => ImageFileError::Decode { path: path.to_path_buf(), reason: other.to_string() },
    })
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A PNG that declares `width` x `height` grey pixels but carries one row of them (`width` < 65535):
    /// the size in the header is what a decoder without bounds allocates for, as with a decompression
    /// bomb, while the file stays small.
    pub fn bomb_png(width: u32, height: u32) -> Vec<u8> {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&width.to_be_bytes());
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit grey, deflate, no filter, no interlace
        chunk(&mut png, b"IHDR", &ihdr);
        // zlib header, then one final stored deflate block: a filter byte and a row of zeros.
        let len = (width as u16).wrapping_add(1);
        let mut z = vec![0x78, 0x01, 0x01];
        z.extend_from_slice(&len.to_le_bytes());
        z.extend_from_slice(&(!len).to_le_bytes());
        z.extend(std::iter::repeat_n(0u8, len as usize));
        chunk(&mut png, b"IDAT", &z);
        chunk(&mut png, b"IEND", &[]);
        png
    }

    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let mut crc = crc32(kind, 0xFFFF_FFFF);
        crc = crc32(data, crc);
        out.extend_from_slice(&(!crc).to_be_bytes());
    }

    fn crc32(bytes: &[u8], mut crc: u32) -> u32 {
        for &b in bytes {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = if crc & 1 != 0 { 0xEDB8_8320 ^ (crc >> 1) } else { crc >> 1 };
            }
        }
        crc
    }

    #[test]
    fn a_picture_that_declares_a_huge_size_is_refused_before_it_is_allocated() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("bomb.png");
        let bomb = bomb_png(20_000, 20_000);
        assert!(bomb.len() < 30_000, "{} bytes", bomb.len());
        std::fs::write(&p, &bomb).expect("write");
        match open(&p) {
            Err(ImageFileError::TooLarge { .. }) => {}
            Err(e) => panic!("refused for the wrong reason: {e}"),
            Ok(img) => panic!("decoded {}x{}", img.width(), img.height()),
        }
    }

    #[test]
    fn a_fifo_is_refused_without_waiting_for_a_writer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("frame.png");
        nix::unistd::mkfifo(&p, nix::sys::stat::Mode::S_IRUSR | nix::sys::stat::Mode::S_IWUSR).expect("mkfifo");
        assert!(matches!(open(&p), Err(ImageFileError::NotRegular { .. })));
    }

    #[test]
    fn a_normal_picture_decodes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("ok.png");
        image::GrayImage::from_pixel(64, 32, image::Luma([7])).save(&p).expect("png");
        let img = open(&p).expect("decodes");
        assert_eq!((img.width(), img.height()), (64, 32));
    }
}
