//! Does the frame look like its recipe's reference at all? A camera knocked to face something else, a
//! fixture loaded with another product, or the wrong recipe for what is on the line gives frames with
//! normal exposure that a seal model, comparing details, may still call OK. Each frame is compared with
//! its recipe's reference on a coarse grid of grey levels (8 x 32 block means, the seal's aspect):
//! the normalised cross-correlation of the two grids is 1 for the same scene whatever the exposure gain
//! and offset, and near 0 or negative for another scene. A frame under the configured similarity is
//! implausible (its part an error, rejected), as a black frame is.
//!
//! Measured on the seal selection data (never on the test sets): OK pairs of the recipe distribution
//! 0.66 at the lowest (0.1 % under 0.71), of the fixed recipes 0.81; a random other recipe's reference
//! 0.16 at the median. The default bound, 0.5, leaves OK parts a wide margin.
//! Sampling on the exposure check's staggered grid (one pass feeds both) does not narrow it: on the 2000
//! selection-pool pairs at 256x64, OK pairs' lowest 0.649 against 0.637 on a plain grid, other recipes'
//! references 0.236 at the median on both.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use super::grey_samples;
use crate::sources::replay::{read_rgb, ReplayError};
use crate::sources::{Frame, PixelFormat};

const ROWS: usize = 8;
const COLS: usize = 32;

/// A frame's coarse grey-level layout: zero mean, unit norm (`None` for a flat frame, which the
/// exposure check refuses anyway).
#[derive(Debug, Clone, PartialEq)]
pub struct Layout([f32; ROWS * COLS]);

/// Block sums of a frame's samples (`grey_samples`), from which its layout follows.
pub struct LayoutSum {
    width: usize,
    height: usize,
    /// Each column's cell, worked out once per frame rather than once per sample (a division each).
    col_cell: Vec<u8>,
    /// The cell row of the row being visited (samples come row by row).
    row: Option<(usize, usize)>,
    sum: [f32; ROWS * COLS],
    n: [u32; ROWS * COLS],
}

impl LayoutSum {
    pub fn new(frame: &Frame) -> Self {
        let (width, height) = (frame.width as usize, frame.height as usize);
        let col_cell = (0..width).map(|x| (x * COLS / width) as u8).collect();
        Self { width, height, col_cell, row: None, sum: [0.0; ROWS * COLS], n: [0; ROWS * COLS] }
    }

    pub fn add(&mut self, x: usize, y: usize, grey: f32) {
        let base = match self.row {
            Some((at, base)) if at == y => base,
            _ => {
                let base = (y * ROWS / self.height) * COLS;
                self.row = Some((y, base));
                base
            }
        };
        let cell = base + self.col_cell[x] as usize;
        self.sum[cell] += grey;
        self.n[cell] += 1;
    }

    /// `None` for a frame smaller than the grid, or flat.
    pub fn finish(self) -> Option<Layout> {
        if self.width < COLS || self.height < ROWS {
            return None;
        }
        // A cell no sample fell in (a strip a few rows high) counts as black, alike in frame and reference.
        let means: Vec<f64> =
            self.sum.iter().zip(&self.n).map(|(&s, &k)| if k > 0 { s as f64 / k as f64 } else { 0.0 }).collect();
        let mean = means.iter().sum::<f64>() / means.len() as f64;
        let norm = means.iter().map(|m| (m - mean) * (m - mean)).sum::<f64>().sqrt();
        // Grey levels are fractions of full scale: this is well under one grey level of 255 in any cell.
        if norm < 1e-6 {
            return None;
        }
        let mut out = [0f32; ROWS * COLS];
        for (o, m) in out.iter_mut().zip(&means) {
            *o = ((m - mean) / norm) as f32;
        }
        Some(Layout(out))
    }
}

impl Layout {
    pub fn of(frame: &Frame) -> Option<Self> {
        let mut sum = LayoutSum::new(frame);
        grey_samples::for_each(frame, |x, y, g| sum.add(x, y, g)).then(|| sum.finish()).flatten()
    }

    /// Normalised cross-correlation, -1..1.
    pub fn similarity(&self, other: &Layout) -> f32 {
        self.0.iter().zip(&other.0).map(|(a, b)| a * b).sum()
    }
}

/// A frame too unlike its recipe's reference.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("frame far from recipe '{recipe}''s reference: similarity {similarity:.2} < {min}")]
pub struct FarFromReference {
    pub recipe: String,
    pub similarity: f32,
    pub min: f32,
}

#[derive(Debug, thiserror::Error)]
pub enum ReferenceLayoutError {
    #[error("reference of recipe '{recipe}': {source}")]
    Read { recipe: String, source: ReplayError },
    #[error("reference of recipe '{recipe}' ({path}) is flat or smaller than 32x8: it shows no part")]
    Flat { recipe: String, path: PathBuf },
}

/// Every recipe's reference layout and the least similarity a frame must have to its own. Clones share
/// the layouts: a taught reference that takes over replaces its recipe's for the capture thread too.
#[derive(Debug, Clone)]
pub struct ReferenceCheck {
    min: f32,
    layouts: Arc<RwLock<BTreeMap<String, Layout>>>,
}

