//! Camera tools for commissioning: `cellgate capture` saves one frame as the station would see it (also
//! the way to take a recipe's reference image), `cellgate controls` lists and sets camera controls.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use cellgate::sinks::ng_archive::encode_png;
use cellgate::sources::v4l2::convert::CameraFormat;
use cellgate::sources::v4l2::device;
use cellgate::sources::v4l2::{V4l2Config, V4l2Source};
use cellgate::sources::FrameSource;

use super::CliError;

pub struct CaptureArgs<'a> {
    pub device: &'a Path,
    pub format: &'a str,
    pub width: u32,
    pub height: u32,
    pub fps: Option<u32>,
    pub controls: &'a [String],
    pub out: &'a Path,
}

pub fn capture(a: CaptureArgs) -> Result<(), CliError> {
    let mut fourcc = [b' '; 4];
    for (d, s) in fourcc.iter_mut().zip(a.format.bytes()) {
        *d = s;
    }
    let format = CameraFormat::from_fourcc(fourcc)
        .ok_or_else(|| CliError::Usage(format!("--format {}: one of MJPG, YUYV, GREY, Y16, RGB3", a.format)))?;
    let camera = V4l2Config {
        fps: a.fps,
        controls: parse_controls(a.controls)?,
        timeout_ms: 3000,
        reconnect_max_ms: 1000,
        ..V4l2Config::new(a.device.to_path_buf(), format, a.width, a.height)
    };
    let mut src = V4l2Source::open(&camera)?;
    // A frame exposed after the controls were set, not one already queued.
    let frame = src.capture(Instant::now())?;
    let png = encode_png(&frame).map_err(CliError::Encode)?;
    std::fs::write(a.out, png).map_err(|source| CliError::Io { path: a.out.to_path_buf(), source })?;
    println!("{} -> {} ({}x{}, frame {})", src.describe(), a.out.display(), frame.width, frame.height, frame.sequence);
    Ok(())
}

/// Lists the controls, or sets the given `name=value` pairs.
pub fn controls(dev: &Path, set: &[String]) -> Result<(), CliError> {
    let wanted = parse_controls(set)?;
    if wanted.is_empty() {
        let cams = device::list();
        let cam = cams
            .iter()
            .find(|c| c.path == dev || std::fs::canonicalize(dev).ok() == std::fs::canonicalize(&c.path).ok())
            .ok_or_else(|| CliError::Usage(format!("{}: not a video capture device", dev.display())))?;
        for k in &cam.controls {
            let v = k.value.map(|v| v.to_string()).unwrap_or_else(|| "-".into());
            println!("{:<32} {:<8} = {:<6} ({}..{}, default {})", k.name, k.kind, v, k.min, k.max, k.default);
        }
        return Ok(());
    }
    let d = v4l::Device::with_path(dev).map_err(|source| CliError::Io { path: dev.to_path_buf(), source })?;
    device::set_controls(&d, &wanted).map_err(|source| CliError::Controls { device: dev.to_path_buf(), source })?;
    for (k, v) in &wanted {
        println!("{} {k} = {v}", dev.display());
    }
    Ok(())
}

fn parse_controls(pairs: &[String]) -> Result<BTreeMap<String, i64>, CliError> {
    pairs
        .iter()
        .map(|p| {
            let (k, v) = p.split_once('=').ok_or_else(|| CliError::Usage(format!("'{p}': expected name=value")))?;
            let v =
                v.trim().parse::<i64>().map_err(|_| CliError::Usage(format!("'{p}': the value is not an integer")))?;
            Ok((device::control_key(k), v))
        })
        .collect()
}
