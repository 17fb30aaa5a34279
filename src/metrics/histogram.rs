//! Latencies in fixed memory: an HDR histogram, whatever the number of parts (a station runs for months).

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Durations in milliseconds, kept as a histogram of nanoseconds with 3 significant digits (0.1%)
/// from 1 ns to an hour (longer ones count as an hour): about 200 KiB whatever the run's length.
#[derive(Debug, Clone)]
pub struct Latencies(Histogram<u64>);

const MAX_NS: u64 = 3_600_000_000_000;

/// The upper bounds (ms) of the latency buckets a histogram is exported with (Prometheus' `le`): from
/// well inside a reject delay to well past any, so a fleet's latencies can be added up and compared.
pub const BUCKETS_MS: [f64; 12] = [1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0];

impl Default for Latencies {
    fn default() -> Self {
        // Bounds fixed at compile time and valid (low 1 >= 1, high >= 2 * low, 3 significant figures).
        Self(Histogram::new_with_bounds(1, MAX_NS, 3).unwrap_or_else(|e| unreachable!("histogram bounds: {e}")))
    }
}

impl Latencies {
    pub fn record(&mut self, ms: f64) {
        let ns = (ms * 1e6).round().clamp(1.0, MAX_NS as f64) as u64;
        self.0.saturating_record(ns);
    }

    pub fn len(&self) -> u64 {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value at `pct` percent, ms; none before the first value.
    pub fn percentile(&self, pct: f64) -> Option<f64> {
        (!self.0.is_empty()).then(|| self.0.value_at_quantile((pct / 100.0).clamp(0.0, 1.0)) as f64 / 1e6)
    }

    /// The sum of the values, ms (from the histogram: within its 0.1%).
    pub fn sum_ms(&self) -> f64 {
        self.0.mean() * self.0.len() as f64 / 1e6
    }

    /// The figures `metrics.json` and `cellgate status` show.
    pub fn summary(&self) -> LatencySummary {
        LatencySummary {
            count: self.len(),
            sum_ms: self.sum_ms(),
            p50_ms: self.percentile(50.0),
            p99_ms: self.percentile(99.0),
            max_ms: (!self.0.is_empty()).then(|| self.0.max() as f64 / 1e6),
            buckets: BUCKETS_MS.iter().map(|&le| self.0.count_between(1, (le * 1e6) as u64)).collect(),
        }
    }
}

/// p50, p99 and the maximum of a latency, ms (none before the first part), and how many parts it covers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub count: u64,
    /// The sum of the latencies, ms (Prometheus' summary needs it).
    #[serde(default)]
    pub sum_ms: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
    /// How many latencies were at most each of `BUCKETS_MS` (cumulative; within the histogram's 0.1%).
    #[serde(default)]
    pub buckets: Vec<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::station::summary::percentile;

    #[test]
    fn latency_percentiles_match_the_exact_ones_within_a_tenth_of_a_percent() {
        let values: Vec<f64> = (1..=10_000).map(|i| 0.3 + (i as f64 * 7919.0 % 10_000.0) / 5_000.0).collect();
        let mut h = Latencies::default();
        for v in &values {
            h.record(*v);
        }
        assert_eq!(h.len(), values.len() as u64);
        for pct in [50.0, 90.0, 99.0, 100.0] {
            let exact = percentile(&values, pct).expect("values");
            let got = h.percentile(pct).expect("recorded");
            assert!((got - exact).abs() <= exact * 1e-3 + 1e-6, "p{pct}: {got} against {exact}");
        }
        let s = h.summary();
        for (le, n) in BUCKETS_MS.iter().zip(&s.buckets) {
            let exact = values.iter().filter(|v| **v <= *le).count() as u64;
            assert!(n.abs_diff(exact) <= exact / 500 + 1, "bucket {le} ms: {n} against {exact}");
        }
        let max = values.iter().copied().fold(0.0, f64::max);
        assert_eq!((s.count, s.p50_ms, s.p99_ms), (10_000, h.percentile(50.0), h.percentile(99.0)));
        assert!((s.max_ms.expect("max") - max).abs() <= max * 1e-3, "{s:?} against {max}");
    }

    #[test]
    fn an_empty_histogram_has_no_figures_and_a_huge_value_is_held_at_an_hour() {
        let mut h = Latencies::default();
        let empty = h.summary();
        assert_eq!((empty.count, empty.p50_ms, empty.p99_ms, empty.max_ms), (0, None, None, None));
        assert_eq!(empty.buckets, [0; BUCKETS_MS.len()], "every bucket there, empty");
        h.record(1e12);
        let s = h.summary();
        assert_eq!(s.count, 1);
        assert!((s.max_ms.expect("max") - 3_600_000.0).abs() < 3_600.0, "{s:?}");
    }
}
