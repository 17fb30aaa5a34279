use super::*;

#[test]
fn a_fault_rejects_the_parts_it_finds_at_their_reject_point_and_no_earlier_one() {
    let (h, metrics) = start_failing(0, false, false);
    let t0 = Instant::now();
    // Part 1's reject point passes quietly (judged OK, not yet settled: the fault comes within
    // QUIET_SETTLE of it); the fault comes before part 2's and parts 3 and 4's (NG, rejected anyway).
    judged(&h, 1, t0, false);
    judged(&h, 2, t0 + Duration::from_millis(100), false);
    judged(&h, 3, t0 + Duration::from_millis(110), true);
    judged(&h, 4, t0 + Duration::from_millis(115), true);
    // A message due now (clearing a fault that is not active) makes the scheduler read both outcomes
    // now, so it knows part 1 is quiet before its reject point.
    h.tx.fault(FaultKind::Source, false).unwrap();
    std::thread::sleep((t0 + DELAY + QUIET_SETTLE / 4).saturating_duration_since(Instant::now()));
    h.tx.fault(FaultKind::Model, true).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    h.tx.fault(FaultKind::Model, false).unwrap();
    let (records, changes) = finish(h);
    assert!(!records[&1].rejected && !records[&1].fault, "OK before the fault: {:?}", records[&1]);
    assert!(records[&2].rejected && records[&2].fault, "reject point during the fault: {:?}", records[&2]);
    let alarm: Vec<u8> = changes.iter().filter(|c| c.line == "alarm").map(|c| c.value).collect();
    assert_eq!(alarm, [1, 0]);
    let rises = changes.iter().filter(|c| c.line == "reject0" && c.value == 1).count();
    assert_eq!(rises, 1, "only parts 2 to 4 rejected, in one pulse: {changes:?}");
    assert!(records[&3].rejected && records[&3].fault && records[&4].rejected);
    let m = metrics.snapshot();
    assert_eq!((m.rejects_on_fault, m.parts_late), (1, 0), "part 2 alone was rejected only for the fault");
}

#[test]
fn a_reject_that_cannot_be_written_is_recorded_as_failed_with_the_alarm_on_until_a_write_works() {
    let (h, metrics) = start_failing(1, false, true);
    let t0 = Instant::now();
    judged(&h, 1, t0, true);
    // The second NG part comes after the first's pulse would have ended: its write is a new one.
    judged(&h, 2, t0 + PULSE * 3, true);
    let (records, changes) = finish(h);
    assert!(!records[&1].rejected && records[&1].reject_failed, "{:?}", records[&1]);
    assert!(records[&2].rejected && !records[&2].reject_failed, "the next edge writes again: {:?}", records[&2]);
    let alarm: Vec<u8> = changes.iter().filter(|c| c.line == "alarm").map(|c| c.value).collect();
    assert_eq!(alarm, [1, 0], "alarm on at the failed write, off when a write works: {changes:?}");
    let ready: Vec<u8> = changes.iter().filter(|c| c.line == "ready").map(|c| c.value).collect();
    assert_eq!(ready, [1, 0, 1, 0], "ready on, off during the fault, safe at the end: {changes:?}");
    let m = metrics.snapshot();
    assert_eq!((m.output_write_errors, m.rejects_fired), (1, 1), "{m:?}");
}

