//! A station runs for months: the run summary must not keep anything per part. Measured with a counting
//! allocator (this test binary's only test, so nothing else allocates meanwhile).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use cellgate::inspect::decision::Verdict;
use cellgate::part::PartRecord;
use cellgate::station::Summary;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts the bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's layout goes to System as given.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: ptr came from System.alloc with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

#[test]
fn a_million_parts_add_nothing_to_the_summary_memory() {
    let mut rec = PartRecord::registered(0, 0, String::new(), 0.0);
    rec.verdict = Verdict::Ok;
    rec.p_ng = Some(0.1);
    let mut summary = Summary::default();
    summary.add(&rec);
    let start = LIVE.load(Ordering::Relaxed);
    for i in 1..1_000_000u64 {
        rec.part = i;
        rec.trigger_ms = i as f64;
        rec.latency.total_ms = 0.5 + (i % 997) as f64 * 0.01;
        rec.latency.infer_ms = 0.3 + (i % 991) as f64 * 0.001;
        summary.add(&rec);
    }
    let grown = LIVE.load(Ordering::Relaxed) - start;
    assert_eq!(summary.parts, 1_000_000);
    assert!(summary.latency_ms(99.0).is_some());
    assert!(grown < 64 * 1024, "the summary grew by {grown} bytes over a million parts");
}
