use std::path::PathBuf;

use serde::Deserialize;

use super::*;

/// `tests/fixtures/pillow_masks.json`, written by `scripts/ml/pillow_mask_fixture.py` with Pillow.
#[derive(Deserialize)]
struct Fixture {
    pillow: String,
    polygons: Vec<PolygonCase>,
    resize: Vec<ResizeCase>,
    rle: Vec<RleCase>,
}

#[derive(Deserialize)]
struct PolygonCase {
    w: usize,
    h: usize,
    xy: Vec<f64>,
    runs: Vec<usize>,
}

#[derive(Deserialize)]
struct ResizeCase {
    from: (usize, usize),
    to: (usize, usize),
    runs: Vec<usize>,
    resized: Vec<usize>,
}

#[derive(Deserialize)]
struct RleCase {
    w: usize,
    h: usize,
    counts: Vec<i64>,
    compressed: String,
    runs: Vec<usize>,
}

fn fixture() -> Fixture {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pillow_masks.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("fixture JSON")
}

/// Row-major runs, background first, as a mask.
fn unrun(runs: &[usize]) -> Vec<bool> {
    runs.iter().enumerate().flat_map(|(i, &n)| std::iter::repeat_n(i % 2 == 1, n)).collect()
}

fn show(mask: &[bool], w: usize) -> String {
    mask.chunks(w).map(|r| r.iter().map(|&v| if v { '#' } else { '.' }).collect::<String>() + "\n").collect()
}

#[test]
fn polygons_are_filled_pixel_for_pixel_as_pillow_fills_them() {
    let f = fixture();
    assert!(f.polygons.len() >= 100, "{} cases", f.polygons.len());
    let mut filled = 0;
    for (i, c) in f.polygons.iter().enumerate() {
        let want = unrun(&c.runs);
        let mut got = vec![false; c.w * c.h];
        polygon::fill(&mut got, c.w, c.h, &c.xy);
        assert!(
            got == want,
            "case {i} ({}x{}, {:?}), Pillow {}:\nwant\n{}got\n{}",
            c.w,
            c.h,
            c.xy,
            f.pillow,
            show(&want, c.w),
            show(&got, c.w)
        );
        filled += usize::from(want.iter().any(|&v| v));
    }
    assert!(filled * 10 >= f.polygons.len() * 9, "only {filled} cases draw anything");
}

#[test]
fn masks_are_resized_nearest_neighbour_as_pillow_resizes_them() {
    for (i, c) in fixture().resize.iter().enumerate() {
        let got = resize_nearest(&unrun(&c.runs), c.from, c.to);
        assert!(got == unrun(&c.resized), "case {i}: {:?} -> {:?}", c.from, c.to);
    }
}

#[test]
fn rle_counts_compressed_or_not_are_column_major_runs_from_the_background() {
    for (i, c) in fixture().rle.iter().enumerate() {
        assert_eq!(decompress(&c.compressed).as_ref(), Ok(&c.counts), "case {i}");
        let got = draw(&Segmentation::Rle { counts: RleCounts::Compressed(c.compressed.clone()) }, c.w, c.h);
        assert!(got.as_ref().is_ok_and(|m| *m == unrun(&c.runs)), "case {i}");
    }
}

#[test]
fn broken_labels_are_refused_with_what_is_wrong() {
    let rle = |runs: Vec<i64>| Segmentation::Rle { counts: RleCounts::Runs(runs) };
    assert!(draw(&rle(vec![3, 2, 1]), 3, 2).is_ok(), "runs covering the image exactly");
    assert!(draw(&rle(vec![3, 4]), 3, 2).is_err_and(|e| e.contains("more than the image's 6 pixels")));
    assert!(draw(&rle(vec![2, -1, 3]), 3, 2).is_err_and(|e| e.contains("negative run")));
    assert!(decompress("1a").is_err_and(|e| e.contains("end inside a count")), "a group saying more follows");
    let point = Segmentation::Polygons(vec![vec![1.0, 2.0]]);
    assert!(draw(&point, 4, 4).is_err_and(|e| e.contains("at least 2 points")));
}

#[test]
fn a_folder_s_class_map_has_smaller_defects_drawn_over_larger_ones_at_the_model_size() {
    let dir = tempfile::tempdir().expect("tempdir");
    image::GrayImage::new(8, 4).save(dir.path().join("a.png")).expect("png");
    image::GrayImage::new(8, 4).save(dir.path().join("b.png")).expect("png");
    // A 6x3 box of class 2 over the left, and a 2x2 one of class 4 inside it; b.png has no defect.
    let coco = serde_json::json!({
        "images": [{"id": 1, "file_name": "a.png"}, {"id": 2, "file_name": "b.png"}],
        "annotations": [
            {"image_id": 1, "category_id": 4, "bbox": [1, 1, 2, 2], "segmentation": [[1, 1, 2, 1, 2, 2, 1, 2]]},
            {"image_id": 1, "category_id": 2, "bbox": [0, 0, 6, 3],
             "segmentation": {"size": [4, 8], "counts": [0, 3, 1, 3, 1, 3, 1, 3, 1, 3, 1, 3, 9]}}
        ]
    });
    std::fs::write(dir.path().join("annotations.json"), coco.to_string()).expect("json");
    let labels = LabelMasks::open(dir.path()).expect("labels");
    let a = labels.mask("a.png", (8, 4)).expect("mask");
    let rows: Vec<&[u8]> = a.chunks(8).collect();
    assert_eq!(rows, [&[2, 2, 2, 2, 2, 2, 0, 0], &[2, 4, 4, 2, 2, 2, 0, 0], &[2, 4, 4, 2, 2, 2, 0, 0], &[0; 8]]);
    assert_eq!(labels.mask("b.png", (16, 8)).expect("mask"), vec![0; 128]);
    // At twice the size each label pixel is 2x2.
    let big = labels.mask("a.png", (16, 8)).expect("mask");
    assert_eq!((big[2 * 16 + 2], big[3 * 16 + 3], big[0], big[7 * 16]), (4, 4, 2, 0));
    assert!(matches!(labels.mask("c.png", (8, 4)), Err(LabelMaskError::UnknownImage { .. })));
}
