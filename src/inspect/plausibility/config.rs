//! The `plausibility` config section: exposure bounds per imager, when implausible frames set the alarm,
//! and the seal stations' least similarity to the recipe's reference; with the checks that refuse bounds
//! no frame could meet.

use serde::Deserialize;

use crate::key_problem::KeyProblem;

/// The `plausibility` config section: bounds per imager and when implausible frames set the alarm.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlausibilityConfig {
    /// Check frames at all (off only for a bench or a line that checks exposure elsewhere).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Bounds of the camera's frames (the visible camera of an electrode station).
    #[serde(default)]
    pub camera: Bounds,
    /// Bounds of the electrode station's X-ray frames.
    #[serde(default)]
    pub xray: Bounds,
    /// This many implausible frames in a row from one imager set the alarm (cleared by a plausible one).
    #[serde(default = "default_alarm_after")]
    pub alarm_after: u32,
    /// Seal stations: the least similarity of a frame's coarse layout to its recipe's reference
    /// (normalised cross-correlation, -1..1; see `reference_similarity`); `null` turns the check off.
    #[serde(default = "default_min_reference_similarity")]
    pub min_reference_similarity: Option<f32>,
}

impl Default for PlausibilityConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            camera: Bounds::default(),
            xray: Bounds::default(),
            alarm_after: default_alarm_after(),
            min_reference_similarity: default_min_reference_similarity(),
        }
    }
}

impl PlausibilityConfig {
    /// The first setting that cannot be met, keyed below the section.
    pub fn validate(&self) -> Result<(), KeyProblem> {
        for (imager, bounds) in [("camera", &self.camera), ("xray", &self.xray)] {
            bounds.validate().map_err(|(key, problem)| KeyProblem::new(format!("{imager}.{key}"), problem))?;
        }
        if !(1..=1000).contains(&self.alarm_after) {
            return Err(KeyProblem::new("alarm_after", format!("{} is outside 1..1000 frames", self.alarm_after)));
        }
        if let Some(m) = self.min_reference_similarity.filter(|m| !(-1.0..=1.0).contains(m)) {
            return Err(KeyProblem::new("min_reference_similarity", format!("{m} is outside -1..1 (null: off)")));
        }
        Ok(())
    }
}

fn default_true() -> bool {
    true
}

fn default_alarm_after() -> u32 {
    3
}

fn default_min_reference_similarity() -> Option<f32> {
    Some(0.5)
}

/// Exposure bounds on the frame's grey levels, as fractions of full scale (0 = black, 1 = white).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Bounds {
    /// Lowest mean grey level (a lens cap or dead lighting is darker).
    pub min_mean: f32,
    /// Highest mean grey level (a blinded or overexposed camera is brighter).
    pub max_mean: f32,
    /// Lowest standard deviation of the grey levels: a flat frame (a wall, fog, a frozen sensor) shows no
    /// part. The demo's electrode frames have 0.021 and up, its seal frames 0.17 and up.
    pub min_contrast: f32,
    /// Grey level at or below which a pixel counts as dark.
    pub dark_level: f32,
    /// Largest share of dark pixels.
    pub max_dark_fraction: f32,
    /// Grey level at or above which a pixel counts as saturated.
    pub saturated_level: f32,
    /// Largest share of saturated pixels (a black-and-white test chart has half its pixels at full scale).
    pub max_saturated_fraction: f32,
}

impl Default for Bounds {
    fn default() -> Self {
        Self {
            min_mean: 0.03,
            max_mean: 0.97,
            min_contrast: 0.01,
            dark_level: 0.03,
            max_dark_fraction: 0.9,
            saturated_level: 0.97,
            max_saturated_fraction: 0.8,
        }
    }
}

impl Bounds {
    /// The first bound that cannot be met, as (key below the section, problem).
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let fractions = [
            ("min_mean", self.min_mean),
            ("max_mean", self.max_mean),
            ("min_contrast", self.min_contrast),
            ("dark_level", self.dark_level),
            ("max_dark_fraction", self.max_dark_fraction),
            ("saturated_level", self.saturated_level),
            ("max_saturated_fraction", self.max_saturated_fraction),
        ];
        for (key, v) in fractions {
            if !(0.0..=1.0).contains(&v) {
                return Err((key, format!("{v} is not a fraction of full scale (0..1)")));
            }
        }
        if self.min_mean >= self.max_mean {
            return Err(("max_mean", format!("must be above min_mean ({})", self.min_mean)));
        }
        if self.dark_level >= self.saturated_level {
            return Err(("saturated_level", format!("must be above dark_level ({})", self.dark_level)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_that_cannot_be_met_are_named() {
        let b = Bounds { min_mean: 0.6, max_mean: 0.5, ..Bounds::default() };
        assert_eq!(b.validate().map_err(|e| e.0), Err("max_mean"));
        let b = Bounds { max_dark_fraction: 1.5, ..Bounds::default() };
        assert_eq!(b.validate().map_err(|e| e.0), Err("max_dark_fraction"));
        assert_eq!(Bounds::default().validate(), Ok(()));
    }
}
