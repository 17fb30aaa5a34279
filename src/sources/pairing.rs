//! The electrode station's two imagers as one source of pairs: for each trigger the visible camera and the
//! X-ray imager each deliver their first frame exposed after it, and the two count as one part only when
//! their exposure times lie within the configured skew. An incomplete pair is an error for that part (it is
//! rejected fail-safe and counted); a lost imager is a source fault like a lost camera.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{FaultNotifier, Frame, FrameSource, SourceError};

/// The visible and X-ray frames of one part.
#[derive(Debug, Clone)]
pub struct FramePair {
    pub visible: Frame,
    pub xray: Frame,
    /// |visible exposure - X-ray exposure|.
    pub skew: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum PairError {
    /// One imager failed (unplugged, erroring, ended): the station treats it as a source fault.
    #[error("{imager} imager: {source}")]
    Source { imager: &'static str, source: SourceError },
    /// Both delivered, but not for the same part.
    #[error("incomplete pair: exposures {skew:?} apart, more than the {max:?} allowed")]
    Skew { skew: Duration, max: Duration },
}

pub struct PairedSource {
    visible: Box<dyn FrameSource>,
    xray: Box<dyn FrameSource>,
    max_skew: Duration,
}

impl PairedSource {
    pub fn new(visible: Box<dyn FrameSource>, xray: Box<dyn FrameSource>, max_skew: Duration) -> Self {
        Self { visible, xray, max_skew }
    }

    pub fn capture(&mut self, after: Instant) -> Result<FramePair, PairError> {
        let visible = self.visible.capture(after).map_err(|source| PairError::Source { imager: "visible", source })?;
        let xray = self.xray.capture(after).map_err(|source| PairError::Source { imager: "x-ray", source })?;
        let skew = if visible.timestamp > xray.timestamp {
            visible.timestamp - xray.timestamp
        } else {
            xray.timestamp - visible.timestamp
        };
        if skew > self.max_skew {
            return Err(PairError::Skew { skew, max: self.max_skew });
        }
        Ok(FramePair { visible, xray, skew })
    }

    pub fn describe(&self) -> String {
        format!("visible {} + x-ray {} (max skew {:?})", self.visible.describe(), self.xray.describe(), self.max_skew)
    }

    pub fn live(&self) -> bool {
        self.visible.live() && self.xray.live()
    }

    pub fn dropped_frames(&self) -> u64 {
        self.visible.dropped_frames() + self.xray.dropped_frames()
    }

    /// A fault while either imager is lost; cleared only when both are back.
    pub fn watch_faults(&mut self, notify: FaultNotifier) {
        let notify = Arc::new(Mutex::new(notify));
        let lost = Arc::new(Mutex::new([false; 2]));
        for (i, imager) in [&mut self.visible, &mut self.xray].into_iter().enumerate() {
            let (notify, lost) = (notify.clone(), lost.clone());
            imager.watch_faults(Box::new(move |fault| {
                let mut l = lost.lock().unwrap_or_else(|p| p.into_inner());
                l[i] = fault.is_some();
                let tell = notify.lock().unwrap_or_else(|p| p.into_inner());
                match fault {
                    Some(why) => tell(Some(&format!("{} imager: {why}", ["visible", "x-ray"][i]))),
                    None if !l.iter().any(|&x| x) => tell(None),
                    None => {}
                }
            }));
        }
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::sources::PixelFormat;

    /// An imager whose n-th frame is exposed `delays[n]` after the trigger, or fails when `None`.
    struct Imager {
        delays: Vec<Option<Duration>>,
        n: usize,
    }

    impl FrameSource for Imager {
        fn capture(&mut self, after: Instant) -> Result<Frame, SourceError> {
            let d = self.delays.get(self.n).copied().ok_or(SourceError::Ended)?;
            self.n += 1;
            let d = d.ok_or_else(|| SourceError::Unavailable("unplugged".into()))?;
            Ok(Frame::still(2, 2, PixelFormat::Gray8, vec![0; 4]).exposed(after + d, self.n as u64))
        }

        fn describe(&self) -> String {
            "test imager".into()
        }
    }

    fn ms(v: u64) -> Option<Duration> {
        Some(Duration::from_millis(v))
    }

    #[test]
    fn frames_within_the_skew_pair_up_others_are_incomplete_and_lost_imagers_are_faults() {
        let visible = Imager { delays: vec![ms(2), ms(2), ms(2), ms(2)], n: 0 };
        let xray = Imager { delays: vec![ms(5), ms(40), None, ms(1)], n: 0 };
        let mut src = PairedSource::new(Box::new(visible), Box::new(xray), Duration::from_millis(10));
        let t = Instant::now();
        let p = src.capture(t).expect("a pair 3 ms apart");
        assert_eq!(p.skew, Duration::from_millis(3));
        assert!(matches!(src.capture(t), Err(PairError::Skew { skew, .. }) if skew == Duration::from_millis(38)));
        let e = src.capture(t).expect_err("x-ray unplugged");
        assert!(matches!(e, PairError::Source { imager: "x-ray", source: SourceError::Unavailable(_) }), "{e}");
        assert!(src.capture(t).is_ok(), "the next part pairs again");
        assert!(matches!(src.capture(t), Err(PairError::Source { imager: "visible", source: SourceError::Ended })));
    }
}