impl ReferenceCheck {
    /// Reads each recipe's reference image.
    pub fn new(min: f32, references: &BTreeMap<String, PathBuf>) -> Result<Self, ReferenceLayoutError> {
        let mut layouts = BTreeMap::new();
        for (recipe, path) in references {
            layouts.insert(recipe.clone(), layout_of(recipe, path)?);
        }
        Ok(Self { min, layouts: Arc::new(RwLock::new(layouts)) })
    }

    /// `recipe`'s reference layout from an image file (a taught candidate, checked before it takes over).
    pub fn layout(recipe: &str, path: &Path) -> Result<Layout, ReferenceLayoutError> {
        layout_of(recipe, path)
    }

    /// Frames of `recipe` are compared with `layout` from now on (a taught reference took over).
    pub fn set(&self, recipe: &str, layout: Layout) {
        self.layouts.write().unwrap_or_else(PoisonError::into_inner).insert(recipe.to_string(), layout);
    }

    /// A recipe with no reference here is not checked: the model step refuses it with its own error.
    /// `layout` is the frame's (`None`: it has none, and is refused).
    pub fn check(&self, recipe: &str, layout: Option<&Layout>) -> Result<(), FarFromReference> {
        let layouts = self.layouts.read().unwrap_or_else(PoisonError::into_inner);
        let Some(reference) = layouts.get(recipe) else { return Ok(()) };
        let similarity = layout.map_or(0.0, |l| l.similarity(reference));
        if similarity < self.min {
            return Err(FarFromReference { recipe: recipe.into(), similarity, min: self.min });
        }
        Ok(())
    }
}

fn layout_of(recipe: &str, path: &Path) -> Result<Layout, ReferenceLayoutError> {
    let (width, height, data) =
        read_rgb(path).map_err(|source| ReferenceLayoutError::Read { recipe: recipe.to_string(), source })?;
    let frame = Frame::still(width, height, PixelFormat::Rgb8, data);
    Layout::of(&frame).ok_or_else(|| ReferenceLayoutError::Flat { recipe: recipe.to_string(), path: path.into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A seal-like frame: horizontal bands, with `gain` and `offset` on its grey levels.
    fn bands(w: u32, h: u32, gain: f32, offset: f32, vertical: bool) -> Frame {
        let mut data = Vec::with_capacity((w * h * 3) as usize);
        for y in 0..h {
            for x in 0..w {
                let t = if vertical { x as f32 / w as f32 } else { y as f32 / h as f32 };
                let level =
                    if ((t * 5.0) as u32).is_multiple_of(2) { 60.0 } else { 170.0 } + ((x * 7 + y * 13) % 11) as f32;
                let g = (level * gain + offset).clamp(0.0, 255.0) as u8;
                data.extend([g, g, g]);
            }
        }
        Frame::still(w, h, PixelFormat::Rgb8, data)
    }

    #[test]
    fn the_same_scene_is_similar_whatever_the_exposure_and_another_is_not() {
        let reference = Layout::of(&bands(512, 128, 1.0, 0.0, false)).expect("textured");
        let brighter = Layout::of(&bands(512, 128, 1.3, 20.0, false)).expect("textured");
        assert!(reference.similarity(&brighter) > 0.95, "{}", reference.similarity(&brighter));
        let other_size = Layout::of(&bands(640, 160, 0.8, 0.0, false)).expect("textured");
        assert!(reference.similarity(&other_size) > 0.9, "a camera of another resolution sees the same layout");
        let turned = Layout::of(&bands(512, 128, 1.0, 0.0, true)).expect("textured");
        assert!(reference.similarity(&turned) < 0.3, "{}", reference.similarity(&turned));
    }

    #[test]
    fn a_frame_unlike_its_recipes_reference_is_refused_naming_recipe_and_similarity() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ref.png");
        let r = bands(512, 128, 1.0, 0.0, false);
        image::RgbImage::from_raw(r.width, r.height, r.data.to_vec()).expect("image").save(&path).expect("save");
        let check = ReferenceCheck::new(0.5, &BTreeMap::from([("a".to_string(), path)])).expect("reference");
        assert_eq!(check.check("a", Layout::of(&bands(512, 128, 0.9, 10.0, false)).as_ref()), Ok(()));
        let e = check.check("a", Layout::of(&bands(512, 128, 1.0, 0.0, true)).as_ref()).expect_err("another scene");
        assert_eq!((e.recipe.as_str(), e.min), ("a", 0.5));
        assert!(e.to_string().starts_with("frame far from recipe 'a''s reference: similarity"), "{e}");
        assert_eq!(
            check.check("unknown", Layout::of(&bands(64, 64, 1.0, 0.0, true)).as_ref()),
            Ok(()),
            "left to the model step"
        );
        assert!(
            check.check("a", Layout::of(&Frame::still(4, 4, PixelFormat::Rgb8, vec![0; 48])).as_ref()).is_err(),
            "a frame too small has no layout"
        );
    }

    #[test]
    fn a_flat_reference_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("grey.png");
        image::RgbImage::from_pixel(256, 64, image::Rgb([128, 128, 128])).save(&path).expect("save");
        let e = ReferenceCheck::new(0.5, &BTreeMap::from([("g".to_string(), path)])).expect_err("flat");
        assert!(matches!(e, ReferenceLayoutError::Flat { .. }), "{e}");
    }
}
