//! Entry points shared by the fuzz targets (`fuzz/`, nightly `cargo fuzz`) and the corpus replay test
//! (`tests/fuzz_corpus.rs`, stable), so the corpus guards exactly what was fuzzed.
//!
//! Each takes the fuzzer's raw bytes, feeds them to the station's own parser or decoder, and returns
//! normally whatever the outcome. It panics only when a property the station relies on is broken: that
//! panic is the finding. Not used by the station itself.

use std::path::Path;

use crate::config::{ConfigError, StationConfig};
use crate::inspect::preprocess::Preprocessor;
use crate::model::manifest::{
    Dim, GraphRole, GraphTensor, Manifest, Task, TensorSpec, MAX_EMBEDDING_VALUES, MAX_IMAGE_SIDE,
};
use crate::sources::v4l2::convert::{convert, CameraFormat};
use crate::sources::PixelFormat;

/// Config text, parsed and validated against the files in `base_dir` (relative paths resolve there).
/// A config is either valid or refused with an error that names a key and says what is wrong.
pub fn station_config(data: &[u8], base_dir: &Path) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match StationConfig::parse(text, Path::new("fuzz.json"), base_dir) {
        Ok(cfg) => assert_eq!(cfg.base_dir, base_dir),
        Err(ConfigError::Invalid { key, problem, .. }) => {
            assert!(!key.trim().is_empty(), "error without a key: {problem}");
            assert!(!problem.trim().is_empty(), "error on '{key}' without a problem");
        }
        Err(ConfigError::Syntax { line, problem, .. }) => {
            assert!(line >= 1, "a syntax error with no line: {problem}");
            assert!(!problem.trim().is_empty(), "a syntax error without a problem");
        }
        Err(e @ ConfigError::Read { .. }) => panic!("parse does not read files, yet: {e}"),
    }
}

/// A model manifest (the JSON in the ONNX metadata): parsed, checked against the graph it describes,
/// and against every task's contract. What a contract accepts, the station must be able to build.
pub fn model_manifest(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(m) = Manifest::parse(text) else {
        return;
    };
    // The graph the manifest describes (named dimensions dynamic) always matches it ...
    let graph = |specs: &[TensorSpec]| -> Vec<GraphTensor> {
        specs
            .iter()
            .map(|s| GraphTensor {
                name: s.name.clone(),
                shape: s.shape.iter().map(|d| if let Dim::Fixed(v) = d { *v } else { -1 }).collect(),
                is_f32: true,
            })
            .collect()
    };
    let (inputs, outputs) = (graph(&m.inputs), graph(&m.outputs));
    if let Err(e) = m.check_graph(&inputs, &outputs) {
        panic!("a manifest must match the graph it describes: {e}");
    }
    // ... and one whose first output is not float32 never does.
    if let Some(first) = outputs.first() {
        let mut other = outputs.clone();
        other[0] = GraphTensor { is_f32: false, ..first.clone() };
        assert!(m.check_graph(&inputs, &other).is_err(), "non-float output '{}' accepted", first.name);
    }
    for task in [Task::SealClassifier, Task::ElectrodeDetector] {
        for role in [GraphRole::Full, GraphRole::Encoder, GraphRole::Head] {
            if m.check_contract(crate::inspect::contract(task), role).is_err() {
                continue;
            }
            assert_eq!((m.task, m.graph), (task, role), "contract passed for another task or role");
            buildable(&m, task, role);
        }
    }
}

/// What the station builds from a manifest its contract accepted: preprocessors for the image inputs
/// (and their tensors), the seal encoder's embedding buffer.
fn buildable(m: &Manifest, task: Task, role: GraphRole) {
    let images: &[&str] = match (task, role) {
        (Task::SealClassifier, GraphRole::Full) => &["image", "reference"],
        (Task::SealClassifier, GraphRole::Encoder) => &["image"],
        (Task::SealClassifier, GraphRole::Head) => &[],
        (Task::ElectrodeDetector, _) => &["visible", "xray"],
    };
    for name in images {
        let Some(spec) = m.input(name) else {
            panic!("contract passed without input '{name}'");
        };
        let pre = match Preprocessor::new(spec) {
            Ok(p) => p,
            Err(e) => panic!("contract passed an input the station cannot preprocess: {e}"),
        };
        let side = 1..=MAX_IMAGE_SIDE as u32;
        assert!(
            side.contains(&pre.width) && side.contains(&pre.height),
            "contract passed input '{name}' of {}x{} pixels",
            pre.width,
            pre.height
        );
    }
    if (task, role) == (Task::SealClassifier, GraphRole::Encoder) {
        let Some(emb) = m.output("embedding") else {
            panic!("contract passed an encoder without 'embedding'");
        };
        assert!(
            emb.fixed_len().is_some_and(|n| (1..=MAX_EMBEDDING_VALUES).contains(&n)),
            "contract passed embedding shape {:?}",
            emb.shape
        );
    }
}

/// One raw camera buffer through the V4L2 converter. Layout of `data`: format (1 byte, the five in
/// `CameraFormat::ALL` order), width and height (u32 LE), stride (u64 LE), then the buffer.
/// A conversion gives exactly width x height pixels of its format, or an error.
pub fn frame_convert(data: &[u8]) {
    let Some((head, raw)) = data.split_first_chunk::<17>() else {
        return;
    };
    let format = CameraFormat::ALL[head[0] as usize % CameraFormat::ALL.len()];
    let width = u32::from_le_bytes([head[1], head[2], head[3], head[4]]);
    let height = u32::from_le_bytes([head[5], head[6], head[7], head[8]]);
    let mut stride = [0u8; 8];
    stride.copy_from_slice(&head[9..17]);
    let stride = usize::try_from(u64::from_le_bytes(stride)).unwrap_or(usize::MAX);
    let Ok((pf, out)) = convert(format, raw, width, height, stride) else {
        return;
    };
    let want = match format {
        CameraFormat::Grey => vec![PixelFormat::Gray8],
        CameraFormat::Y16 => vec![PixelFormat::Gray16],
        CameraFormat::Yuyv | CameraFormat::Rgb24 => vec![PixelFormat::Rgb8],
        CameraFormat::Mjpeg => vec![PixelFormat::Rgb8, PixelFormat::Gray8],
    };
    assert!(want.contains(&pf), "{format:?} gave {pf:?}");
    let pixels = (width as usize).checked_mul(height as usize);
    assert_eq!(
        Some(out.len()),
        pixels.and_then(|p| p.checked_mul(pf.bytes_per_pixel())),
        "{format:?} {width}x{height} stride {stride} from {} bytes",
        raw.len()
    );
}

/// An image file as replay frames and recipe references are read (`replay::read_rgb`): the first byte
/// picks the file name's extension (`.png` or `.jpg`, which picks the decoder), the rest is the file,
/// written into `scratch`. A decoded image is width x height RGB.
pub fn image_file(data: &[u8], scratch: &Path) {
    let Some((pick, file)) = data.split_first() else {
        return;
    };
    let path = scratch.join(if pick & 1 == 0 { "frame.png" } else { "frame.jpg" });
    if let Err(e) = std::fs::write(&path, file) {
        panic!("{}: cannot write the scratch file: {e}", path.display());
    }
    if let Ok((w, h, rgb)) = crate::sources::replay::read_rgb(&path) {
        assert!(w >= 1 && h >= 1, "decoded a {w}x{h} image");
        assert_eq!(Some(rgb.len()), (w as usize).checked_mul(h as usize).and_then(|p| p.checked_mul(3)));
    }
}
