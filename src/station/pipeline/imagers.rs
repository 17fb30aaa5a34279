//! The imagers a trigger reads: one camera (a frame per cavity), or the electrode station's visible +
//! X-ray pair, each frame checked for its size before anything reads it.

use std::time::Instant;

use crate::sources::pairing::{PairError, PairedSource};
use crate::sources::{Frame, FrameSource, SourceError};

/// The imagers a trigger reads: one camera per cavity-frame, or the electrode station's pair.
pub enum Imagers {
    Single(Box<dyn FrameSource>),
    Pair(PairedSource),
}

impl Imagers {
    pub fn capture(&mut self, t: Instant) -> Result<(Frame, Option<Frame>), SourceError> {
        match self {
            Imagers::Single(s) => s.capture(t).and_then(|f| f.validate().map(|_| (f, None))),
            Imagers::Pair(p) => match p.capture(t) {
                Ok(pair) => {
                    pair.visible.validate()?;
                    pair.xray.validate()?;
                    Ok((pair.visible, Some(pair.xray)))
                }
                Err(PairError::Source { imager, source: SourceError::Unavailable(why) }) => {
                    Err(SourceError::Unavailable(format!("{imager} imager: {why}")))
                }
                Err(PairError::Source { source, .. }) => Err(source),
                // Both imagers work, but not for the same part: this part is lost, the station is fine.
                Err(e @ PairError::Skew { .. }) => Err(SourceError::BadFrame(e.to_string())),
            },
        }
    }

    pub fn live(&self) -> bool {
        match self {
            Imagers::Single(s) => s.live(),
            Imagers::Pair(p) => p.live(),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Imagers::Single(s) => s.describe(),
            Imagers::Pair(p) => p.describe(),
        }
    }

    pub fn dropped_frames(&self) -> u64 {
        match self {
            Imagers::Single(s) => s.dropped_frames(),
            Imagers::Pair(p) => p.dropped_frames(),
        }
    }

    pub fn watch_faults(&mut self, notify: crate::sources::FaultNotifier) {
        match self {
            Imagers::Single(s) => s.watch_faults(notify),
            Imagers::Pair(p) => p.watch_faults(notify),
        }
    }
}
