//! Can this frame show a part at all? A lens cap, failed lighting or a camera knocked to face a wall gives
//! frames that a model trained on seals or electrodes may still call OK. Such a frame is judged by its
//! exposure statistics before any model sees it: a frame outside the camera's bounds makes its part an
//! error (rejected), and a run of them sets the alarm.

mod config;

use super::reference_similarity::{FarFromReference, ReferenceCheck};
use crate::sources::{Frame, PixelFormat};
pub use config::{Bounds, PlausibilityConfig};

/// At most this many pixels are sampled per frame (on a regular grid): the shares the bounds are about
/// (a mean, a spread, 90 % dark) are within half a percent from 4096 samples, and the check costs
/// microseconds per part (16k samples took 0.058 ms of a 0.6 ms part in `cellgate bench`).
const MAX_SAMPLES: usize = 4_096;

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
    /// How many pixels the figures come from (at most `MAX_SAMPLES`: what the check costs).
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
    /// Statistics of the frame's grey levels (RGB by BT.601 luma, 16-bit by its full range), sampled on a
    /// regular grid of at most `MAX_SAMPLES` pixels. A frame with no pixels is black and flat.
    pub fn of(frame: &Frame, bounds: &Bounds) -> Self {
        let (w, h) = (frame.width as usize, frame.height as usize);
        let bpp = frame.format.bytes_per_pixel();
        if w == 0 || h == 0 || frame.data.len() < w * h * bpp {
            return Self { mean: 0.0, contrast: 0.0, dark_fraction: 1.0, saturated_fraction: 0.0, samples: 0 };
        }
        // The same step in both directions keeps the grid square whatever the aspect ratio.
        let step = (((w * h) as f64 / MAX_SAMPLES as f64).sqrt().ceil() as usize).max(1);
        let grey = |i: usize| -> f32 {
            let p = &frame.data[i * bpp..];
            match frame.format {
                PixelFormat::Gray8 => p[0] as f32 / 255.0,
                PixelFormat::Gray16 => u16::from_le_bytes([p[0], p[1]]) as f32 / 65535.0,
                PixelFormat::Rgb8 => (0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32) / 255.0,
            }
        };
        let (mut n, mut sum, mut sum_sq, mut dark, mut saturated) = (0u32, 0f64, 0f64, 0u32, 0u32);
        // Each sampled row starts one column further on (a staggered grid): a texture whose period divides
        // the step (alternate columns of an X-ray grid) is not sampled on its bright or dark columns only.
        for (k, y) in (0..h).step_by(step).enumerate() {
            for x in (k % step..w).step_by(step) {
                let g = grey(y * w + x);
                n += 1;
                sum += g as f64;
                sum_sq += (g as f64) * (g as f64);
                dark += u32::from(g <= bounds.dark_level);
                saturated += u32::from(g >= bounds.saturated_level);
            }
        }
        let n_f = n as f64;
        let mean = sum / n_f;
        let var = (sum_sq / n_f - mean * mean).max(0.0);
        Self {
            mean: mean as f32,
            contrast: var.sqrt() as f32,
            dark_fraction: (dark as f64 / n_f) as f32,
            saturated_fraction: (saturated as f64 / n_f) as f32,
            samples: n,
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
        let mut verdict = match self.camera.check(&FrameStats::of(camera, &self.camera)) {
            Some(why) => Err(ImplausiblePart::Exposure { imager: Imager::Camera, why }),
            None => Ok(()),
        };
        if let (Ok(()), Some(x)) = (&verdict, xray) {
            if let Some(why) = self.xray.check(&FrameStats::of(x, &self.xray)) {
                verdict = Err(ImplausiblePart::Exposure { imager: Imager::Xray, why });
            }
        }
        if let (Ok(()), Some(refs)) = (&verdict, &self.references) {
            verdict = refs.check(recipe, camera).map_err(ImplausiblePart::Reference);
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
