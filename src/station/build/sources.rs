//! The imagers a station captures from: the configured camera(s) or replayed folder, or the folder a
//! command line replays instead. Replayed seal datasets add their recipes' references.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Overrides;
use crate::config::{InspectionConfig, StationConfig};
use crate::sources::pairing::PairedSource;
use crate::sources::replay::{ReplayError, ReplaySource};
use crate::sources::v4l2::device::CameraError;
use crate::sources::{FrameSource, SourceConfig};
use crate::station::pipeline::Imagers;
use crate::station::StationError;

/// The station's imagers; `references` (recipe -> reference image) gains those a replayed dataset names.
pub(super) fn open(
    cfg: &StationConfig,
    ov: &Overrides,
    references: &mut BTreeMap<String, PathBuf>,
) -> Result<Imagers, StationError> {
    Ok(match (&cfg.inspection, &ov.replay, &cfg.source) {
        (InspectionConfig::Electrode(_), Some(dir), _) => coco(dir, ov.max_triggers.is_some())?,
        (InspectionConfig::Electrode(_), None, SourceConfig::Coco { path, r#loop }) => {
            coco(&cfg.resolve(path), *r#loop)?
        }
        // A replay with a part count loops until it is reached.
        (_, Some(dir), _) => {
            Imagers::Single(Box::new(replay(ReplaySource::open(dir, ov.max_triggers.is_some())?, references)))
        }
        (_, None, SourceConfig::Pair { visible, xray, max_skew_ms }) => Imagers::Pair(PairedSource::new(
            imager(cfg, visible, "source.visible", references)?,
            imager(cfg, xray, "source.xray", references)?,
            Duration::from_millis(*max_skew_ms),
        )),
        (_, None, src) => Imagers::Single(imager(cfg, src, "source", references)?),
    })
}

/// One camera (or a replayed folder) as the config describes it under `key`.
fn imager(
    cfg: &StationConfig,
    src: &SourceConfig,
    key: &str,
    references: &mut BTreeMap<String, PathBuf>,
) -> Result<Box<dyn FrameSource>, StationError> {
    Ok(match src {
        SourceConfig::Replay { path, r#loop } => {
            Box::new(replay(ReplaySource::open(&cfg.resolve(path), *r#loop)?, references))
        }
        SourceConfig::V4l2(v) => Box::new(v.build(key).map_err(|e| match e {
            CameraError::Config(p) => StationError::Config(p),
            source => StationError::Camera { key: key.into(), source },
        })?),
        SourceConfig::Coco { .. } | SourceConfig::Pair { .. } => {
            return Err(StationError::Source(ReplayError::Empty(PathBuf::from("(a pair is not one imager)"))))
        }
    })
}

/// Electrode pairs replayed from a COCO folder (exposures are simultaneous by construction).
fn coco(dir: &Path, looped: bool) -> Result<Imagers, StationError> {
    let (visible, xray) = ReplaySource::open_coco(dir, looped)?;
    Ok(Imagers::Pair(PairedSource::new(Box::new(visible), Box::new(xray), Duration::from_secs(1))))
}

/// A replayed dataset's recipes join the configured ones.
fn replay(source: ReplaySource, references: &mut BTreeMap<String, PathBuf>) -> ReplaySource {
    for (k, p) in &source.references {
        references.entry(k.clone()).or_insert_with(|| p.clone());
    }
    source
}
