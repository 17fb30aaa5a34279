//! What a run adds up to: parts, verdicts, late parts, latency percentiles, and, when replaying a
//! labelled dataset, agreement with its labels. Counters and fixed-size histograms only: a station runs
//! for months, so nothing here grows with the number of parts.

use serde::Serialize;

use crate::inspect::decision::Verdict;
pub use crate::metrics::histogram::Latencies;
use crate::part::PartRecord;

#[derive(Debug, Default, Clone, Serialize)]
pub struct Summary {
    pub parts: u64,
    pub ok: u64,
    pub ng: u64,
    pub error: u64,
    pub late: u64,
    pub rejected: u64,
    #[serde(skip)]
    latencies_ms: Latencies,
    #[serde(skip)]
    infer_ms: Latencies,
    /// First trigger and last verdict (station clock, ms): the span the parts took to judge.
    pub first_trigger_ms: Option<f64>,
    pub last_verdict_ms: Option<f64>,
    /// Labelled parts: [true ok, true ng] x [passed, rejected].
    pub labelled: [[u64; 2]; 2],
}

impl Summary {
    pub fn add(&mut self, r: &PartRecord) {
        self.parts += 1;
        match r.verdict {
            Verdict::Ok => self.ok += 1,
            Verdict::Ng => self.ng += 1,
            Verdict::Error => self.error += 1,
        }
        self.late += r.late as u64;
        self.rejected += r.rejected as u64;
        if r.p_ng.is_some() {
            self.latencies_ms.record(r.latency.total_ms);
            self.infer_ms.record(r.latency.infer_ms);
            let done = r.trigger_ms + r.latency.total_ms;
            self.last_verdict_ms = Some(self.last_verdict_ms.map_or(done, |t| t.max(done)));
        }
        self.first_trigger_ms = Some(self.first_trigger_ms.map_or(r.trigger_ms, |t| t.min(r.trigger_ms)));
        if let Some(l) = r.label {
            self.labelled[(l == "ng") as usize][r.rejected as usize] += 1;
        }
    }

    /// Latency percentile (trigger to verdict), ms.
    pub fn latency_ms(&self, pct: f64) -> Option<f64> {
        self.latencies_ms.percentile(pct)
    }

    /// Percentile of the preprocess + inference time of a part's batch, ms.
    pub fn infer_ms(&self, pct: f64) -> Option<f64> {
        self.infer_ms.percentile(pct)
    }

    /// Parts judged per second, from the first trigger to the last verdict.
    pub fn judged_per_s(&self) -> Option<f64> {
        let span = self.last_verdict_ms? - self.first_trigger_ms?;
        (span > 0.0).then(|| self.latencies_ms.len() as f64 / (span / 1e3))
    }

    pub fn labelled_parts(&self) -> u64 {
        self.labelled.iter().flatten().sum()
    }

    /// (accuracy, NG recall, false-reject rate) on the labelled parts, by what the station did (rejected or not).
    pub fn agreement(&self) -> Option<(f64, Option<f64>, Option<f64>)> {
        let n = self.labelled_parts();
        if n == 0 {
            return None;
        }
        let [[ok_pass, ok_rej], [ng_pass, ng_rej]] = self.labelled;
        let rate = |a: u64, b: u64| if a + b == 0 { None } else { Some(a as f64 / (a + b) as f64) };
        Some(((ok_pass + ng_rej) as f64 / n as f64, rate(ng_rej, ng_pass), rate(ok_rej, ok_pass)))
    }
}

/// Nearest-rank percentile of `values` (benchmarks' short lists).
pub fn percentile(values: &[f64], pct: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let i = ((pct / 100.0) * (v.len() - 1) as f64).round() as usize;
    v.get(i).copied()
}
