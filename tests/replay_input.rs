//! Replayed folders and references as a careless technician leaves them: a decompression bomb, a file
//! that is no image, a FIFO named `*.png`, and a reader of the echo that goes away early.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

/// A PNG that declares 20000x20000 grey pixels in about 20 KB (one row of data): unbounded, the decoder
/// allocates for the declared size.
fn bomb_png() -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in kind.iter().chain(data) {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = if crc & 1 != 0 { 0xEDB8_8320 ^ (crc >> 1) } else { crc >> 1 };
            }
        }
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&(!crc).to_be_bytes());
    }
    let side = 20_000u32;
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = side.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    let len = side as u16 + 1;
    let mut z = vec![0x78, 0x01, 0x01];
    z.extend_from_slice(&len.to_le_bytes());
    z.extend_from_slice(&(!len).to_le_bytes());
    z.extend(std::iter::repeat_n(0u8, len as usize));
    chunk(&mut png, b"IDAT", &z);
    chunk(&mut png, b"IEND", &[]);
    png
}

/// Waits for `child` at most `limit`; kills it past that (a hang is a failure, not a stuck test run).
fn wait_bounded(child: &mut Child, limit: Duration) -> ExitStatus {
    let t0 = Instant::now();
    loop {
        if let Some(s) = child.try_wait().expect("status") {
            return s;
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn unreadable_replay_images_are_rejected_parts_and_a_fifo_never_blocks_the_start() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let frames = dir.path().join("frames");
    std::fs::create_dir(&frames).expect("mkdir");
    for i in 0..3 {
        let name = format!("{i:06}.png");
        std::fs::copy(common::fixtures().join("seal/samples").join(&name), frames.join(&name)).expect("copy");
    }
    std::fs::write(frames.join("000001-bomb.png"), bomb_png()).expect("bomb");
    std::fs::write(frames.join("000002-text.png"), b"not a picture").expect("text");
    nix::unistd::mkfifo(&frames.join("000003-fifo.png"), nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
    let cfg = common::write_config(dir.path(), |v| v["model_updates"]["watch"] = json!(false));
    let mut child = Command::new(env!("CARGO_BIN_EXE_cellgate"))
        .args(["replay", "--quiet", "--rate", "50", "--config"])
        .arg(&cfg)
        .arg("--images")
        .arg(&frames)
        .stdout(std::fs::File::create(dir.path().join("stdout.txt")).expect("stdout"))
        .stderr(std::fs::File::create(dir.path().join("stderr.log")).expect("stderr"))
        .spawn()
        .expect("start");
    let status = wait_bounded(&mut child, Duration::from_secs(60));
    let log = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
    assert!(status.success(), "{status}: {log}");
    assert!(log.contains("not a regular file"), "the FIFO is skipped with a message: {log}");
    let results = common::read_jsonl(&dir.path().join("results.jsonl"));
    assert_eq!(results.len(), 5, "three images and two unreadable ones, the FIFO skipped");
    let errors: Vec<&str> =
        results.iter().filter(|r| r["verdict"] == "error").filter_map(|r| r["error"].as_str()).collect();
    assert_eq!(errors.len(), 2, "{results:?}");
    assert!(errors.iter().any(|e| e.contains("too large")), "{errors:?}");
    assert!(results.iter().filter(|r| r["verdict"] == "error").all(|r| r["rejected"] == true));
    let out = std::fs::read_to_string(dir.path().join("stdout.txt")).expect("stdout");
    let metrics: serde_json::Value = out
        .lines()
        .find_map(|l| l.strip_prefix("metrics "))
        .map(|j| serde_json::from_str(j).expect("metrics JSON"))
        .unwrap_or_else(|| panic!("no metrics line: {out}"));
    assert_eq!(metrics["bad_frames"], 2, "both counted as bad frames");
}

#[test]
fn a_bomb_as_a_recipe_reference_is_a_clear_start_error() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let bomb = dir.path().join("recipe-bomb.png");
    std::fs::write(&bomb, bomb_png()).expect("bomb");
    let cfg = common::write_config(dir.path(), |v| {
        let first = v["inspection"]["recipe"].as_str().expect("recipe").to_string();
        v["inspection"]["recipes"][first]["reference"] = json!(bomb);
    });
    let mut child = Command::new(env!("CARGO_BIN_EXE_cellgate"))
        .args(["run", "--config"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("stderr.log")).expect("stderr"))
        .spawn()
        .expect("start");
    let status = wait_bounded(&mut child, Duration::from_secs(60));
    let log = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
    assert!(!status.success() && status.code().is_some(), "{status}: {log}");
    assert!(log.contains("recipe-bomb.png") && log.contains("too large"), "{log}");
}

#[test]
fn a_reader_that_closes_the_echo_early_loses_no_result() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = common::write_config(dir.path(), |v| v["model_updates"]["watch"] = json!(false));
    let mut child = Command::new(env!("CARGO_BIN_EXE_cellgate"))
        .args(["replay", "--rate", "50", "--config"])
        .arg(&cfg)
        .arg("--images")
        .arg(common::fixtures().join("seal"))
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.path().join("stderr.log")).expect("stderr"))
        .spawn()
        .expect("start");
    // `| head -2`: two lines read, then the pipe is closed.
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    for _ in 0..2 {
        let mut line = String::new();
        out.read_line(&mut line).expect("a line");
        assert!(line.starts_with("part "), "{line}");
    }
    drop(out);
    let status = wait_bounded(&mut child, Duration::from_secs(60));
    let log = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
    assert!(status.success(), "{status}: {log}");
    assert!(!log.contains("panicked"), "{log}");
    let parts = std::fs::read_dir(common::fixtures().join("seal/samples")).expect("samples").count();
    assert_eq!(common::read_jsonl(&dir.path().join("results.jsonl")).len(), parts, "every part logged");
}
