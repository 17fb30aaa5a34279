//! Replays images from a folder as if a camera delivered them.
//!
//! A folder with `manifest.jsonl` is read as a DESIGN seal dataset: frames carry their label, defect and
//! recipe (the reference file's stem). Any other folder is replayed as its images sorted by name. Images
//! are decoded once at open, so replay costs what a camera's frame hand-over costs, not a PNG decode.
//! An image that cannot be read (undecodable, too large, not a regular file) is logged at open and
//! replayed as a bad frame: its part is rejected and counted, the replay goes on.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::Deserialize;

use super::image_file::{self, ImageFileError};
use super::{Frame, FrameInfo, FrameSource, PixelFormat, SourceError};

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{path}: cannot read: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Image(#[from] ImageFileError),
    #[error("{path}:{line}: {reason}")]
    Manifest { path: PathBuf, line: usize, reason: String },
    #[error("{0}: no images (.png, .jpg) in it")]
    Empty(PathBuf),
}

#[derive(Deserialize)]
struct Coco {
    images: Vec<CocoImage>,
    #[serde(default)]
    annotations: Vec<CocoAnnotation>,
}

#[derive(Deserialize)]
struct CocoImage {
    id: u64,
    file_name: String,
    #[serde(default)]
    xray_file_name: Option<String>,
}

#[derive(Deserialize)]
struct CocoAnnotation {
    image_id: u64,
    category_id: usize,
    /// x, y, width, height in the visible image's pixels.
    #[serde(default)]
    bbox: Option<[f32; 4]>,
}

#[derive(Debug, Deserialize)]
struct ManifestRow {
    image: String,
    reference: String,
    label: String,
    #[serde(default)]
    defect: Option<String>,
}

/// One replayed image and what is known of it.
#[derive(Clone)]
pub struct ReplayItem {
    pub format: PixelFormat,
    pub frame_data: Arc<[u8]>,
    pub width: u32,
    pub height: u32,
    pub info: Arc<FrameInfo>,
    /// Why the image could not be read: replayed as a bad frame.
    pub bad: Option<Arc<str>>,
}

impl ReplayItem {
    /// An image that could not be read, replayed as a bad frame.
    fn unreadable(e: &ImageFileError, format: PixelFormat, info: FrameInfo) -> Self {
        log::warn!("replay: {e}; its part will be rejected as a bad frame");
        Self {
            format,
            frame_data: Arc::from([]),
            width: 0,
            height: 0,
            info: Arc::new(info),
            bad: Some(e.to_string().into()),
        }
    }
}

pub struct ReplaySource {
    root: PathBuf,
    items: Vec<ReplayItem>,
    next: usize,
    looped: bool,
    sequence: u64,
    /// Recipe name -> reference image path, from a dataset manifest.
    pub references: BTreeMap<String, PathBuf>,
}

/// Decodes an image file to RGB8, under the decoder bounds of `image_file`.
pub fn read_rgb(path: &Path) -> Result<(u32, u32, Vec<u8>), ReplayError> {
    let rgb = image_file::open(path)?.into_rgb8();
    Ok((rgb.width(), rgb.height(), rgb.into_raw()))
}

impl ReplaySource {
    pub fn open(root: &Path, looped: bool) -> Result<Self, ReplayError> {
        let manifest = root.join("manifest.jsonl");
        let (items, references) = if manifest.is_file() {
            Self::read_dataset(root, &manifest)?
        } else {
            (Self::read_folder(root)?, BTreeMap::new())
        };
        if items.is_empty() {
            return Err(ReplayError::Empty(root.to_path_buf()));
        }
        Ok(Self { root: root.to_path_buf(), items, next: 0, looped, sequence: 0, references })
    }

    fn item(path: &Path, info: FrameInfo) -> ReplayItem {
        match image_file::open(path) {
            Ok(img) => {
                let rgb = img.into_rgb8();
                let (width, height) = rgb.dimensions();
                let info = Arc::new(info);
                ReplayItem {
                    format: PixelFormat::Rgb8,
                    frame_data: rgb.into_raw().into(),
                    width,
                    height,
                    info,
                    bad: None,
                }
            }
            Err(e) => ReplayItem::unreadable(&e, PixelFormat::Rgb8, info),
        }
    }

