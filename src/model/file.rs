//! Reading a model file a technician dropped, without trusting it: only a regular file is read (a FIFO
//! or a link to `/dev/zero` would block or never end), opened non-blocking and checked with `fstat` on
//! the open descriptor (no race with a rename), and never more than the configured size. The bytes read
//! are the bytes hashed, checked and handed to ONNX Runtime: nothing reads the path a second time.

use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Largest sidecar (`.sha256`, `.sig`, public key) read: they are a line of hex.
pub const MAX_SIDECAR_BYTES: u64 = 4096;

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{path}: cannot read: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: is a {kind}, not a regular file: refused")]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("{path}: {size} bytes, over the {max}-byte limit (model_updates.max_model_bytes): refused")]
    TooBig { path: PathBuf, size: u64, max: u64 },
}

fn kind(ft: std::fs::FileType) -> &'static str {
    if ft.is_dir() {
        "folder"
    } else if ft.is_fifo() {
        "FIFO"
    } else if ft.is_char_device() {
        "character device"
    } else if ft.is_block_device() {
        "block device"
    } else if ft.is_socket() {
        "socket"
    } else {
        "special file"
    }
}

/// Reads a whole regular file of at most `max` bytes.
pub fn read_regular(path: &Path, max: u64) -> Result<Vec<u8>, FileError> {
    let io = |source| FileError::Io { path: path.to_path_buf(), source };
    // O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting for one.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits() | nix::fcntl::OFlag::O_CLOEXEC.bits())
        .open(path)
        .map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.file_type().is_file() {
        return Err(FileError::NotRegular { path: path.to_path_buf(), kind: kind(meta.file_type()) });
    }
    if meta.len() > max {
        return Err(FileError::TooBig { path: path.to_path_buf(), size: meta.len(), max });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // The file may grow while it is read: never take more than the limit (one byte over tells).
    file.take(max.saturating_add(1)).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > max {
        return Err(FileError::TooBig { path: path.to_path_buf(), size: bytes.len() as u64, max });
    }
    Ok(bytes)
}

/// Reads a small text sidecar (a hash, a signature, a key) the same careful way.
pub fn read_sidecar(path: &Path) -> Result<String, FileError> {
    let bytes = read_regular(path, MAX_SIDECAR_BYTES)?;
    String::from_utf8(bytes).map_err(|e| FileError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_device_folder_and_oversized_files_are_refused_without_blocking() {
        let dir = tempfile::tempdir().expect("tmp");
        let fifo = dir.path().join("m.onnx");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
        assert!(matches!(read_regular(&fifo, 1 << 20), Err(FileError::NotRegular { kind: "FIFO", .. })));

        let zero = dir.path().join("zero.onnx");
        std::os::unix::fs::symlink("/dev/zero", &zero).expect("symlink");
        let e = read_regular(&zero, 1 << 20).expect_err("/dev/zero refused");
        assert!(e.to_string().contains("character device"), "{e}");

        assert!(matches!(read_regular(dir.path(), 1 << 20), Err(FileError::NotRegular { kind: "folder", .. })));

        let big = dir.path().join("big.onnx");
        std::fs::write(&big, vec![0u8; 2048]).expect("write");
        assert!(matches!(read_regular(&big, 1024), Err(FileError::TooBig { size: 2048, .. })));
        assert_eq!(read_regular(&big, 2048).expect("at the limit").len(), 2048);
        assert_eq!(read_sidecar(&big).expect("a small sidecar").len(), 2048);
        std::fs::write(&big, vec![b'0'; 5000]).expect("write");
        assert!(matches!(read_sidecar(&big), Err(FileError::TooBig { .. })), "sidecars are a line of hex");
    }
}
