//! Station counters: one documented field per thing that can happen, each counted by the step it
//! belongs to, all visible in one JSON snapshot (the replay summary, the bench, the status output).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::Serialize;

macro_rules! metrics {
    ($(#[$m:meta])* $name:ident / $snap:ident { $($(#[$doc:meta])* $field:ident,)* }) => {
        $(#[$m])*
        #[derive(Debug, Default)]
        pub struct $name { $($(#[$doc])* pub $field: AtomicU64,)* }

        #[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
        pub struct $snap { $(pub $field: u64,)* }

        impl $name {
            pub fn snapshot(&self) -> $snap {
                $snap { $($field: self.$field.load(Relaxed),)* }
            }
        }
    };
}

metrics!(
    /// Counters shared by the station's threads.
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
    }
);

impl StationMetrics {
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
