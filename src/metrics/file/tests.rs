use super::*;

fn writer(dir: &Path, period_ms: u64) -> (MetricsWriter, Arc<StationMetrics>) {
    let metrics: Arc<StationMetrics> = Arc::default();
    (MetricsWriter::new(dir, "line-1", Duration::from_millis(period_ms), metrics.clone()), metrics)
}

#[test]
fn each_write_replaces_the_file_whole_with_the_counters_of_that_moment() {
    let dir = tempfile::tempdir().expect("tmp");
    let (mut w, m) = writer(dir.path(), 5000);
    m.inc(&m.parts_settled);
    m.record_latency(2.0);
    m.outputs_written(Some(true), Some(false));
    w.write(RunState::Running, "seal 2.1.0 on cpu".into());
    let first = MetricsFile::read(dir.path()).expect("first write");
    assert_eq!((first.seq, first.state, first.station.as_str()), (1, RunState::Running, "line-1"));
    assert_eq!((first.live.counters.parts_settled, first.live.alarm, first.live.ready), (1, true, false));
    assert_eq!(first.live.latency.count, 1);
    assert_eq!(first.model, "seal 2.1.0 on cpu");

    m.add(&m.parts_settled, 4);
    w.write(RunState::Stopped, "seal 2.1.0 on cpu".into());
    let second = MetricsFile::read(dir.path()).expect("second write");
    assert_eq!((second.seq, second.state, second.live.counters.parts_settled), (2, RunState::Stopped, 5));
    let names: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").map(|e| e.expect("entry").file_name()).collect();
    assert_eq!(names, [FILE_NAME], "no temporary file left behind");
    assert_eq!(m.snapshot().metrics_write_errors, 0);
}

#[test]
fn a_write_that_fails_is_counted_and_leaves_the_last_whole_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let (mut w, m) = writer(dir.path(), 5000);
    w.write(RunState::Running, "m".into());
    let before = std::fs::read(dir.path().join(FILE_NAME)).expect("first file");
    // The temporary file's name taken by a folder: the new file cannot be written.
    let tmp = dir.path().join(format!(".{FILE_NAME}.{}.tmp", std::process::id()));
    std::fs::create_dir(&tmp).expect("block the temporary file");
    m.inc(&m.parts_settled);
    w.write(RunState::Running, "m".into());
    w.write(RunState::Running, "m".into());
    assert_eq!(m.snapshot().metrics_write_errors, 2);
    assert_eq!(std::fs::read(dir.path().join(FILE_NAME)).expect("file"), before, "the old file stays whole");

    // A state folder that cannot be made (a file in its place) is counted the same way.
    let blocked = dir.path().join("not-a-folder");
    std::fs::write(&blocked, b"x").expect("file");
    let (mut w, m) = writer(&blocked, 5000);
    w.write(RunState::Running, "m".into());
    assert_eq!(m.snapshot().metrics_write_errors, 1);
}

#[test]
fn a_file_older_than_three_periods_is_stale_and_one_written_at_exit_is_stopped() {
    let dir = tempfile::tempdir().expect("tmp");
    let (mut w, _) = writer(dir.path(), 1000);
    w.write(RunState::Running, "m".into());
    let f = MetricsFile::read(dir.path()).expect("file");
    let at = |ms: u64| UNIX_EPOCH + Duration::from_millis(f.written_unix_ms + ms);
    assert_eq!(f.freshness(at(0)), Freshness::Fresh { age: Duration::ZERO });
    assert_eq!(f.freshness(at(3000)), Freshness::Fresh { age: Duration::from_secs(3) });
    assert_eq!(f.freshness(at(3001)), Freshness::Stale { age: Duration::from_millis(3001) });
    // The clock set back under a running station: not stale.
    let before = UNIX_EPOCH + Duration::from_millis(f.written_unix_ms - 10_000);
    assert_eq!(f.freshness(before), Freshness::Fresh { age: Duration::ZERO });
    let stopped = MetricsFile { state: RunState::Stopped, ..f.clone() };
    assert_eq!(stopped.freshness(at(60_000)), Freshness::Stopped { age: Duration::from_secs(60) });
}

#[test]
fn a_missing_or_foreign_file_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tmp");
    let e = MetricsFile::read(dir.path()).expect_err("no file");
    assert!(matches!(e, MetricsFileError::Missing { .. }), "{e:?}");
    assert!(e.to_string().contains(&dir.path().join(FILE_NAME).display().to_string()), "{e}");
    std::fs::write(dir.path().join(FILE_NAME), b"{\"station\": 3}").expect("write");
    let e = MetricsFile::read(dir.path()).expect_err("not ours");
    assert!(matches!(e, MetricsFileError::Parse { .. }), "{e:?}");
}

#[test]
fn the_periodic_writer_writes_until_told_to_stop_and_hands_the_writer_back() {
    let dir = tempfile::tempdir().expect("tmp");
    let (w, _) = writer(dir.path(), 10);
    let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(0);
    let path = dir.path().to_path_buf();
    let t = std::thread::spawn(move || write_periodically(w, &done_rx, || "m".into()));
    // Polls for a later write, however loaded the machine: seq only grows while the thread writes.
    let t0 = std::time::Instant::now();
    while MetricsFile::read(&path).map(|f| f.seq).unwrap_or(0) < 3 {
        assert!(t0.elapsed() < Duration::from_secs(60), "the writer stopped writing");
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(done_tx);
    let mut w = t.join().expect("writer thread");
    let last = MetricsFile::read(&path).expect("file").seq;
    w.write(RunState::Stopped, "m".into());
    let f = MetricsFile::read(&path).expect("file");
    assert_eq!((f.seq, f.state), (last + 1, RunState::Stopped));
}
