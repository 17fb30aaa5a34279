//! A station's golden set: a labelled folder in the DESIGN format (seal: `manifest.jsonl` with its
//! images; electrode: COCO `annotations.json` with visible and X-ray images), typically 50-200 of the
//! line's own parts. It is checked whole at start (every image readable, every label line valid, every
//! recipe known to the station) and read again for each qualification, so it costs no memory between
//! swaps; a set that has become unreadable since refuses the candidate, never passes it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::sources::replay::{ReplayError, ReplaySource};
use crate::sources::Frame;

/// More samples than this make a qualification slower than a swap should be.
pub const MAX_GOLDEN: usize = 2000;

#[derive(Debug, thiserror::Error)]
pub enum GoldenError {
    #[error("golden set {dir}: {source}")]
    Read { dir: PathBuf, source: ReplayError },
    #[error("golden set {dir}: no manifest.jsonl: a seal golden set names each image's label and reference")]
    NoLabels { dir: PathBuf },
    #[error("golden set {dir}: {image}: {reason}")]
    Unreadable { dir: PathBuf, image: String, reason: String },
    #[error("golden set {dir}: {image}: recipe '{recipe}' has no reference on this station")]
    UnknownRecipe { dir: PathBuf, image: String, recipe: String },
    #[error("golden set {dir}: {n} samples, more than {MAX_GOLDEN}")]
    TooMany { dir: PathBuf, n: usize },
    #[error("golden set {dir}: {missing}, so it cannot give {figure}")]
    CannotGive { dir: PathBuf, missing: &'static str, figure: &'static str },
}

/// One labelled part of the golden set, as the inspection judges it.
pub struct GoldenPart {
    pub frame: Frame,
    pub xray: Option<Frame>,
}

/// What the golden set holds, for the limits that need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holds {
    pub ok: usize,
    pub ng: usize,
}

#[derive(Debug, Clone)]
pub struct GoldenSet {
    dir: PathBuf,
    electrode: bool,
    recipes: BTreeSet<String>,
}

impl GoldenSet {
    /// Opens and checks the whole set. `recipes`: the recipes the station has references for (seal).
    pub fn open(dir: &Path, electrode: bool, recipes: BTreeSet<String>) -> Result<(Self, Holds), GoldenError> {
        let set = Self { dir: dir.to_path_buf(), electrode, recipes };
        let parts = set.parts()?;
        let ng = parts.iter().filter(|p| p.frame.info.label_ng == Some(true)).count();
        Ok((set, Holds { ok: parts.len() - ng, ng }))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How many parts the labels list (0 when they cannot be read: the read that follows says why).
    fn count(&self) -> usize {
        let labels = self.dir.join(if self.electrode { "annotations.json" } else { "manifest.jsonl" });
        let Ok(text) = std::fs::read_to_string(&labels) else { return 0 };
        if self.electrode {
            serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["images"].as_array().map(Vec::len))
                .unwrap_or(0)
        } else {
            text.lines().filter(|l| !l.trim().is_empty()).count()
        }
    }

    /// Every part, read from disk now; any problem refuses the whole set.
    pub fn parts(&self) -> Result<Vec<GoldenPart>, GoldenError> {
        let dir = &self.dir;
        let read = |source| GoldenError::Read { dir: dir.clone(), source };
        // Counted before any image is decoded: an oversized set is refused without its memory.
        let n = self.count();
        if n > MAX_GOLDEN {
            return Err(GoldenError::TooMany { dir: dir.clone(), n });
        }
        let (visible, xray) = if self.electrode {
            let (v, x) = ReplaySource::open_coco(dir, false).map_err(read)?;
            (v, Some(x))
        } else {
            if !dir.join("manifest.jsonl").is_file() {
                return Err(GoldenError::NoLabels { dir: dir.clone() });
            }
            (ReplaySource::open(dir, false).map_err(read)?, None)
        };
        let frames =
            |src: &ReplaySource| -> Result<Vec<Frame>, GoldenError> {
                src.items()
                    .iter()
                    .map(|it| match &it.bad {
                        Some(reason) => Err(GoldenError::Unreadable {
                            dir: dir.clone(),
                            image: it.info.name.clone(),
                            reason: reason.to_string(),
                        }),
                        None => Ok(Frame::still(it.width, it.height, it.format, it.frame_data.clone())
                            .with_info(it.info.clone())),
                    })
                    .collect()
            };
        let vis = frames(&visible)?;
        let mut xr = match &xray {
            Some(x) => frames(x)?.into_iter().map(Some).collect(),
            None => vec![None; vis.len()],
        };
        if !self.electrode {
            for f in &vis {
                let recipe = f.info.recipe.as_deref().unwrap_or_default();
                if !self.recipes.contains(recipe) {
                    return Err(GoldenError::UnknownRecipe {
                        dir: dir.clone(),
                        image: f.info.name.clone(),
                        recipe: recipe.to_string(),
                    });
                }
            }
        }
        Ok(vis.into_iter().zip(xr.drain(..)).map(|(frame, xray)| GoldenPart { frame, xray }).collect())
    }
}
