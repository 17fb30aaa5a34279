//! What the station writes (results log, NG archive, the echo on stdout) when the disk, the folder or the
//! reader lets it down: every part still ends up in the results log as one whole line.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

/// Every line of the results log, each required to be one whole JSON record.
fn whole_lines(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).expect("results log");
    assert!(text.is_empty() || text.ends_with('\n'), "torn tail: {:?}", &text[text.len().saturating_sub(80)..]);
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not one record ({e}): {l}"))).collect()
}

#[test]
fn a_disk_that_fills_mid_record_leaves_only_whole_lines_in_the_results_log() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = common::write_config(dir.path(), |v| {
        v["trigger"]["rate_hz"] = json!(100);
        v["model_updates"]["watch"] = json!(false);
    });
    // No file of the process may grow past 6000 bytes: the results log runs out of room inside a record,
    // as on a full disk (a short write, then EFBIG). A later, shorter record may still fit in what is left.
    let out = Command::new("prlimit")
        .arg("--fsize=6000")
        .arg(env!("CARGO_BIN_EXE_cellgate"))
        .args(["run", "--config"])
        .arg(&cfg)
        .stdin(Stdio::null())
        .output()
        .expect("prlimit cellgate run");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}: {log}", out.status);
    assert!(log.contains("cannot write results"), "the log filled up: {log}");
    let results = whole_lines(&dir.path().join("results.jsonl"));
    assert!(!results.is_empty() && results.len() < 24, "{} records", results.len());
    // Whole lines (above), each part once and in order: a record that did not fit is left out, not torn or
    // joined to the next one.
    let parts: Vec<u64> = results.iter().map(|r| r["part"].as_u64().expect("part number")).collect();
    assert!(parts.windows(2).all(|w| w[0] < w[1]) && parts[0] == 1, "{parts:?}");
}
