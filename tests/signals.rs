//! Signals a station gets on a line (the SSH session that ran it closing, a stray `kill -USR1`): each one
//! stops it in order, as SIGTERM does.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::{json, Value};

/// Runs the station until a few parts are logged, sends `sig`, and checks the stop: exit 0, every output
/// safe at the end of the timeline, every triggered part in the results log.
fn stops_in_order(signo: i32) {
    let sig = Signal::try_from(signo).map(|s| s.to_string()).unwrap_or_else(|_| format!("signal {signo}"));
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = common::write_config(dir.path(), |v| {
        v["source"]["loop"] = json!(true);
        v["trigger"]["rate_hz"] = json!(50);
        // A long travel time: about 20 parts are in flight when the signal comes.
        v["actuation"]["delay_ms"] = json!(400);
        v["model_updates"]["watch"] = json!(false);
        v["gpio"]["ready"] = json!("ready");
    });
    let stdout = dir.path().join("stdout.txt");
    let stderr = dir.path().join("stderr.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_cellgate"))
        .args(["run", "--config"])
        .arg(&cfg)
        .stdout(std::fs::File::create(&stdout).expect("stdout file"))
        .stderr(std::fs::File::create(&stderr).expect("stderr file"))
        .stdin(Stdio::null())
        .spawn()
        .expect("start cellgate");
    let results = dir.path().join("results.jsonl");
    let t0 = Instant::now();
    while common::read_jsonl(&results).len() < 5 {
        assert!(child.try_wait().expect("status").is_none(), "exited early");
        assert!(t0.elapsed() < Duration::from_secs(60), "no parts logged");
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: kill(2) with a child's pid; any number is allowed (an unknown one fails with EINVAL).
    assert_eq!(unsafe { nix::libc::kill(child.id() as i32, signo) }, 0, "{sig} sent");
    let status = child.wait().expect("wait");
    let log = std::fs::read_to_string(&stderr).unwrap_or_default();
    assert!(status.success(), "{sig}: {status}: {log}");

    let timeline = common::read_jsonl(&dir.path().join("gpio.jsonl"));
    for line in ["reject0", "alarm", "ready"] {
        if let Some(last) = common::edges(&timeline, line).last() {
            assert_eq!(last.1, 0, "{sig}: {line} left active");
        }
    }
    assert!(!common::edges(&timeline, "ready").is_empty(), "{sig}: ready was set");
    let out = std::fs::read_to_string(&stdout).expect("stdout");
    let metrics: Value = out
        .lines()
        .find_map(|l| l.strip_prefix("metrics "))
        .map(|j| serde_json::from_str(j).expect("metrics JSON"))
        .unwrap_or_else(|| panic!("{sig}: no metrics line: {out}"));
    let triggered = metrics["triggers"].as_u64().expect("triggers");
    let logged = common::read_jsonl(&results);
    assert_eq!(logged.len() as u64, triggered, "{sig}: every triggered part is logged");
    let mut ids: Vec<u64> = logged.iter().map(|r| r["part"].as_u64().expect("part")).collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=triggered).collect::<Vec<_>>(), "{sig}: each part once");
}

#[test]
fn sighup_sigquit_sigusr1_sigusr2_stop_the_station_in_order() {
    let _serial = common::serial();
    for sig in [Signal::SIGHUP, Signal::SIGQUIT, Signal::SIGUSR1, Signal::SIGUSR2] {
        stops_in_order(sig as i32);
    }
}

#[test]
fn a_real_time_signal_stops_the_station_in_order() {
    let _serial = common::serial();
    stops_in_order(nix::libc::SIGRTMIN() + 1);
}
