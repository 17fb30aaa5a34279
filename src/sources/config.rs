//! `source`: where frames come from (replayed images, a V4L2 camera, COCO electrode pairs, two imagers).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::v4l2::V4l2Config;
use crate::key_problem::{bad, KeyProblem};

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

impl SourceConfig {
    /// One imager (a camera or a replayed folder), as a seal station takes; otherwise image pairs.
    pub fn is_one_imager(&self) -> bool {
        matches!(self, SourceConfig::Replay { .. } | SourceConfig::V4l2(_))
    }

    /// The V4L2 cameras of this source (a pair may have two).
    pub fn cameras(&self) -> Vec<&V4l2Config> {
        match self {
            SourceConfig::V4l2(v) => vec![v],
            SourceConfig::Pair { visible, xray, .. } => visible.cameras().into_iter().chain(xray.cameras()).collect(),
            SourceConfig::Replay { .. } | SourceConfig::Coco { .. } => vec![],
        }
    }

    /// Checks the section; relative paths are taken from `base_dir` (the config file's folder).
    pub fn validate(&self, base_dir: &Path) -> Result<(), KeyProblem> {
        self.validate_at(base_dir, "source")
    }

    /// Checks this source, named `key` in the config (a pair's imagers are `source.visible` and
    /// `source.xray`).
    fn validate_at(&self, base_dir: &Path, key: &str) -> Result<(), KeyProblem> {
        match self {
            SourceConfig::Replay { path, .. } | SourceConfig::Coco { path, .. } => {
                let p = base_dir.join(path);
                if !p.is_dir() {
                    return bad(format!("{key}.path"), format!("{} is not a folder", p.display()));
                }
            }
            SourceConfig::V4l2(v) => v.validate(key)?,
            SourceConfig::Pair { visible, xray, max_skew_ms } => {
                for (name, s) in [("visible", visible), ("xray", xray)] {
                    if !s.is_one_imager() {
                        return bad(format!("{key}.{name}.kind"), "one imager: \"v4l2\" or \"replay\"");
                    }
                    s.validate_at(base_dir, &format!("{key}.{name}"))?;
                }
                if *max_skew_ms == 0 || *max_skew_ms > 10_000 {
                    return bad(format!("{key}.max_skew_ms"), format!("{max_skew_ms} is outside 1..10000"));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(json: &str, base_dir: &Path) -> Result<(), String> {
        let s: SourceConfig = serde_json::from_str(json).expect("source section");
        s.validate(base_dir).map_err(|p| p.key)
    }

    #[test]
    fn a_replayed_folder_is_taken_from_the_configs_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("images")).expect("mkdir");
        assert_eq!(key_of(r#"{"kind": "replay", "path": "images"}"#, dir.path()), Ok(()));
        assert_eq!(key_of(r#"{"kind": "replay", "path": "gone"}"#, dir.path()), Err("source.path".into()));
        assert_eq!(key_of(r#"{"kind": "coco", "path": "gone"}"#, dir.path()), Err("source.path".into()));
    }

    #[test]
    fn a_pair_takes_two_single_imagers_and_a_bounded_skew() {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = dir.path();
        let pair = |visible: &str, skew: u64| {
            format!(
                r#"{{"kind": "pair", "visible": {visible}, "max_skew_ms": {skew},
                        "xray": {{"kind": "v4l2", "device": "/dev/video1", "format": "Y16", "width": 64, "height": 64}}}}"#
            )
        };
        let cam = r#"{"kind": "v4l2", "device": "/dev/video0", "format": "GREY", "width": 64, "height": 64}"#;
        assert_eq!(key_of(&pair(cam, 20), base), Ok(()));
        let p: SourceConfig = serde_json::from_str(&pair(cam, 20)).expect("pair");
        assert_eq!((p.cameras().len(), p.is_one_imager()), (2, false));
        assert_eq!(key_of(&pair(cam, 0), base), Err("source.max_skew_ms".into()));
        let nested = pair(r#"{"kind": "coco", "path": "."}"#, 20);
        assert_eq!(key_of(&nested, base), Err("source.visible.kind".into()));
        let default_skew: SourceConfig = serde_json::from_str(&pair(cam, 20).replace(r#""max_skew_ms": 20,"#, ""))
            .expect("pair without max_skew_ms");
        assert!(matches!(default_skew, SourceConfig::Pair { max_skew_ms: 20, .. }));
    }
}
