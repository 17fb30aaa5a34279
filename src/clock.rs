//! Kernel timestamps (V4L2 buffers, GPIO edge events) are CLOCK_MONOTONIC; `Instant` reads the same clock
//! on Linux, so a kernel time can be placed on the station's time line exactly.

use std::time::{Duration, Instant};

use nix::time::{clock_gettime, ClockId};

/// The `Instant` of a CLOCK_MONOTONIC time given since boot. A time in the future (never seen from the
/// kernel) or one that cannot be read maps to now.
pub fn monotonic_to_instant(since_boot: Duration) -> Instant {
    let now = Instant::now();
    let Ok(ts) = clock_gettime(ClockId::CLOCK_MONOTONIC) else {
        return now;
    };
    let mono_now = Duration::new(ts.tv_sec() as u64, ts.tv_nsec() as u32);
    match mono_now.checked_sub(since_boot) {
        Some(age) => now.checked_sub(age).unwrap_or(now),
        None => now,
    }
}

/// CLOCK_MONOTONIC now, as the kernel stamps events.
pub fn monotonic_now() -> Duration {
    clock_gettime(ClockId::CLOCK_MONOTONIC)
        .map(|ts| Duration::new(ts.tv_sec() as u64, ts.tv_nsec() as u32))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_time_maps_onto_instants() {
        let before = Instant::now();
        let mono = monotonic_now();
        let after = Instant::now();
        let t = monotonic_to_instant(mono);
        assert!(t >= before - Duration::from_micros(50) && t <= after + Duration::from_micros(50));
        let earlier = monotonic_to_instant(mono - Duration::from_millis(300));
        let d = t.duration_since(earlier);
        assert!((d.as_secs_f64() - 0.3).abs() < 1e-3, "{d:?}");
    }
}
