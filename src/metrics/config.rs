//! `metrics`: how often the station writes its counters to `model_updates.state_dir/metrics.json`.

use serde::Deserialize;

use crate::key_problem::{bad, KeyProblem};

/// The range `metrics.period_ms` may take.
pub const METRICS_PERIOD_MS: std::ops::RangeInclusive<u64> = 100..=3_600_000;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Time between two writes of `metrics.json` while the station runs, ms; `cellgate status` calls a
    /// file older than three periods stale.
    #[serde(default = "default_period_ms")]
    pub period_ms: u64,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self { period_ms: default_period_ms() }
    }
}

fn default_period_ms() -> u64 {
    5000
}

impl MetricsConfig {
    pub fn validate(&self) -> Result<(), KeyProblem> {
        if !METRICS_PERIOD_MS.contains(&self.period_ms) {
            let (lo, hi) = (METRICS_PERIOD_MS.start(), METRICS_PERIOD_MS.end());
            return bad("metrics.period_ms", format!("{} is outside {lo}..{hi}", self.period_ms));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_period_defaults_to_5_s_and_is_bounded() {
        let c: MetricsConfig = serde_json::from_str("{}").expect("metrics section");
        assert_eq!(c.period_ms, 5000);
        for period_ms in [99, 3_600_001] {
            let p = MetricsConfig { period_ms }.validate().expect_err("out of range");
            assert_eq!(p.key, "metrics.period_ms");
        }
        assert_eq!(MetricsConfig { period_ms: 100 }.validate(), Ok(()));
    }
}
