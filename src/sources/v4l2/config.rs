//! `source` with `"kind": "v4l2"` (or one imager of a pair): the device, format, size, rate, buffers,
//! timeout, controls and reopen backoff, with their checks; `V4l2Source::open` takes it as it is.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::convert::CameraFormat;
use super::device::CameraError;
use super::V4l2Source;
use crate::key_problem::{bad, KeyProblem};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct V4l2Config {
    /// `/dev/video0`, or better a stable `/dev/v4l/by-id/...` or `/dev/v4l/by-path/...` name.
    pub device: PathBuf,
    /// Pixel format by fourcc: `MJPG`, `YUYV`, `GREY`, `Y16`, `RGB3`.
    pub format: CameraFormat,
    pub width: u32,
    pub height: u32,
    /// Frames per second; absent: the device's current rate.
    #[serde(default)]
    pub fps: Option<u32>,
    /// mmap buffers the driver fills.
    #[serde(default = "default_buffers")]
    pub buffers: u32,
    /// A trigger with no frame exposed after it within this time fails (camera stalled).
    #[serde(default = "default_camera_timeout")]
    pub timeout_ms: u64,
    /// Camera controls by name as `cellgate devices` lists them (`exposure_time_absolute`), set at
    /// every (re)open.
    #[serde(default)]
    pub controls: BTreeMap<String, i64>,
    /// Reopen backoff after the camera is lost: doubles from min to max.
    #[serde(default = "default_reconnect_min")]
    pub reconnect_min_ms: u64,
    #[serde(default = "default_reconnect_max")]
    pub reconnect_max_ms: u64,
}

fn default_buffers() -> u32 {
    4
}

fn default_camera_timeout() -> u64 {
    1000
}

fn default_reconnect_min() -> u64 {
    200
}

fn default_reconnect_max() -> u64 {
    5000
}

impl V4l2Config {
    /// A camera as the tools ask for it (`cellgate capture`): the documented defaults for the rest.
    pub fn new(device: PathBuf, format: CameraFormat, width: u32, height: u32) -> Self {
        Self {
            device,
            format,
            width,
            height,
            fps: None,
            buffers: default_buffers(),
            timeout_ms: default_camera_timeout(),
            controls: BTreeMap::new(),
            reconnect_min_ms: default_reconnect_min(),
            reconnect_max_ms: default_reconnect_max(),
        }
    }

    /// A trigger with no frame exposed after it within this time fails.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// Checks the camera named `key` in the config (`source`, or `source.visible` of a pair), then opens it
    /// (`V4l2Source::open`).
    pub fn build(&self, key: &str) -> Result<V4l2Source, CameraError> {
        self.validate(key)?;
        V4l2Source::open(self)
    }

    /// Checks the camera named `key` in the config (`source`, or `source.visible` of a pair).
    pub fn validate(&self, key: &str) -> Result<(), KeyProblem> {
        if !(1..=16384).contains(&self.width) || !(1..=16384).contains(&self.height) {
            return bad(format!("{key}.width"), format!("{}x{} is outside 1..16384", self.width, self.height));
        }
        if !(2..=32).contains(&self.buffers) {
            return bad(format!("{key}.buffers"), format!("{} is outside 2..32", self.buffers));
        }
        if self.fps.is_some_and(|f| !(1..=1000).contains(&f)) {
            return bad(format!("{key}.fps"), format!("{} is outside 1..1000", self.fps.unwrap_or(0)));
        }
        if !(10..=60_000).contains(&self.timeout_ms) {
            return bad(format!("{key}.timeout_ms"), format!("{} is outside 10..60000", self.timeout_ms));
        }
        if self.reconnect_min_ms == 0 || self.reconnect_min_ms > self.reconnect_max_ms {
            return bad(
                format!("{key}.reconnect_min_ms"),
                format!(
                    "{} must be over 0 and at most reconnect_max_ms ({})",
                    self.reconnect_min_ms, self.reconnect_max_ms
                ),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn camera(extra: &str) -> V4l2Config {
        let json = format!(r#"{{"device": "/dev/video0", "format": "YUYV", "width": 640, "height": 480 {extra}}}"#);
        serde_json::from_str(&json).expect("camera")
    }

    #[test]
    fn the_documented_defaults_apply() {
        let c = camera("");
        assert_eq!((c.fps, c.buffers, c.timeout(), c.controls.len()), (None, 4, Duration::from_secs(1), 0));
        assert_eq!((c.reconnect_min_ms, c.reconnect_max_ms), (200, 5000));
        assert_eq!(c.validate("source"), Ok(()));
        let tool = V4l2Config::new("/dev/video0".into(), CameraFormat::Yuyv, 640, 480);
        assert_eq!((tool.buffers, tool.timeout_ms, tool.reconnect_max_ms), (4, 1000, 5000));
    }

    #[test]
    fn each_bad_value_names_its_key_under_the_imager() {
        let key = |extra: &str| camera(extra).validate("source.xray").map_err(|p| p.key);
        let narrow = V4l2Config { width: 0, ..camera("") }.validate("source.xray");
        assert_eq!(narrow.map_err(|p| p.key), Err("source.xray.width".into()));
        assert_eq!(key(r#", "buffers": 1"#), Err("source.xray.buffers".into()));
        assert_eq!(key(r#", "fps": 0"#), Err("source.xray.fps".into()));
        assert_eq!(key(r#", "timeout_ms": 5"#), Err("source.xray.timeout_ms".into()));
        assert_eq!(key(r#", "reconnect_min_ms": 6000"#), Err("source.xray.reconnect_min_ms".into()));
        let h264 = r#"{"device": "/dev/video0", "format": "H264", "width": 640, "height": 480}"#;
        assert!(serde_json::from_str::<V4l2Config>(h264).is_err(), "unknown format taken");
    }

    #[test]
    fn build_refuses_a_camera_that_fails_its_checks_without_opening_it() {
        let one_buffer = V4l2Config { buffers: 1, ..camera("") };
        match one_buffer.build("source.visible") {
            Err(e @ CameraError::Config(_)) => {
                assert!(!e.retrying_helps());
                assert!(e.to_string().starts_with("source.visible.buffers: "), "{e}");
            }
            Err(e) => panic!("refused for another reason: {e}"),
            Ok(_) => panic!("a camera with one buffer was opened"),
        }
    }
}
