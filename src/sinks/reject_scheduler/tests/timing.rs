use super::*;

#[test]
fn back_to_back_ng_parts_hold_one_pulse_until_the_last_ones_end() {
    let h = start();
    let t0 = Instant::now();
    // Three NG parts 10 ms apart, judged at once: one continuous pulse, no chatter.
    for i in 0..3u64 {
        judged(&h, i + 1, t0 + Duration::from_millis(10 * i), true);
    }
    let first = ms_after(h.epoch, t0 + DELAY);
    let end = ms_after(h.epoch, t0 + Duration::from_millis(20) + DELAY + PULSE);
    let (records, changes) = finish(h);
    assert_eq!(records.len(), 3);
    assert!(records.values().all(|r| r.rejected && !r.late), "{records:?}");
    let reject: Vec<_> = changes.iter().filter(|c| c.line == "reject0").collect();
    assert_eq!(reject.len(), 2, "one rise and one fall: {reject:?}");
    assert_eq!((reject[0].value, reject[1].value), (1, 0));
    assert!(reject[0].t_ms >= first - 0.5 && reject[0].t_ms < first + 30.0, "rose at {}, due {first}", reject[0].t_ms);
    assert!(reject[1].t_ms >= end - 0.5 && reject[1].t_ms < end + 30.0, "fell at {}, due {end}", reject[1].t_ms);
}

#[test]
fn judged_ok_parts_are_recorded_soon_after_their_reject_point() {
    let h = start();
    let t0 = Instant::now();
    judged(&h, 1, t0, false);
    // The scheduler sleeps through the quiet reject point; the record still comes within the slack.
    let mut got = VecDeque::new();
    let deadline = t0 + DELAY + QUIET_SETTLE + RECORD_SLACK + Duration::from_millis(500);
    while got.is_empty() && Instant::now() < deadline {
        h.records.recv(Some(deadline), &mut got);
    }
    let waited = t0.elapsed();
    assert_eq!(got.len(), 1, "no record {waited:?} after the trigger");
    assert!(waited >= DELAY, "recorded {waited:?} after the trigger, before its reject point");
    assert!(!got[0].rejected);
    finish(h);
}

#[test]
fn parts_judged_ok_wake_the_scheduler_less_than_once_each() {
    // On two cores every wake-up of the scheduler takes a core from inference: parts that fire nothing
    // must not wake it each (neither their messages nor their reject points), and it never spins. (Quiet
    // parts settled every 100 ms here: their wake-ups are few and far from one per part.)
    let (h, metrics) = start_with(0, false, false, Duration::from_millis(100), timing());
    for id in 1..=30u64 {
        let t = Instant::now();
        h.tx.register(t, registered(id)).unwrap();
        std::thread::sleep(Duration::from_millis(2));
        h.tx.judged(id, t, scored(false)).unwrap();
        std::thread::sleep(Duration::from_millis(8));
    }
    wait_settled(&metrics, 30);
    let wakeups = metrics.snapshot().actuator_wakeups;
    let (records, changes) = finish(h);
    assert_eq!(records.len(), 30);
    assert!(records.values().all(|r| !r.rejected && !r.late), "{records:?}");
    assert!(changes.iter().all(|c| c.line != "reject0"), "{changes:?}");

    assert!(wakeups <= 10, "{wakeups} wake-ups for 30 parts judged OK");
}

#[test]
fn a_run_of_ng_parts_on_a_held_reject_line_wakes_the_scheduler_a_few_times_not_once_each() {
    // Parts 4 ms apart, all NG: the first starts the pulse, the others extend it as their reject points
    // pass. Only the output changes need a wake-up, not every reject point.
    let (h, metrics) = start_failing(0, false, false);
    let t0 = Instant::now();
    for i in 0..20u64 {
        judged(&h, i + 1, t0 + Duration::from_millis(4 * i), true);
    }
    wait_settled(&metrics, 20);
    let wakeups = metrics.snapshot().actuator_wakeups;
    let last = ms_after(h.epoch, t0 + Duration::from_millis(76) + DELAY);
    let (records, changes) = finish(h);
    assert!(records.values().all(|r| r.rejected && !r.late), "{records:?}");
    let reject: Vec<_> = changes.iter().filter(|c| c.line == "reject0").collect();
    assert_eq!(reject.len(), 2, "one pulse: {reject:?}");
    assert!(reject[1].t_ms >= last + PULSE.as_secs_f64() * 1e3 - 0.5, "the last part's pulse is whole: {reject:?}");

    assert!(wakeups <= 10, "{wakeups} wake-ups for one pulse held by 20 parts");
}