#[test]
fn parts_shed_for_want_of_capacity_set_the_overload_alarm_and_it_clears_when_they_stop() {
    let h = start();
    let t0 = Instant::now();
    let shed = || Judgement::shed("station overloaded: not inspected".into());
    // 20 judged parts, then 20 shed (50% of a full 40-part window > 5%): alarm; then 40 judged push the
    // shed ones out of the window (share under half the bound): alarm off.
    let mut id = 0;
    let mut next = |h: &Harness, judgement: Judgement| {
        id += 1;
        let t = t0 + Duration::from_micros(100 * id);
        h.tx.register(t, registered(id)).unwrap();
        h.tx.judged(id, t, judgement).unwrap();
    };
    for _ in 0..20 {
        next(&h, scored(false));
    }
    for _ in 0..20 {
        next(&h, shed());
    }
    for _ in 0..40 {
        next(&h, scored(false));
    }
    let (records, changes) = finish(h);
    assert_eq!(records.len(), 80);
    assert!(records.values().filter(|r| r.error.is_some()).all(|r| r.rejected));
    let alarm: Vec<u8> = changes.iter().filter(|c| c.line == "alarm").map(|c| c.value).collect();
    assert_eq!(alarm, [1, 0], "{changes:?}");
}

#[test]
fn a_late_part_whose_reject_cannot_be_written_is_not_recorded_as_rejected() {
    let (h, _) = start_failing(1, false, false);
    let t0 = Instant::now();
    h.tx.register(t0, registered(1)).unwrap();
    // No verdict by the reject point: rejected late, and that reject's write fails.
    std::thread::sleep((t0 + DELAY + PULSE).saturating_duration_since(Instant::now()));
    h.tx.judged(1, t0, scored(false)).unwrap();
    let (records, _) = finish(h);
    let r = &records[&1];
    assert!(r.late && r.reject_failed && !r.rejected, "{r:?}");
}

#[test]
fn an_alarm_that_cannot_be_written_is_written_again_until_it_takes() {
    crate::test_log::start();
    let (h, metrics) = start_failing(3, true, false);
    let thread = h.scheduler.thread().id();
    h.tx.fault(FaultKind::Source, true).unwrap();
    std::thread::sleep(STATUS_RETRY * 4 + Duration::from_millis(50));
    let on_at = {
        let changes = h.timeline.lock().unwrap();
        changes.iter().find(|c| c.line == "alarm" && c.value == 1).map(|c| c.t_ms)
    };
    let on_at = on_at.expect("the alarm came on after its failed writes");
    assert!(on_at >= 3.0 * STATUS_RETRY.as_millis() as f64 - 5.0, "on after three retries, at {on_at} ms");
    assert_eq!(metrics.snapshot().output_write_errors, 3);
    // The registry shows the alarm as last written once the write took (polled: the write is on the
    // scheduler's thread), and both outputs safe after the stop.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !metrics.live().alarm && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(metrics.live().alarm, "the alarm written on is shown on");
    finish(h);
    let live = metrics.live();
    assert!(!live.alarm && !live.ready, "safe at the end: {live:?}");
    // Logged once when it fails and once when it takes, not at every retry.
    let errors = crate::test_log::said(thread, log::Level::Error);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("alarm output cannot be written"), "{errors:?}");
    assert_eq!(crate::test_log::said(thread, log::Level::Info), ["alarm and ready outputs written again"]);
}

#[test]
fn offline_a_judged_part_is_settled_and_pulsed_when_judged_not_at_its_reject_point() {
    let names = OutputNames { reject: vec!["reject0".into()], alarm: "alarm".into(), ready: None, markers: vec![] };
    let epoch = Instant::now();
    let timeline = Timeline::new(epoch, None).unwrap();
    let shared = timeline.shared.clone();
    let (rec_tx, records) = record_channel();
    // A reject point a minute away, as `cellgate evaluate` sets it so that no part is late.
    let t = Timing { delay: Duration::from_secs(60), settle_when_judged: true, ..timing() };
    let s = RejectScheduler::new(SimGpio::new(names, timeline), t, "t".into(), Arc::default(), rec_tx);
    let (tx, rx) = actuator_channel(Duration::ZERO);
    let scheduler = std::thread::spawn(move || {
        s.run(rx);
    });
    tx.register(epoch, registered(1)).unwrap();
    tx.judged(1, epoch, scored(true)).unwrap();
    drop(tx);
    scheduler.join().unwrap();
    let mut got = VecDeque::new();
    while records.recv(None, &mut got) {}
    let r = got.pop_front().unwrap();
    assert_eq!((r.verdict, r.rejected, r.late, r.error.as_deref()), (Verdict::Ng, true, false, None), "{r:?}");
    let rise = shared.lock().unwrap().iter().find(|c| c.line == "reject0" && c.value == 1).map(|c| c.t_ms);
    assert!(rise.is_some_and(|t| t < 30_000.0), "pulsed at {rise:?} ms, not when judged");
}