    fn read_folder(root: &Path) -> Result<Vec<ReplayItem>, ReplayError> {
        let io = |source| ReplayError::Io { path: root.to_path_buf(), source };
        let mut paths: Vec<PathBuf> = std::fs::read_dir(root)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                matches!(
                    p.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref(),
                    Some("png" | "jpg" | "jpeg")
                )
            })
            // Only regular files (links followed, nothing opened): a FIFO named *.png would block the start.
            .filter(|p| {
                let regular = p.metadata().is_ok_and(|m| m.is_file());
                if !regular {
                    log::warn!("replay: {} is not a regular file: skipped", p.display());
                }
                regular
            })
            .collect();
        paths.sort();
        Ok(paths
            .iter()
            .map(|p| {
                let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                Self::item(p, FrameInfo { name, ..FrameInfo::default() })
            })
            .collect())
    }

    #[allow(clippy::type_complexity)]
    fn read_dataset(root: &Path, manifest: &Path) -> Result<(Vec<ReplayItem>, BTreeMap<String, PathBuf>), ReplayError> {
        let text = std::fs::read_to_string(manifest)
            .map_err(|source| ReplayError::Io { path: manifest.to_path_buf(), source })?;
        let mut items = Vec::new();
        let mut refs = BTreeMap::new();
        let mut recipe_names: BTreeMap<String, Arc<str>> = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let bad = |reason: String| ReplayError::Manifest { path: manifest.to_path_buf(), line: n + 1, reason };
            let row: ManifestRow = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
            let label_ng = match row.label.as_str() {
                "ok" => false,
                "ng" => true,
                other => return Err(bad(format!("label must be 'ok' or 'ng', got '{other}'"))),
            };
            let recipe = Path::new(&row.reference)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .ok_or_else(|| bad("reference has no file name".into()))?;
            refs.entry(recipe.clone()).or_insert_with(|| root.join(&row.reference));
            let recipe = recipe_names.entry(recipe.clone()).or_insert_with(|| recipe.into()).clone();
            items.push(Self::item(
                &root.join(&row.image),
                FrameInfo {
                    name: row.image.clone(),
                    recipe: Some(recipe),
                    label_ng: Some(label_ng),
                    defect: row.defect,
                    label_boxes: Vec::new(),
                },
            ));
        }
        Ok((items, refs))
    }

    /// An electrode folder in the DESIGN COCO format as two sources, visible (RGB) and X-ray (grey), in
    /// the same order; an image with any annotation is labelled NG.
    pub fn open_coco(root: &Path, looped: bool) -> Result<(Self, Self), ReplayError> {
        let path = root.join("annotations.json");
        let text = std::fs::read_to_string(&path).map_err(|source| ReplayError::Io { path: path.clone(), source })?;
        let bad = |reason: String| ReplayError::Manifest { path: path.clone(), line: 0, reason };
        let coco: Coco = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let mut vis = Vec::with_capacity(coco.images.len());
        let mut xray = Vec::with_capacity(coco.images.len());
        for im in &coco.images {
            let x = im.xray_file_name.as_ref().ok_or_else(|| bad(format!("image {}: no xray_file_name", im.id)))?;
            let labelled: Vec<(&'static str, Option<[f32; 4]>)> = coco
                .annotations
                .iter()
                .filter(|a| a.image_id == im.id)
                .filter_map(|a| {
                    let class = crate::model::manifest::ELECTRODE_LABELS.get(a.category_id.wrapping_sub(1))?;
                    Some((*class, a.bbox))
                })
                .collect();
            let defects: Vec<&str> = labelled.iter().map(|(c, _)| *c).collect();
            let info = FrameInfo {
                name: im.file_name.clone(),
                recipe: None,
                label_ng: Some(!defects.is_empty()),
                defect: (!defects.is_empty()).then(|| defects.join("+")),
                label_boxes: labelled
                    .iter()
                    .filter_map(|(c, b)| b.map(|[x, y, w, h]| (*c, [x, y, x + w, y + h])))
                    .collect(),
            };
            vis.push(Self::item(&root.join(&im.file_name), info));
            let x_info = FrameInfo { name: x.clone(), ..FrameInfo::default() };
            xray.push(match image_file::open(&root.join(x)) {
                Ok(img) => {
                    let g = img.into_luma8();
                    let (width, height) = g.dimensions();
                    let info = Arc::new(x_info);
                    ReplayItem {
                        format: PixelFormat::Gray8,
                        frame_data: g.into_raw().into(),
                        width,
                        height,
                        info,
                        bad: None,
                    }
                }
                Err(e) => ReplayItem::unreadable(&e, PixelFormat::Gray8, x_info),
            });
        }
        if vis.is_empty() {
            return Err(ReplayError::Empty(root.to_path_buf()));
        }
        let source =
            |items| Self { root: root.to_path_buf(), items, next: 0, looped, sequence: 0, references: BTreeMap::new() };
        Ok((source(vis), source(xray)))
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn items(&self) -> &[ReplayItem] {
        &self.items
    }
}

impl FrameSource for ReplaySource {
    fn capture(&mut self, after: Instant) -> Result<Frame, SourceError> {
        if self.next >= self.items.len() {
            if !self.looped {
                return Err(SourceError::Ended);
            }
            self.next = 0;
        }
        let it = &self.items[self.next];
        self.next += 1;
        self.sequence += 1;
        if let Some(why) = &it.bad {
            return Err(SourceError::BadFrame(why.to_string()));
        }
        Ok(Frame::still(it.width, it.height, it.format, it.frame_data.clone())
            .exposed(after.max(Instant::now()), self.sequence)
            .with_info(it.info.clone()))
    }

    fn describe(&self) -> String {
        format!(
            "replay {} ({} images{})",
            self.root.display(),
            self.items.len(),
            if self.looped { ", looped" } else { "" }
        )
    }
}