#[test]
fn an_ng_part_fires_at_its_reject_point_not_when_quiet_parts_are_settled() {
    // Quiet parts may be settled late; a part that fires an output may not. With the settling time
    // stretched to 400 ms, a part taken for quiet by mistake would pulse 400 ms late.
    let (h, metrics) = start_with(0, false, false, Duration::from_millis(400), timing());
    let t0 = Instant::now();
    judged(&h, 1, t0, false);
    judged(&h, 2, t0 + Duration::from_millis(5), true);
    let due = ms_after(h.epoch, t0 + Duration::from_millis(5) + DELAY);
    wait_settled(&metrics, 2);
    let (records, changes) = finish(h);
    assert!(records[&2].rejected && !records[&1].rejected, "{records:?}");
    let rise = changes.iter().find(|c| c.line == "reject0" && c.value == 1).map(|c| c.t_ms);
    assert!(rise.is_some_and(|t| t >= due - 0.5 && t < due + 200.0), "rose at {rise:?} ms, due at {due}");
    assert!(metrics.snapshot().reject_timing_error_us_max < 200_000);
}

#[test]
fn parts_due_at_one_wake_up_are_settled_and_recorded_in_the_order_of_their_reject_points() {
    // Part 1 (OK, quiet) is due 10 ms before part 2 (NG), whose reject point wakes the scheduler first.
    let (h, metrics) = start_with(0, false, false, Duration::from_millis(100), timing());
    let t0 = Instant::now();
    judged(&h, 1, t0, false);
    judged(&h, 2, t0 + Duration::from_millis(10), true);
    // A message due now makes the scheduler read both outcomes at once: part 1 is known quiet before
    // its reject point.
    h.tx.fault(FaultKind::Source, false).unwrap();
    wait_settled(&metrics, 2);
    drop(h.tx);
    h.scheduler.join().unwrap();
    let mut got = VecDeque::new();
    while h.records.recv(None, &mut got) {}
    let order: Vec<u64> = got.iter().map(|r| r.part).collect();
    assert_eq!(order, [1, 2], "the results log in time order");
}

#[test]
fn a_part_whose_reject_point_is_where_the_held_pulse_ends_extends_it_without_a_gap() {
    // Part 3's reject point is exactly where the pulse held for part 2 ends (its trigger one pulse after
    // part 2's): the line stays on, one pulse, no drop and rise at that instant.
    let h = start();
    let t0 = Instant::now();
    judged(&h, 1, t0, true);
    judged(&h, 2, t0 + Duration::from_millis(10), true);
    judged(&h, 3, t0 + Duration::from_millis(10) + PULSE, true);
    let (records, changes) = finish(h);
    assert!(records.values().all(|r| r.rejected), "{records:?}");
    let reject: Vec<u8> = changes.iter().filter(|c| c.line == "reject0").map(|c| c.value).collect();
    assert_eq!(reject, [1, 0], "one pulse: {changes:?}");
}

#[test]
fn a_reject_on_a_held_line_extends_the_pulse_from_its_own_reject_point_not_from_when_it_is_settled() {
    // A 200 ms pulse, quiet parts settled 100 ms after their reject points: part 2 (NG, 5 ms after part 1)
    // is settled while part 1's pulse holds the line, and its pulse ends 200 ms after its reject point.
    let pulse = Duration::from_millis(200);
    let (h, metrics) = start_with(0, false, false, Duration::from_millis(100), Timing { pulse, ..timing() });
    let t0 = Instant::now();
    judged(&h, 1, t0, true);
    judged(&h, 2, t0 + Duration::from_millis(5), true);
    let end = ms_after(h.epoch, t0 + Duration::from_millis(5) + DELAY + pulse);
    wait_settled(&metrics, 2);
    let (_, changes) = finish(h);
    let reject: Vec<_> = changes.iter().filter(|c| c.line == "reject0").collect();
    assert_eq!(reject.len(), 2, "one pulse: {reject:?}");
    assert!(reject[1].t_ms >= end - 0.5 && reject[1].t_ms < end + 50.0, "fell at {}, due {end}", reject[1].t_ms);
}

#[test]
fn records_go_to_the_recorder_in_batches_not_one_wake_up_each() {
    // Ten NG parts settled within 10 ms: the recorder, waiting, is woken once for all of them (each
    // record may wait 50 ms), not once per part.
    let h = start();
    let t0 = Instant::now();
    for i in 0..10u64 {
        judged(&h, i + 1, t0 + Duration::from_millis(i), true);
    }
    let mut got = VecDeque::new();
    h.records.recv(None, &mut got);
    let first = got.len();
    finish(h);
    assert_eq!(first, 10, "the first batch");
}
