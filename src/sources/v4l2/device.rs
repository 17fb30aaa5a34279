//! Opening a V4L2 camera: format, size and rate negotiated from the config (with the device's offer
//! listed when the request cannot be met), controls set by name, and what `cellgate devices` shows.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use v4l::control::{Control, Type as ControlType, Value};
use v4l::frameinterval::FrameIntervalEnum;
use v4l::framesize::FrameSizeEnum;
use v4l::video::Capture;
use v4l::{Device, FourCC};

use super::convert::CameraFormat;
use super::V4l2Config;

#[derive(Debug, thiserror::Error)]
pub enum CameraError {
    /// The device is not there or stopped answering: worth retrying.
    #[error("{device}: {what}: {source}")]
    Io { device: String, what: &'static str, source: std::io::Error },
    /// The device cannot do what the config asks: retrying will not help.
    #[error("{device}: {reason}")]
    Unsupported { device: String, reason: String },
    #[error("{device}: {source}")]
    Controls { device: String, source: ControlError },
    /// The camera's config section fails its checks: nothing was opened.
    #[error(transparent)]
    Config(#[from] crate::key_problem::KeyProblem),
}

impl CameraError {
    /// Whether opening again may succeed (the device came back), or the config asks what it cannot do.
    pub fn retrying_helps(&self) -> bool {
        match self {
            CameraError::Io { .. } => true,
            CameraError::Unsupported { .. } => false,
            CameraError::Controls { source, .. } => source.retrying_helps(),
            CameraError::Config(_) => false,
        }
    }
}

/// A control that could not be set.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("query controls: {0}")]
    Query(#[source] std::io::Error),
    #[error("no control '{key}' (controls: {})", known.join(", "))]
    Unknown { key: String, known: Vec<String> },
    #[error("control '{key}' = {value} is out of range {min}..{max}")]
    OutOfRange { key: String, value: i64, min: i64, max: i64 },
    /// The driver refused a value within the range it reported (busy, or gone mid-way).
    #[error("set control '{key}' = {value}: {source}")]
    Refused { key: String, value: i64, source: std::io::Error },
}

impl ControlError {
    /// An unknown control or a value out of range is the config's fault: opening again will not help.
    pub fn retrying_helps(&self) -> bool {
        matches!(self, ControlError::Query(_) | ControlError::Refused { .. })
    }
}

/// A negotiated camera, ready to stream.
pub struct Opened {
    pub device: Device,
    pub format: CameraFormat,
    pub width: u32,
    pub height: u32,
    pub stride: usize,
    /// The frame period, for exposure-start estimates (0 when the device does not say).
    pub period_s: f64,
    pub summary: String,
}

/// `Exposure Time, Absolute` -> `exposure_time_absolute`: how the config and the tools name controls.
pub fn control_key(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_string()
}

fn fourcc_str(f: FourCC) -> String {
    String::from_utf8_lossy(&f.repr).trim_end().to_string()
}

/// Opens the camera as the config asks (format, size, rate when given, controls).
pub fn open(spec: &V4l2Config) -> Result<Opened, CameraError> {
    let name = spec.device.display().to_string();
    let io = |what, source| CameraError::Io { device: name.clone(), what, source };
    let unsupported = |reason: String| CameraError::Unsupported { device: name.clone(), reason };
    let device = Device::with_path(&spec.device).map_err(|e| io("open", e))?;
    // A fresh request: stride, size and colour fields left for the driver to fill in for this format, not
    // carried over from whatever format the device had before.
    let fmt = v4l::Format::new(spec.width, spec.height, FourCC::new(&spec.format.fourcc()));
    let got = device.set_format(&fmt).map_err(|e| io("set format", e))?;
    if got.fourcc.repr != spec.format.fourcc() || got.width != spec.width || got.height != spec.height {
        return Err(unsupported(format!(
            "cannot capture {} {}x{} (the driver offered {} {}x{}); the device offers: {}",
            fourcc_str(FourCC::new(&spec.format.fourcc())),
            spec.width,
            spec.height,
            fourcc_str(got.fourcc),
            got.width,
            got.height,
            offer(&device)
        )));
    }
    let mut period_s = device.params().map(|p| p.interval.numerator as f64 / p.interval.denominator.max(1) as f64);
    if let Some(fps) = spec.fps {
        let p = device.set_params(&v4l::video::capture::Parameters::with_fps(fps)).map_err(|e| io("set rate", e))?;
        let got_fps = p.interval.denominator as f64 / p.interval.numerator.max(1) as f64;
        if (got_fps - fps as f64).abs() > 0.5 {
            return Err(unsupported(format!(
                "cannot run {} {}x{} at {fps} fps (the driver set {got_fps:.1}); rates offered: {}",
                fourcc_str(got.fourcc),
                got.width,
                got.height,
                rates(&device, got.fourcc, got.width, got.height).join(", ")
            )));
        }
        period_s = Ok(1.0 / got_fps);
    } else if let Ok(current) = device.params() {
        // No rate configured: ask for the rate the device reports. A driver may keep the rate of the
        // previous size even where it is not valid for the new one (vivid does, and then refuses to
        // stream); asking makes it settle on a valid rate before streaming.
        if let Ok(p) = device.set_params(&current) {
            period_s = Ok(p.interval.numerator as f64 / p.interval.denominator.max(1) as f64);
        }
    }
    set_controls(&device, &spec.controls).map_err(|source| CameraError::Controls { device: name.clone(), source })?;
    let period_s = period_s.unwrap_or(0.0);
    let summary = format!(
        "{} {} {}x{}{}",
        name,
        fourcc_str(got.fourcc),
        got.width,
        got.height,
        if period_s > 0.0 { format!(" at {:.1} fps", 1.0 / period_s) } else { String::new() }
    );
    Ok(Opened {
        device,
        format: spec.format,
        width: got.width,
        height: got.height,
        stride: got.stride as usize,
        period_s,
        summary,
    })
}

/// Sets controls by normalised name; integer, boolean, menu and button controls.
pub fn set_controls(device: &Device, wanted: &BTreeMap<String, i64>) -> Result<(), ControlError> {
    if wanted.is_empty() {
        return Ok(());
    }
    let all = device.query_controls().map_err(ControlError::Query)?;
    for (key, &v) in wanted {
        let Some(d) = all.iter().find(|d| control_key(&d.name) == *key) else {
            let known = all.iter().filter(|d| d.typ != ControlType::CtrlClass).map(|d| control_key(&d.name)).collect();
            return Err(ControlError::Unknown { key: key.clone(), known });
        };
        let value = match d.typ {
            ControlType::Button => Value::None,
            ControlType::Boolean => Value::Boolean(v != 0),
            _ => {
                if v < d.minimum || v > d.maximum {
                    return Err(ControlError::OutOfRange {
                        key: key.clone(),
                        value: v,
                        min: d.minimum,
                        max: d.maximum,
                    });
                }
                Value::Integer(v)
            }
        };
        device.set_control(Control { id: d.id, value }).map_err(|source| ControlError::Refused {
            key: key.clone(),
            value: v,
            source,
        })?;
    }
    Ok(())
}

/// The device's formats with their sizes, in one line for an error message.
fn offer(device: &Device) -> String {
    let Ok(formats) = device.enum_formats() else { return "(cannot list formats)".into() };
    formats
        .iter()
        .map(|f| format!("{} [{}]", fourcc_str(f.fourcc), sizes(device, f.fourcc).join(" ")))
        .collect::<Vec<_>>()
        .join("; ")
}

fn sizes(device: &Device, fourcc: FourCC) -> Vec<String> {
    device
        .enum_framesizes(fourcc)
        .unwrap_or_default()
        .into_iter()
        .map(|s| match s.size {
            FrameSizeEnum::Discrete(d) => format!("{}x{}", d.width, d.height),
            FrameSizeEnum::Stepwise(s) => {
                format!("{}x{}..{}x{}", s.min_width, s.min_height, s.max_width, s.max_height)
            }
        })
        .collect()
}

fn rates(device: &Device, fourcc: FourCC, w: u32, h: u32) -> Vec<String> {
    device
        .enum_frameintervals(fourcc, w, h)
        .unwrap_or_default()
        .into_iter()
        .map(|i| match i.interval {
            FrameIntervalEnum::Discrete(f) => format!("{:.1}", f.denominator as f64 / f.numerator.max(1) as f64),
            FrameIntervalEnum::Stepwise(s) => format!(
                "{:.1}..{:.1}",
                s.max.denominator as f64 / s.max.numerator.max(1) as f64,
                s.min.denominator as f64 / s.min.numerator.max(1) as f64
            ),
        })
        .collect()
}

/// A camera as `cellgate devices` shows it.
#[derive(Debug, serde::Serialize)]
pub struct CameraReport {
    pub path: PathBuf,
    pub card: String,
    pub driver: String,
    pub bus: String,
    /// Stable names under /dev/v4l/by-id and by-path that point at this node.
    pub links: Vec<PathBuf>,
    pub formats: Vec<FormatReport>,
    pub controls: Vec<ControlReport>,
}

#[derive(Debug, serde::Serialize)]
pub struct FormatReport {
    pub fourcc: String,
    pub description: String,
    /// "WxH: rates" per size.
    pub sizes: Vec<String>,
}

#[derive(Debug, serde::Serialize)]
pub struct ControlReport {
    pub name: String,
    pub kind: String,
    pub value: Option<i64>,
    pub min: i64,
    pub max: i64,
    pub default: i64,
}

/// Every video capture node of the machine.
pub fn list() -> Vec<CameraReport> {
    let mut nodes: Vec<PathBuf> =
        std::fs::read_dir("/dev").map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect()).unwrap_or_default();
    nodes.retain(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("video")));
    nodes.sort_by_key(|p| {
        let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        n.trim_start_matches("video").parse::<u32>().unwrap_or(u32::MAX)
    });
    nodes.iter().filter_map(|p| report(p)).collect()
}

