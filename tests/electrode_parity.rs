//! The firmware runs and decodes the electrode detector exactly as the Python pipeline that exported it:
//! the golden outputs come from ONNX Runtime in Python (scripts/ml/electrode_fixtures.py), on pairs from
//! the held-out set; the X-ray frames go in as 8-bit grey, as an X-ray imager delivers them.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use cellgate::config::{Provider, RuntimeConfig};
use cellgate::inspect::electrode::ElectrodeDetector;
use cellgate::runtime::Runtime;
use cellgate::sources::{Frame, FrameInfo, PixelFormat};
use serde_json::Value;

const TOL: f32 = 1e-4;

fn frame(path: &Path, gray: bool) -> Frame {
    let img = image::open(path).expect("fixture image");
    let (width, height, format, data): (u32, u32, PixelFormat, Vec<u8>) = if gray {
        let g = img.to_luma8();
        (g.width(), g.height(), PixelFormat::Gray8, g.into_raw())
    } else {
        let c = img.to_rgb8();
        (c.width(), c.height(), PixelFormat::Rgb8, c.into_raw())
    };
    Frame {
        width,
        height,
        format,
        data: data.into(),
        timestamp: Instant::now(),
        sequence: 0,
        info: Arc::new(FrameInfo { name: path.display().to_string(), ..FrameInfo::default() }),
    }
}

fn detector() -> ElectrodeDetector {
    let rt = Runtime::load(&RuntimeConfig { providers: vec![Provider::Cpu], ..Default::default() }, None)
        .expect("ONNX Runtime (run scripts/setup.sh)");
    ElectrodeDetector::load(&rt, &common::root().join("onnx/electrode_detector.onnx")).expect("electrode model loads")
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array().expect("array").iter().map(|x| x.as_f64().expect("number") as f32).collect()
}

fn close(a: f32, b: f32) -> bool {
    (a - b).abs() <= TOL
}

#[test]
fn raw_outputs_and_decoded_defects_match_the_python_golden_outputs() {
    let dir = common::fixtures().join("electrode");
    let golden: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("golden.json")).expect("golden.json")).expect("json");
    let pairs = golden["pairs"].as_array().expect("pairs");
    assert!(pairs.len() >= 4);
    let mut insp = detector();
    let frames: Vec<(Frame, Frame)> = pairs
        .iter()
        .map(|p| {
            let v = frame(&dir.join(p["visible"].as_str().expect("name")), false);
            let x = frame(&dir.join(p["xray"].as_str().expect("name")), true);
            (v, x)
        })
        .collect();
    let refs: Vec<(&Frame, &Frame)> = frames.iter().map(|(v, x)| (v, x)).collect();
    // All pairs as one batch: batching must not change any output.
    let raw = insp.infer_raw(&refs).expect("inference");
    let row = 4 + 5;
    let plane = raw.seg_h * raw.seg_w;
    let mut classes_seen = std::collections::BTreeSet::new();
    for (i, g) in pairs.iter().enumerate() {
        let name = g["visible"].as_str().unwrap_or("?");
        let cls = &raw.cls[i * 5..(i + 1) * 5];
        for (a, b) in cls.iter().zip(floats(&g["cls"])) {
            assert!(close(*a, b), "{name}: cls {a} vs {b}");
        }
        let det = &raw.det[i * raw.anchors * row..(i + 1) * raw.anchors * row];
        let rows = g["det_rows"].as_array().expect("rows");
        for (r, want) in rows.iter().zip(g["det"].as_array().expect("det")) {
            let r = r.as_u64().expect("index") as usize;
            for (k, (a, b)) in det[r * row..(r + 1) * row].iter().zip(floats(want)).enumerate() {
                assert!(close(*a, b), "{name}: det[{r}][{k}] {a} vs {b}");
            }
        }
        let seg = &raw.seg[i * 6 * plane..(i + 1) * 6 * plane];
        let every = g["seg_every"].as_u64().expect("stride") as usize;
        for (j, b) in floats(&g["seg"]).into_iter().enumerate() {
            let a = seg[j * every];
            assert!(close(a, b), "{name}: seg[{}] {a} vs {b}", j * every);
        }
        let counts = cellgate::inspect::electrode::argmax_counts(seg, plane);
        let want_counts: Vec<u64> =
            g["seg_argmax_counts"].as_array().expect("counts").iter().map(|c| c.as_u64().expect("n")).collect();
        assert_eq!(counts, want_counts, "{name}: pixels per class of the segmentation");

        let decoded = insp.decode(&raw.view(), i, (frames[i].0.width, frames[i].0.height)).expect("valid outputs");
        let want = g["detections"].as_array().expect("detections");
        assert_eq!(decoded.detections.len(), want.len(), "{name}: {:?}", decoded.detections);
        for (d, w) in decoded.detections.iter().zip(want) {
            assert_eq!(d.label, w["class"].as_str().expect("class"), "{name}");
            assert!(close(d.score, w["score"].as_f64().expect("score") as f32), "{name}: score");
            for (a, b) in d.bbox.iter().zip(floats(&w["box"])) {
                assert!((a - b).abs() <= 1e-3, "{name}: box {:?} vs {}", d.bbox, w["box"]);
            }
            classes_seen.insert(d.label);
            assert!(d.area_px > 0.0, "{name}: a found defect has segmented area inside its box: {d:?}");
        }
        // The decoded defects are the labelled ones (same classes, boxes overlapping).
        let truth = g["truth"].as_array().expect("truth");
        assert_eq!(decoded.detections.len(), truth.len(), "{name}: found {:?}", decoded.detections);
        let defect_px: f64 = decoded.area_px.iter().sum();
        assert_eq!(truth.is_empty(), defect_px == 0.0, "{name}: segmented area {defect_px} px");
    }
    assert_eq!(classes_seen.len(), 5, "the fixtures cover every class: {classes_seen:?}");

    // The NG picture of a real pair: visible with overlay | X-ray, the size of two frames.
    let (v, x) = &frames[0];
    let decoded = insp.decode(&raw.view(), 0, (v.width, v.height)).expect("valid outputs");
    let picture = cellgate::sinks::annotate::annotate(v, x, &decoded);
    assert_eq!(picture.dimensions(), (2 * v.width, v.height));
}

#[test]
fn a_16_bit_xray_frame_gives_the_same_outputs_as_its_8_bit_reading() {
    let dir = common::fixtures().join("electrode");
    let v = frame(&dir.join("visible/000009.png"), false);
    let x8 = frame(&dir.join("xray/000009.png"), true);
    // As a Y16 imager delivers it: little-endian 16 bits whose high byte is the 8-bit value.
    let y16: Vec<u8> = x8.data.iter().flat_map(|&b| (b as u16 * 257 + 3).to_le_bytes()).collect();
    let x16 = Frame { format: PixelFormat::Gray16, data: y16.into(), ..x8.clone() };
    let mut insp = detector();
    let a = insp.infer_raw(&[(&v, &x8)]).expect("8-bit");
    let b = insp.infer_raw(&[(&v, &x16)]).expect("16-bit");
    assert_eq!(a.det, b.det);
    assert_eq!(a.cls, b.cls);
}

#[test]
fn a_seal_model_is_refused_by_the_electrode_inspector() {
    let rt = Runtime::load(&RuntimeConfig { providers: vec![Provider::Cpu], ..Default::default() }, None)
        .expect("ONNX Runtime");
    let err = ElectrodeDetector::load(&rt, &common::model()).err().expect("a seal model is refused");
    assert!(err.to_string().contains("electrode_detector"), "{err}");
}
