//! The station's metrics registry: one documented counter per thing that can happen, each counted
//! live by the component it belongs to (capture, inference, the reject scheduler, the record sinks...),
//! readable at any time as one snapshot (`cellgate status` through `metrics.json`, the replay summary,
//! the bench, systemd's status line). Counters of a component added later are registered by name.

mod config;
pub mod file;
pub mod histogram;
pub mod prometheus;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

pub use config::{MetricsConfig, METRICS_PERIOD_MS};
use histogram::{Latencies, LatencySummary};

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("metric {0} is one of the station's own counters; a component's counter needs a name of its own")]
    Taken(&'static str),
}

/// A registered counter: a handle the component keeps and counts on.
#[derive(Debug, Clone, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    pub fn inc(&self) {
        self.0.fetch_add(1, Relaxed);
    }

    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

macro_rules! metrics {
    ($(#[$m:meta])* $name:ident / $snap:ident { $($(#[doc = $doc:literal])* $field:ident,)* }) => {
        $(#[$m])*
        #[derive(Debug, Default)]
        pub struct $name {
            $($(#[doc = $doc])* pub $field: AtomicU64,)*
            registered: Mutex<BTreeMap<&'static str, Counter>>,
            latency: Mutex<Latencies>,
            /// Alarm and ready as last written.
            alarm: AtomicBool,
            ready: AtomicBool,
        }

        /// The counters at one moment: the station's, then the registered ones (one flat JSON object).
        #[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
        pub struct $snap {
            $(#[serde(default)] pub $field: u64,)*
            #[serde(flatten)]
            pub registered: BTreeMap<String, u64>,
        }

        impl $snap {
            /// Every counter by name: the station's in the order declared, then the registered ones.
            pub fn pairs(&self) -> Vec<(&str, u64)> {
                let own = [$((stringify!($field), self.$field),)*];
                own.into_iter().chain(self.registered.iter().map(|(k, v)| (k.as_str(), *v))).collect()
            }
        }

        impl $name {
            const NAMES: &'static [&'static str] = &[$(stringify!($field),)*];
            /// Each counter's documentation (its doc comment above), for `/metrics`' HELP lines.
            pub const HELP: &'static [(&'static str, &'static str)] = &[$((stringify!($field), concat!($($doc, )* "")),)*];

            pub fn snapshot(&self) -> $snap {
                let registered = self.registered.lock().unwrap_or_else(PoisonError::into_inner);
                $snap {
                    $($field: self.$field.load(Relaxed),)*
                    registered: registered.iter().map(|(k, c)| (k.to_string(), c.get())).collect(),
                }
            }
        }
    };
}

/// Counters, the trigger->verdict latency and the outputs, taken together.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LiveSnapshot {
    pub counters: MetricsSnapshot,
    /// Trigger->verdict of every part that got a score: the run summary's figures.
    pub latency: LatencySummary,
    /// The alarm output as last written.
    pub alarm: bool,
    /// The ready output as last written.
    pub ready: bool,
}

metrics!(
    /// The station's one metrics registry, shared by its threads: the counters below, counters that
    /// components register by name, the trigger->verdict latency and the last written alarm and ready.
    StationMetrics / MetricsSnapshot {
        // trigger + capture
        /// Trigger events that started an inspection.
        triggers,
        /// Frames delivered by the source.
        frames_captured,
        /// Frames the camera dropped (gaps in its sequence numbers).
        frames_dropped,
        /// Capture attempts that failed (camera lost or erroring).
        capture_errors,
        /// Frames with a wrong size or format: counted, logged, the part rejected.
        bad_frames,
        /// Cycles dropped because the inference queue was full (their parts are rejected fail-safe).
        overload_drops,
        // infer
        /// Batches sent through the model.
        batches,
        /// Parts that got a score.
        parts_scored,
        /// Inference runs that failed.
        inference_errors,
        /// Parts not inferred because their reject point had already passed.
        skipped_past_deadline,
        // decide + actuate
        /// Parts settled (one per triggered cavity).
        parts_settled,
        parts_ok,
        parts_ng,
        /// Parts with no usable result (bad frame, capture or model error).
        parts_error,
        /// Parts whose verdict was not ready at the reject point (rejected fail-safe).
        parts_late,
        /// Reject pulses fired.
        rejects_fired,
        /// Parts rejected only because a fault was active.
        rejects_on_fault,
        /// Output writes that failed (a reject that did not fire, a pulse that could not end): alarm.
        output_write_errors,
        /// Frames that cannot show a part (too dark, too bright, flat): their parts are rejected.
        implausible_frames,
        /// Times the trigger input was lost (alarm on, ready off until it is back).
        trigger_lost,
        /// Times the reject scheduler woke up (each takes a core from inference for a moment): about one
        /// per part that fires an output, fewer while parts come judged OK.
        actuator_wakeups,
        /// Sum and maximum of |actual - scheduled| reject time, microseconds.
        reject_timing_error_us_sum,
        reject_timing_error_us_max,
        // model swaps
        /// Replacement models validated, warmed and handed over.
        model_swaps,
        /// Replacement models refused (integrity, load, contract, self-test).
        model_loads_refused,
        /// Time from the last replacement's files settling to its first part, ms.
        last_takeover_ms,
        // record
        /// Results-log writes that failed (disk full...).
        results_write_errors,
        /// NG images archived / evicted by the quota / failed to write.
        archive_saved,
        archive_evicted,
        archive_write_errors,
        /// NG images not archived because the disk was under `records.archive.min_free_bytes` free.
        archive_skipped_low_space,
        /// Record sinks dropped for the rest of the run because they panicked (the others go on).
        record_sink_panics,
        // metrics file
        /// `metrics.json` writes that failed (logged once per streak; the line runs on).
        metrics_write_errors,
    }
);

impl StationMetrics {
    /// A counter of a component that the list above does not name (a sink added later): registered by
    /// name when the component is built, counted live, and in every snapshot beside the others. A name
    /// registered twice is the same counter; a name of the list above is refused.
    pub fn register(&self, name: &'static str) -> Result<Counter, MetricsError> {
        if Self::NAMES.contains(&name) {
            return Err(MetricsError::Taken(name));
        }
        let mut registered = self.registered.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(registered.entry(name).or_default().clone())
    }

    /// One settled part's trigger->verdict latency (parts that got a score, as the run summary counts).
    pub fn record_latency(&self, ms: f64) {
        self.latency.lock().unwrap_or_else(PoisonError::into_inner).record(ms);
    }

    /// Alarm and ready as just written; `None` keeps the last value shown (not written now, or its write
    /// failed: `output_write_errors` counts that).
    pub fn outputs_written(&self, alarm: Option<bool>, ready: Option<bool>) {
        for (state, v) in [(&self.alarm, alarm), (&self.ready, ready)] {
            if let Some(v) = v {
                state.store(v, Relaxed);
            }
        }
    }

    /// Everything at once, at any time: counters, latency, outputs.
    pub fn live(&self) -> LiveSnapshot {
        LiveSnapshot {
            counters: self.snapshot(),
            latency: self.latency.lock().unwrap_or_else(PoisonError::into_inner).summary(),
            alarm: self.alarm.load(Relaxed),
            ready: self.ready.load(Relaxed),
        }
    }

    pub fn add(&self, c: &AtomicU64, n: u64) {
        c.fetch_add(n, Relaxed);
    }

    pub fn inc(&self, c: &AtomicU64) {
        c.fetch_add(1, Relaxed);
    }

    pub fn reject_timing(&self, err_us: u64) {
        self.reject_timing_error_us_sum.fetch_add(err_us, Relaxed);
        self.reject_timing_error_us_max.fetch_max(err_us, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_counters_are_live_and_in_the_one_flat_snapshot() {
        let m = StationMetrics::default();
        let published = m.register("mqtt_published").expect("a new name");
        let again = m.register("mqtt_published").expect("the same name again");
        published.add(2);
        again.inc();
        m.inc(&m.archive_saved);
        let snap = m.snapshot();
        assert_eq!((snap.registered.get("mqtt_published"), snap.archive_saved), (Some(&3), 1));
        let json = serde_json::to_value(&snap).expect("json");
        assert_eq!((json["mqtt_published"].as_u64(), json["archive_saved"].as_u64()), (Some(3), Some(1)));
        let back: MetricsSnapshot = serde_json::from_value(json).expect("read back");
        assert_eq!(back, snap);
        let pairs = snap.pairs();
        assert_eq!((pairs[0], *pairs.last().expect("pairs")), (("triggers", 0), ("mqtt_published", 3)));
    }

    #[test]
    fn a_component_cannot_take_a_station_counters_name() {
        let m = StationMetrics::default();
        match m.register("archive_saved") {
            Err(MetricsError::Taken("archive_saved")) => {}
            other => panic!("archive_saved registered twice: {other:?}"),
        }
    }

    #[test]
    fn the_live_snapshot_has_latency_and_the_outputs_as_last_written() {
        let m = StationMetrics::default();
        assert_eq!(m.live().latency.count, 0);
        for ms in [1.0, 2.0, 3.0, 40.0] {
            m.record_latency(ms);
        }
        m.outputs_written(Some(true), Some(true));
        // A failed write of ready leaves its last known state.
        m.outputs_written(Some(false), None);
        let live = m.live();
        assert_eq!((live.alarm, live.ready, live.latency.count), (false, true, 4));
        let max = live.latency.max_ms.expect("max");
        assert!((max - 40.0).abs() < 0.05, "{max}");
        assert!(live.latency.p50_ms.expect("p50") <= 2.01);
    }
}