fn report(path: &Path) -> Option<CameraReport> {
    let dev = Device::with_path(path).ok()?;
    let caps = dev.query_caps().ok()?;
    if !caps.capabilities.contains(v4l::capability::Flags::VIDEO_CAPTURE) {
        return None;
    }
    let formats = dev
        .enum_formats()
        .unwrap_or_default()
        .into_iter()
        .map(|f| FormatReport {
            fourcc: fourcc_str(f.fourcc),
            description: f.description.clone(),
            sizes: dev
                .enum_framesizes(f.fourcc)
                .unwrap_or_default()
                .into_iter()
                .flat_map(|s| s.size.to_discrete())
                .map(|d| format!("{}x{}: {}", d.width, d.height, rates(&dev, f.fourcc, d.width, d.height).join("/")))
                .collect(),
        })
        .collect();
    let controls = dev
        .query_controls()
        .unwrap_or_default()
        .into_iter()
        .filter(|d| d.typ != ControlType::CtrlClass)
        .map(|d| ControlReport {
            value: match dev.control(d.id).map(|c| c.value) {
                Ok(Value::Integer(v)) => Some(v),
                Ok(Value::Boolean(b)) => Some(b as i64),
                _ => None,
            },
            name: control_key(&d.name),
            kind: format!("{:?}", d.typ).to_lowercase(),
            min: d.minimum,
            max: d.maximum,
            default: d.default,
        })
        .collect();
    let canon = std::fs::canonicalize(path).ok();
    let mut links = Vec::new();
    for dir in ["/dev/v4l/by-id", "/dev/v4l/by-path"] {
        for e in std::fs::read_dir(dir).into_iter().flatten().filter_map(Result::ok) {
            if canon.is_some() && std::fs::canonicalize(e.path()).ok() == canon {
                links.push(e.path());
            }
        }
    }
    Some(CameraReport {
        path: path.to_path_buf(),
        card: caps.card,
        driver: caps.driver,
        bus: caps.bus,
        links,
        formats,
        controls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_names_normalise() {
        assert_eq!(control_key("Exposure Time, Absolute"), "exposure_time_absolute");
        assert_eq!(control_key("OSD Text Mode"), "osd_text_mode");
        assert_eq!(control_key("Disconnect"), "disconnect");
    }

    #[test]
    fn control_faults_of_the_config_stop_the_open_and_those_of_the_device_are_retried() {
        let controls = |source| CameraError::Controls { device: "/dev/video0".into(), source };
        let unknown = controls(ControlError::Unknown { key: "gain".into(), known: vec!["brightness".into()] });
        assert!(!unknown.retrying_helps());
        assert_eq!(unknown.to_string(), "/dev/video0: no control 'gain' (controls: brightness)");
        let range = controls(ControlError::OutOfRange { key: "gain".into(), value: 300, min: 0, max: 255 });
        assert!(!range.retrying_helps());
        assert_eq!(range.to_string(), "/dev/video0: control 'gain' = 300 is out of range 0..255");
        let busy = std::io::Error::from_raw_os_error(16);
        assert!(controls(ControlError::Refused { key: "gain".into(), value: 3, source: busy }).retrying_helps());
        assert!(controls(ControlError::Query(std::io::Error::from_raw_os_error(19))).retrying_helps());
    }

    #[test]
    fn a_missing_device_is_worth_retrying() {
        let spec = V4l2Config::new("/dev/no-such-video".into(), CameraFormat::Yuyv, 640, 480);
        let e = open(&spec).err().unwrap();
        assert!(matches!(e, CameraError::Io { .. }), "{e}");
        assert!(e.to_string().contains("/dev/no-such-video: open"), "{e}");
    }
}
