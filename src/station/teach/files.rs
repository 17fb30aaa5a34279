//! The files of a taught reference, beside the recipe's reference: `<stem>.candidate.png` (kept from the
//! camera, not yet used), `<stem>.previous.png` (the reference a confirm replaced). Every write is a
//! temporary file renamed into place, so a reader never sees half an image.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::TeachError;
use crate::control::Taught;
use crate::sinks::ng_archive::encode_png;
use crate::sources::Frame;

/// Where a recipe's reference, its candidate and its previous reference live.
#[derive(Debug, Clone)]
pub struct Paths {
    pub reference: PathBuf,
    pub candidate: PathBuf,
    pub previous: PathBuf,
}

impl Paths {
    pub fn of(reference: &Path) -> Self {
        let stem = reference.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let beside = |suffix: &str| reference.with_file_name(format!("{stem}.{suffix}.png"));
        Self { reference: reference.to_path_buf(), candidate: beside("candidate"), previous: beside("previous") }
    }
}

/// Writes `frame` as the candidate PNG (temporary file, then renamed over an older candidate).
pub fn write_candidate(paths: &Paths, frame: &Frame) -> Result<Taught, TeachError> {
    let png = encode_png(frame).map_err(TeachError::Encode)?;
    let path = &paths.candidate;
    let tmp = path.with_extension("png.tmp");
    let io = |source| TeachError::Write { path: path.clone(), source };
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    f.write_all(&png).and_then(|()| f.sync_all()).map_err(io)?;
    rename(&tmp, path)?;
    Ok(Taught { path: path.clone(), width: frame.width, height: frame.height, bytes: png.len() as u64 })
}

/// One atomic rename, its error naming both paths.
pub fn rename(from: &Path, to: &Path) -> Result<(), TeachError> {
    std::fs::rename(from, to).map_err(|source| TeachError::Rename { from: from.into(), to: to.into(), source })
}

/// Puts `new` in the reference's place and the reference where `new` was kept: a confirm (`new`: the
/// candidate, the reference going to `previous`) or a rollback (`new`: `previous`, the two trading
/// places, so a second rollback undoes the first). Each step is a rename; a failed one is undone.
pub fn install(paths: &Paths, new: &Path) -> Result<(), TeachError> {
    let parked = paths.reference.with_extension("png.swap");
    rename(&paths.reference, &parked)?;
    if let Err(e) = rename(new, &paths.reference) {
        let _ = rename(&parked, &paths.reference);
        return Err(e);
    }
    rename(&parked, &paths.previous)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::PixelFormat;

    #[test]
    fn candidate_and_previous_sit_beside_the_reference_and_install_trades_places() {
        let dir = tempfile::tempdir().expect("tmp");
        let paths = Paths::of(&dir.path().join("recipe-a.png"));
        assert_eq!(paths.candidate, dir.path().join("recipe-a.candidate.png"));
        assert_eq!(paths.previous, dir.path().join("recipe-a.previous.png"));
        std::fs::write(&paths.reference, b"old").expect("write");
        let frame = Frame::still(4, 2, PixelFormat::Gray8, vec![7; 8]);
        let taught = write_candidate(&paths, &frame).expect("candidate");
        assert_eq!((taught.width, taught.height), (4, 2));
        assert_eq!(taught.bytes, std::fs::metadata(&paths.candidate).expect("written").len());
        install(&paths, &paths.candidate).expect("confirm");
        assert!(!paths.candidate.exists());
        assert_eq!(std::fs::read(&paths.previous).expect("previous"), b"old");
        let new = std::fs::read(&paths.reference).expect("reference");
        assert_eq!(&new[1..4], b"PNG");
        install(&paths, &paths.previous).expect("rollback");
        assert_eq!(std::fs::read(&paths.reference).expect("reference"), b"old");
        assert_eq!(std::fs::read(&paths.previous).expect("previous"), new);
    }
}
