//! `source`: where frames come from (replayed images, a V4L2 camera, COCO electrode pairs, two imagers).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::{bad, InspectionConfig, KeyProblem, StationConfig};

/// Where frames come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum SourceConfig {
    /// Images replayed from a folder (plain images by name, or a DESIGN seal dataset with manifest.jsonl).
    Replay {
        path: PathBuf,
        /// Start over at the end (a demo that runs until stopped); otherwise the station stops at the end.
        #[serde(default)]
        r#loop: bool,
    },
    /// A V4L2 camera.
    V4l2(V4l2Config),
    /// Electrode pairs replayed from a folder in the DESIGN COCO format (`annotations.json` with
    /// `file_name` and `xray_file_name`).
    Coco {
        path: PathBuf,
        #[serde(default)]
        r#loop: bool,
    },
    /// The electrode station's two imagers, paired per trigger by exposure time.
    Pair {
        visible: Box<SourceConfig>,
        xray: Box<SourceConfig>,
        /// Exposures further apart than this are not one part: the part is rejected and counted.
        #[serde(default = "default_max_skew")]
        max_skew_ms: u64,
    },
}

fn default_max_skew() -> u64 {
    20
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct V4l2Config {
    /// `/dev/video0`, or better a stable `/dev/v4l/by-id/...` or `/dev/v4l/by-path/...` name.
    pub device: PathBuf,
    /// Pixel format by fourcc: `MJPG`, `YUYV`, `GREY`, `Y16`, `RGB3`.
    pub format: crate::sources::v4l2::convert::CameraFormat,
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

impl SourceConfig {
    /// The source must fit the inspection: one camera for a seal station, image pairs for an electrode one.
    pub(super) fn validate(&self, cfg: &StationConfig) -> Result<(), KeyProblem> {
        let seal_source = matches!(self, SourceConfig::Replay { .. } | SourceConfig::V4l2(_));
        match (&cfg.inspection, seal_source) {
            (InspectionConfig::Seal(_), false) => {
                return bad("source.kind", "a seal station takes one camera: \"replay\" or \"v4l2\"")
            }
            (InspectionConfig::Electrode(_), true) => {
                return bad("source.kind", "an electrode station takes image pairs: \"coco\" or \"pair\"")
            }
            _ => {}
        }
        self.validate_at(cfg, "source", cfg.inspection.cavities())
    }

    /// Checks this source, named `key` in the config (a pair's imagers are `source.visible` and
    /// `source.xray`).
    fn validate_at(&self, cfg: &StationConfig, key: &str, cavities: usize) -> Result<(), KeyProblem> {
        match self {
            SourceConfig::Replay { path, .. } | SourceConfig::Coco { path, .. } => {
                let p = cfg.resolve(path);
                if !p.is_dir() {
                    return bad(format!("{key}.path"), format!("{} is not a folder", p.display()));
                }
            }
            SourceConfig::V4l2(v) => v.validate(key, cavities)?,
            SourceConfig::Pair { visible, xray, max_skew_ms } => {
                for (name, s) in [("visible", visible), ("xray", xray)] {
                    if matches!(**s, SourceConfig::Pair { .. } | SourceConfig::Coco { .. }) {
                        return bad(format!("{key}.{name}.kind"), "one imager: \"v4l2\" or \"replay\"");
                    }
                    s.validate_at(cfg, &format!("{key}.{name}"), cavities)?;
                }
                if *max_skew_ms == 0 || *max_skew_ms > 10_000 {
                    return bad(format!("{key}.max_skew_ms"), format!("{max_skew_ms} is outside 1..10000"));
                }
            }
        }
        Ok(())
    }
}

impl V4l2Config {
    fn validate(&self, key: &str, cavities: usize) -> Result<(), KeyProblem> {
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
        if cavities != 1 {
            return bad(
                "inspection.cavities",
                format!("{cavities}: a V4L2 camera gives one frame per trigger, so one cavity"),
            );
        }
        Ok(())
    }
}
