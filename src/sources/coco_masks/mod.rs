//! The label masks of an electrode folder in the DESIGN COCO format: each image's annotations drawn into
//! one class map (0 = background, else the category id) at the model's segmentation size, exactly as
//! `scripts/ml/electrode_data.py` draws them (polygons as Pillow fills them, RLE runs column-major, each
//! annotation's mask resized nearest-neighbour as Pillow resizes, larger boxes first so that smaller
//! defects drawn last win overlaps). `cellgate evaluate` measures segmentation IoU against these.

mod polygon;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::image_file::MAX_SIDE;

#[derive(Debug, thiserror::Error)]
pub enum LabelMaskError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {reason}")]
    Json { path: PathBuf, reason: String },
    #[error("{file}: no such image in annotations.json")]
    UnknownImage { file: String },
    #[error("{file}: size: {reason}")]
    Size { file: String, reason: String },
    #[error("{file}: annotation of category {category}: {reason}")]
    Annotation { file: String, category: usize, reason: String },
}

#[derive(Deserialize)]
struct Coco {
    images: Vec<CocoImage>,
    #[serde(default)]
    annotations: Vec<Annotation>,
}

#[derive(Deserialize)]
struct CocoImage {
    id: u64,
    file_name: String,
}

#[derive(Deserialize)]
struct Annotation {
    image_id: u64,
    category_id: usize,
    #[serde(default)]
    bbox: Option<[f64; 4]>,
    #[serde(default)]
    segmentation: Option<Segmentation>,
}

/// Polygons (x, y, x, y, ...) or run-length encoding.
#[derive(Deserialize)]
#[serde(untagged)]
enum Segmentation {
    Polygons(Vec<Vec<f64>>),
    Rle { counts: RleCounts },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RleCounts {
    Runs(Vec<i64>),
    /// COCO's compressed string.
    Compressed(String),
}

/// The annotations of every image of a folder, ready to be drawn.
pub struct LabelMasks {
    root: PathBuf,
    /// By visible file name; each image's annotations by decreasing box area (ties in file order).
    by_file: HashMap<String, Vec<Annotation>>,
}

impl LabelMasks {
    /// Reads `root/annotations.json`.
    pub fn open(root: &Path) -> Result<Self, LabelMaskError> {
        let path = root.join("annotations.json");
        let text =
            std::fs::read_to_string(&path).map_err(|source| LabelMaskError::Io { path: path.clone(), source })?;
        let coco: Coco = serde_json::from_str(&text)
            .map_err(|e| LabelMaskError::Json { path: path.clone(), reason: e.to_string() })?;
        let names: HashMap<u64, &str> = coco.images.iter().map(|im| (im.id, im.file_name.as_str())).collect();
        let mut by_file: HashMap<String, Vec<Annotation>> =
            coco.images.iter().map(|im| (im.file_name.clone(), Vec::new())).collect();
        for a in coco.annotations {
            if let Some(list) = names.get(&a.image_id).and_then(|name| by_file.get_mut(*name)) {
                list.push(a);
            }
        }
        let area = |a: &Annotation| a.bbox.map_or(0.0, |b| b[2] * b[3]);
        for list in by_file.values_mut() {
            list.sort_by(|a, b| area(b).total_cmp(&area(a)));
        }
        Ok(Self { root: root.to_path_buf(), by_file })
    }

