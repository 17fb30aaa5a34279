//! Can this frame show a part at all? A lens cap, failed lighting or a camera knocked to face a wall gives
//! frames that a model trained on seals or electrodes may still call OK. Such a frame is judged by its
//! exposure statistics before any model sees it: a frame outside the camera's bounds makes its part an
//! error (rejected), and a run of them sets the alarm.

mod config;

use super::grey_samples;
use super::reference_similarity::{FarFromReference, LayoutSum, ReferenceCheck};
use crate::sources::Frame;
pub use config::{Bounds, PlausibilityConfig};

impl Bounds {
    /// Why a frame with these statistics cannot show a part, or `None` when it can.
    pub fn check(&self, s: &FrameStats) -> Option<Implausible> {
        let reason = if s.mean < self.min_mean {
            format!("too dark: mean {:.3} < {}", s.mean, self.min_mean)
        } else if s.mean > self.max_mean {
            format!("too bright: mean {:.3} > {}", s.mean, self.max_mean)
        } else if s.contrast < self.min_contrast {
            format!("flat: contrast {:.4} < {}", s.contrast, self.min_contrast)
        } else if s.dark_fraction > self.max_dark_fraction {
            format!("{:.0}% of the frame dark (> {:.0}%)", s.dark_fraction * 100.0, self.max_dark_fraction * 100.0)
        } else if s.saturated_fraction > self.max_saturated_fraction {
            format!(
                "{:.0}% of the frame saturated (> {:.0}%)",
                s.saturated_fraction * 100.0,
                self.max_saturated_fraction * 100.0
            )
        } else {
            return None;
        };
        Some(Implausible { reason, stats: *s })
    }
}

/// Which imager of a part gave the implausible frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imager {
    Camera,
    Xray,
}

impl std::fmt::Display for Imager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Imager::Camera => "camera",
            Imager::Xray => "X-ray imager",
        })
    }
}

/// Why a part's frames may not be judged.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImplausiblePart {
    /// One imager's exposure shows no part.
    #[error("{imager}: {why}")]
    Exposure { imager: Imager, why: Implausible },
    /// The camera's frame is another scene than its recipe's reference.
    #[error("camera: {0}")]
    Reference(FarFromReference),
}

/// A frame's exposure statistics, grey levels as fractions of full scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameStats {
    pub mean: f32,
    /// Standard deviation of the grey levels.
    pub contrast: f32,
    pub dark_fraction: f32,
    pub saturated_fraction: f32,
    /// How many pixels the figures come from (at most `grey_samples::MAX_SAMPLES`: what the check costs).
    pub samples: u32,
}

/// Why a frame cannot show a part.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("implausible frame: {reason}")]
pub struct Implausible {
    pub reason: String,
    pub stats: FrameStats,
}

impl FrameStats {
    /// Statistics of the frame's grey levels on the checks' sampling grid (`grey_samples`). A frame with
    /// no pixels is black and flat.
    pub fn of(frame: &Frame, bounds: &Bounds) -> Self {
        let mut sum = StatsSum::new(bounds);
        grey_samples::for_each(frame, |_, _, g| sum.add(g));
        sum.finish()
    }
}

/// Running sums of a frame's samples, from which its statistics follow.
struct StatsSum {
    dark_level: f32,
    saturated_level: f32,
    n: u32,
    sum: f64,
    sum_sq: f64,
    dark: u32,
    saturated: u32,
}

impl StatsSum {
    fn new(bounds: &Bounds) -> Self {
        let (dark_level, saturated_level) = (bounds.dark_level, bounds.saturated_level);
        Self { dark_level, saturated_level, n: 0, sum: 0.0, sum_sq: 0.0, dark: 0, saturated: 0 }
    }

    fn add(&mut self, g: f32) {
        self.n += 1;
        self.sum += g as f64;
        self.sum_sq += (g as f64) * (g as f64);
        self.dark += u32::from(g <= self.dark_level);
        self.saturated += u32::from(g >= self.saturated_level);
    }