#[test]
fn a_part_never_judged_by_the_stop_is_recorded_as_an_error_rejected_only_if_its_reject_fired() {
    // Live: its reject point passes before the stop, so it was rejected late.
    let (h, _) = start_failing(0, false, false);
    h.tx.register(Instant::now(), registered(1)).unwrap();
    let (records, changes) = finish(h);
    let r = &records[&1];
    assert!(r.late && r.rejected && r.error.as_deref() == Some("station stopped before a result"), "{r:?}");
    assert!(changes.iter().any(|c| c.line == "reject0" && c.value == 1), "{changes:?}");
    // Offline (`cellgate evaluate`): no reject point, nothing fired, so not rejected; still an error.
    let offline = Timing { settle_when_judged: true, ..timing() };
    let (h, _) = start_with(0, false, false, QUIET_SETTLE, offline);
    h.tx.register(Instant::now(), registered(1)).unwrap();
    let (records, changes) = finish(h);
    let r = &records[&1];
    assert!(!r.late && !r.rejected && r.error.is_some() && r.verdict == Verdict::Error, "{r:?}");
    assert!(changes.iter().all(|c| c.line != "reject0"), "{changes:?}");
}

#[test]
fn a_pulse_that_cannot_end_is_tried_again_every_10_ms_until_it_ends_not_in_a_spin() {
    let names = OutputNames { reject: vec!["reject0".into()], alarm: "alarm".into(), ready: None, markers: vec![] };
    // The end of the pulse (due 190 ms after the trigger) fails for 100 ms.
    let stuck = Duration::from_millis(100);
    let until = Instant::now() + DELAY + PULSE + stuck;
    let refuse = Box::new(move |line: OutputLine, active: bool| {
        matches!(line, OutputLine::Reject(_)) && !active && Instant::now() < until
    });
    let (h, _) = start_on(names, refuse, QUIET_SETTLE, timing());
    judged(&h, 1, h.epoch, true);
    std::thread::sleep(DELAY + PULSE + stuck + Duration::from_millis(100));
    let tries = h.writes.lock().unwrap().iter().filter(|w| **w == (OutputLine::Reject(0), false)).count();
    let free = ms_after(h.epoch, until);
    let (records, changes) = finish(h);
    assert!(records[&1].rejected);
    let fell = changes.iter().find(|c| c.line == "reject0" && c.value == 0).map(|c| c.t_ms);
    assert!(fell.is_some_and(|t| t >= free && t < free + 60.0), "fell at {fell:?} ms, writable from {free} ms");
    assert!((5..=30).contains(&tries), "{tries} attempts to end the pulse over 100 ms");
    let alarm: Vec<u8> = changes.iter().filter(|c| c.line == "alarm").map(|c| c.value).collect();
    assert_eq!(alarm, [1, 0], "an actuator fault while the line cannot be released: {changes:?}");
}

/// A run of `judged` parts judged OK, then `shed` parts shed, then `after` judged OK again (100 µs apart,
/// window 40, bound 5%): whether the overload alarm is on once all are settled, and the alarm's changes.
fn overload_run(judged: u64, shed: u64, after: u64) -> (bool, Vec<u8>) {
    let (h, metrics) = start_failing(0, false, false);
    let t0 = Instant::now();
    for id in 1..=judged + shed + after {
        let t = t0 + Duration::from_micros(100 * id);
        h.tx.register(t, registered(id)).unwrap();
        let shed_now = id > judged && id <= judged + shed;
        let j = if shed_now { Judgement::shed("station overloaded: not inspected".into()) } else { scored(false) };
        h.tx.judged(id, t, j).unwrap();
    }
    wait_settled(&metrics, judged + shed + after);
    // The alarm as last written, before the stop sets every output safe.
    let on = metrics.live().alarm;
    let (_, changes) = finish(h);
    (on, changes.iter().filter(|c| c.line == "alarm").map(|c| c.value).collect())
}

