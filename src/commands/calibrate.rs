//! `cellgate calibrate`: the X-ray -> visible homography for the electrode station, from point pairs a
//! technician picked on images of a calibration target, with the residual of every point so a bad pick
//! shows; optionally an overlay image to check the alignment by eye.

use std::path::Path;

use cellgate::inspect::electrode::align::Homography;
use serde::Deserialize;

use super::CliError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PointPair {
    xray: [f64; 2],
    visible: [f64; 2],
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PointsFile {
    pairs: Vec<PointPair>,
}

pub fn run(points: &Path, check: Option<(&Path, &Path, &Path)>) -> Result<(), CliError> {
    let path = || points.to_path_buf();
    let text = std::fs::read_to_string(points).map_err(|source| CliError::Io { path: path(), source })?;
    let de = &mut serde_json::Deserializer::from_str(&text);
    let file: PointsFile =
        serde_path_to_error::deserialize(de).map_err(|source| CliError::Points { path: path(), source })?;
    let pairs: Vec<([f64; 2], [f64; 2])> = file.pairs.iter().map(|p| (p.xray, p.visible)).collect();
    let h = Homography::estimate(&pairs).map_err(|source| CliError::Calibration { path: path(), source })?;
    let mut sq = 0.0;
    println!("point  xray -> visible (picked)  residual px");
    for (i, (x, v)) in pairs.iter().enumerate() {
        let (u, w) = h.apply(x[0], x[1]);
        let r = ((u - v[0]).powi(2) + (w - v[1]).powi(2)).sqrt();
        sq += r * r;
        println!("{i:5}  ({:.1}, {:.1}) -> ({u:.1}, {w:.1}) ({:.1}, {:.1})  {r:.2}", x[0], x[1], v[0], v[1]);
    }
    println!("RMS residual: {:.3} px over {} points", (sq / pairs.len() as f64).sqrt(), pairs.len());
    println!("for the station config (inspection.homography):");
    println!("{}", serde_json::to_string(&h.0)?);
    if let Some((visible, xray, out)) = check {
        overlay(&h, visible, xray, out)?;
        println!("overlay written to {}", out.display());
    }
    Ok(())
}

/// Visible image in grey with the warped X-ray in magenta: aligned edges look grey, misaligned ones coloured.
fn overlay(h: &Homography, visible: &Path, xray: &Path, out: &Path) -> Result<(), CliError> {
    let open = cellgate::sources::image_file::open;
    let v = open(visible)?.to_luma8();
    let x = open(xray)?.to_luma8();
    let warped = h.warp_gray(x.as_raw(), x.width(), x.height(), v.width(), v.height())?;
    let img = image::RgbImage::from_fn(v.width(), v.height(), |px, py| {
        let g = v.get_pixel(px, py).0[0];
        let w = warped[(py * v.width() + px) as usize];
        image::Rgb([w, g, w])
    });
    img.save(out).map_err(|source| CliError::ImageSave { path: out.to_path_buf(), source })
}