    /// The class map of the image `file` (as named in `annotations.json`) at `size` (width, height),
    /// row-major.
    pub fn mask(&self, file: &str, size: (usize, usize)) -> Result<Vec<u8>, LabelMaskError> {
        let annotations = self.by_file.get(file).ok_or_else(|| LabelMaskError::UnknownImage { file: file.into() })?;
        let mut out = vec![0u8; size.0 * size.1];
        if annotations.is_empty() {
            return Ok(out);
        }
        // The labels are in the visible image's pixels: its header gives its size.
        let size_err = |reason: String| LabelMaskError::Size { file: file.into(), reason };
        let (w, h) = image::image_dimensions(self.root.join(file)).map_err(|e| size_err(e.to_string()))?;
        if w > MAX_SIDE || h > MAX_SIDE {
            return Err(size_err(format!("{w}x{h} is over {MAX_SIDE} pixels a side")));
        }
        let (w, h) = (w as usize, h as usize);
        for a in annotations {
            let bad =
                |reason: String| LabelMaskError::Annotation { file: file.into(), category: a.category_id, reason };
            let class = u8::try_from(a.category_id).map_err(|_| bad("category id over 255".into()))?;
            let drawn =
                draw(a.segmentation.as_ref().ok_or_else(|| bad("no segmentation".into()))?, w, h).map_err(bad)?;
            let drawn = if (w, h) == size { drawn } else { resize_nearest(&drawn, (w, h), size) };
            for (o, _) in out.iter_mut().zip(&drawn).filter(|(_, &on)| on) {
                *o = class;
            }
        }
        Ok(out)
    }
}

/// One annotation's pixels on a `w` x `h` image.
fn draw(seg: &Segmentation, w: usize, h: usize) -> Result<Vec<bool>, String> {
    let mut mask = vec![false; w * h];
    match seg {
        Segmentation::Polygons(polys) => {
            for p in polys {
                if p.len() < 4 {
                    return Err(format!("a polygon of {} coordinates: at least 2 points are needed", p.len()));
                }
                polygon::fill(&mut mask, w, h, p);
            }
        }
        Segmentation::Rle { counts } => {
            let runs = match counts {
                RleCounts::Runs(r) => r.clone(),
                RleCounts::Compressed(s) => decompress(s)?,
            };
            // Column-major runs, background first.
            let (mut at, mut on) = (0usize, false);
            for &n in &runs {
                let n = usize::try_from(n).map_err(|_| format!("a negative run ({n})"))?;
                let end = at.checked_add(n).filter(|&e| e <= w * h);
                let end = end.ok_or_else(|| format!("runs cover more than the image's {} pixels", w * h))?;
                if on {
                    for p in at..end {
                        mask[(p % h) * w + p / h] = true;
                    }
                }
                (at, on) = (end, !on);
            }
        }
    }
    Ok(mask)
}

/// COCO's compressed RLE string: each count in 5-bit groups (ASCII from '0', bit 5 = more groups, bit 4 of
/// the last group = negative), from the third on as a difference from the count two before.
fn decompress(s: &str) -> Result<Vec<i64>, String> {
    let bytes = s.as_bytes();
    let mut out: Vec<i64> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let (mut x, mut k) = (0i64, 0u32);
        loop {
            let c = i64::from(*bytes.get(i).ok_or("the compressed counts end inside a count")?) - 48;
            if k >= 12 {
                return Err("a compressed count longer than 12 groups".into());
            }
            x |= (c & 0x1f) << (5 * k);
            i += 1;
            k += 1;
            if c & 0x20 == 0 {
                if c & 0x10 != 0 {
                    x |= -1i64 << (5 * k);
                }
                break;
            }
        }
        if out.len() > 2 {
            x += out[out.len() - 2];
        }
        out.push(x);
    }
    Ok(out)
}

/// `src` (`from` width, height) resized to `to` nearest-neighbour as Pillow's `Image.resize(NEAREST)`
/// does: output pixel i samples the source at floor((i + 0.5) * scale), the position stepped in double
/// precision.
fn resize_nearest(src: &[bool], from: (usize, usize), to: (usize, usize)) -> Vec<bool> {
    let xs = nearest(from.0, to.0);
    let ys = nearest(from.1, to.1);
    let mut out = Vec::with_capacity(to.0 * to.1);
    for &y in &ys {
        out.extend(xs.iter().map(|&x| src[y * from.0 + x]));
    }
    out
}

fn nearest(from: usize, to: usize) -> Vec<usize> {
    let scale = from as f64 / to as f64;
    let mut at = scale * 0.5;
    (0..to)
        .map(|_| {
            let i = (at as usize).min(from.saturating_sub(1));
            at += scale;
            i
        })
        .collect()
}

#[cfg(test)]
mod tests;