#[test]
fn the_overload_alarm_comes_on_above_its_bound_not_at_it_and_clears_at_half_of_it() {
    // 2 of the last 40 unjudged is exactly the 5% bound: no alarm. 2 of 39 is above it.
    assert_eq!(overload_run(38, 2, 0), (false, vec![]));
    assert!(overload_run(37, 3, 0).0);
    // On, it stays on at 2 of 40 (5%, above half the bound) and clears at 1 of 40 (2.5%).
    assert!(overload_run(37, 3, 38).0, "2 of the last 40 still unjudged");
    assert_eq!(overload_run(37, 3, 39), (false, vec![1, 0]), "1 of the last 40");
}

#[test]
fn alarm_and_ready_are_written_when_the_fault_state_changes_not_at_every_report() {
    let names = OutputNames {
        reject: vec!["reject0".into()],
        alarm: "alarm".into(),
        ready: Some("ready".into()),
        markers: vec![],
    };
    let (h, _) = start_on(names, Box::new(|_, _| false), QUIET_SETTLE, timing());
    // Steps that report their state again and again (a camera retrying), and two faults overlapping.
    for _ in 0..5 {
        h.tx.fault(FaultKind::Source, false).unwrap();
    }
    h.tx.fault(FaultKind::Source, true).unwrap();
    h.tx.fault(FaultKind::Source, true).unwrap();
    h.tx.fault(FaultKind::Model, true).unwrap();
    h.tx.fault(FaultKind::Source, false).unwrap();
    h.tx.fault(FaultKind::Model, false).unwrap();
    h.tx.fault(FaultKind::Model, false).unwrap();
    let writes = h.writes.clone();
    finish(h);
    let got = writes.lock().unwrap().clone();
    let on = [(OutputLine::Alarm, true), (OutputLine::Ready, false)];
    let off = [(OutputLine::Alarm, false), (OutputLine::Ready, true)];
    assert_eq!(got, [on, off].concat(), "one write of each at the fault's start and at its end");
}

#[test]
fn the_actuator_alarm_stays_on_until_every_failed_output_is_written_again() {
    // Two cavities' reject lines fail once each; cavity 0's works again first, cavity 1's 60 ms later.
    let names = OutputNames {
        reject: vec!["reject0".into(), "reject1".into()],
        alarm: "alarm".into(),
        ready: None,
        markers: vec![],
    };
    let (h, _) = start_on(names, first_writes(2, false), QUIET_SETTLE, timing());
    let t0 = Instant::now();
    judged_in(&h, 1, 0, t0, true);
    judged_in(&h, 2, 1, t0 + Duration::from_millis(5), true);
    judged_in(&h, 3, 0, t0 + PULSE * 2, true);
    judged_in(&h, 4, 1, t0 + PULSE * 2 + Duration::from_millis(60), true);
    let (records, changes) = finish(h);
    assert!(records[&1].reject_failed && records[&2].reject_failed && records[&4].rejected, "{records:?}");
    let alarm: Vec<_> = changes.iter().filter(|c| c.line == "alarm").collect();
    assert_eq!(alarm.iter().map(|c| c.value).collect::<Vec<_>>(), [1, 0], "{changes:?}");
    let back = changes.iter().find(|c| c.line == "reject1" && c.value == 1).map(|c| c.t_ms);
    assert!(back.is_some_and(|t| alarm[1].t_ms >= t), "alarm off at {} ms, reject1 written at {back:?}", alarm[1].t_ms);
}