    fn finish(self) -> FrameStats {
        if self.n == 0 {
            return FrameStats { mean: 0.0, contrast: 0.0, dark_fraction: 1.0, saturated_fraction: 0.0, samples: 0 };
        }
        let n = self.n as f64;
        let mean = self.sum / n;
        let var = (self.sum_sq / n - mean * mean).max(0.0);
        FrameStats {
            mean: mean as f32,
            contrast: var.sqrt() as f32,
            dark_fraction: (self.dark as f64 / n) as f32,
            saturated_fraction: (self.saturated as f64 / n) as f32,
            samples: self.n,
        }
    }
}

/// The station's frame checks: each imager's frames against its own bounds (the camera, and the X-ray
/// imager of a pair). A part is implausible when any of its frames is; `alarm_after` such parts in a row
/// of one cavity set the alarm (a cavity whose view is blocked alarms even while the others are fine),
/// and the alarm clears once no cavity has such a run.
#[derive(Debug)]
pub struct FrameChecks {
    camera: Bounds,
    xray: Bounds,
    alarm_after: u32,
    /// Implausible parts in a row, per cavity.
    runs: Vec<u32>,
    /// Seal stations: each frame against its recipe's reference.
    references: Option<ReferenceCheck>,
}

impl FrameChecks {
    /// `None` when the config turns the checks off.
    pub fn new(cfg: &PlausibilityConfig) -> Option<Self> {
        cfg.enabled.then(|| Self {
            camera: cfg.camera,
            xray: cfg.xray,
            alarm_after: cfg.alarm_after.max(1),
            runs: Vec::new(),
            references: None,
        })
    }

    /// Also checks each camera frame against its recipe's reference.
    pub fn with_references(self, references: ReferenceCheck) -> Self {
        Self { references: Some(references), ..self }
    }

    /// Is the implausible-frame alarm on?
    pub fn alarmed(&self) -> bool {
        self.runs.iter().any(|&r| r >= self.alarm_after)
    }

    /// Checks a part's frames: `Err` names the imager and the reason; the second value is `Some(on)` when
    /// the implausible-frame alarm changes.
    pub fn check(
        &mut self,
        cavity: usize,
        camera: &Frame,
        xray: Option<&Frame>,
        recipe: &str,
    ) -> (Result<(), ImplausiblePart>, Option<bool>) {
        // One pass over the camera's frame feeds both of its checks.
        let mut stats = StatsSum::new(&self.camera);
        let mut layout = self.references.as_ref().map(|_| LayoutSum::new(camera));
        grey_samples::for_each(camera, |x, y, g| {
            stats.add(g);
            if let Some(l) = layout.as_mut() {
                l.add(x, y, g);
            }
        });
        let mut verdict = match self.camera.check(&stats.finish()) {
            Some(why) => Err(ImplausiblePart::Exposure { imager: Imager::Camera, why }),
            None => Ok(()),
        };
        if let (Ok(()), Some(x)) = (&verdict, xray) {
            if let Some(why) = self.xray.check(&FrameStats::of(x, &self.xray)) {
                verdict = Err(ImplausiblePart::Exposure { imager: Imager::Xray, why });
            }
        }
        if let (Ok(()), Some(refs)) = (&verdict, &self.references) {
            let layout = layout.and_then(LayoutSum::finish);
            verdict = refs.check(recipe, layout.as_ref()).map_err(ImplausiblePart::Reference);
        }
        if self.runs.len() <= cavity {
            self.runs.resize(cavity + 1, 0);
        }
        let alarmed = |runs: &[u32]| runs.iter().any(|&r| r >= self.alarm_after);
        let was = alarmed(&self.runs);
        let run = &mut self.runs[cavity];
        *run = if verdict.is_ok() { 0 } else { run.saturating_add(1) };
        let now = alarmed(&self.runs);
        (verdict, (now != was).then_some(now))
    }
}

#[cfg(test)]
mod tests;
