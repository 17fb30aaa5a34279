//! The station under a service manager: the systemd notify protocol spoken to a socket the test owns,
//! exactly as systemd would receive it (`Type=notify`, `WatchdogSec=`).

mod common;

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::json;

/// The notify socket systemd would own, and every message the station sent to it, with arrival times.
struct Manager {
    socket: UnixDatagram,
    messages: Vec<(Instant, String)>,
}

impl Manager {
    fn bind(path: &Path) -> Self {
        let socket = UnixDatagram::bind(path).expect("bind notify socket");
        socket.set_read_timeout(Some(Duration::from_millis(50))).expect("timeout");
        Self { socket, messages: Vec::new() }
    }

    /// Collects messages until `until` holds for the newest one or `limit` passes.
    fn wait_for(&mut self, limit: Duration, until: impl Fn(&str) -> bool) -> bool {
        let t0 = Instant::now();
        let mut buf = [0u8; 4096];
        while t0.elapsed() < limit {
            if let Ok(n) = self.socket.recv(&mut buf) {
                let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                let hit = until(&msg);
                self.messages.push((Instant::now(), msg));
                if hit {
                    return true;
                }
            }
        }
        false
    }

    fn pings_after(&self, t: Instant) -> usize {
        self.messages.iter().filter(|(at, m)| *at > t && m.lines().any(|l| l == "WATCHDOG=1")).count()
    }
}

fn start(cfg: &Path, socket: &Path, stderr: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_cellgate"))
        .args(["run", "--config"])
        .arg(cfg)
        .env("RUST_LOG", "info")
        .env("NOTIFY_SOCKET", socket)
        .env("WATCHDOG_USEC", "800000")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(stderr).expect("stderr file"))
        .spawn()
        .expect("start cellgate")
}

#[test]
fn a_hung_inference_stops_the_watchdog_pings_so_systemd_restarts_the_station() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    // Three real frames, then a uniform one: the model under test never returns for a uniform frame.
    let frames = dir.path().join("frames");
    std::fs::create_dir(&frames).expect("mkdir");
    for i in 0..3 {
        let name = format!("{i:06}.png");
        std::fs::copy(common::fixtures().join("seal/samples").join(&name), frames.join(&name)).expect("copy frame");
    }
    image::RgbImage::from_pixel(256, 64, image::Rgb([128, 128, 128])).save(frames.join("000009.png")).expect("png");
    let cfg = common::write_config(dir.path(), |v| {
        v["inspection"]["model"] = json!(common::fixtures().join("models/hang_on_uniform.onnx"));
        v["source"]["path"] = json!(frames);
        v["trigger"]["rate_hz"] = json!(5);
        v["model_updates"]["watch"] = json!(false);
        // The uniform frame must reach the model: the exposure check would reject it before.
        v["plausibility"] = json!({ "enabled": false });
    });
    let socket = dir.path().join("notify.sock");
    let stderr = dir.path().join("stderr.log");
    let mut manager = Manager::bind(&socket);
    let mut child = start(&cfg, &socket, &stderr);

    assert!(manager.wait_for(Duration::from_secs(30), |m| m.contains("READY=1")), "no READY=1");
    let ready = Instant::now();
    let stalled = manager.wait_for(Duration::from_secs(20), |m| m.contains("STATUS=STALLED"));
    let log = std::fs::read_to_string(&stderr).unwrap_or_default();
    assert!(stalled, "the stuck inference was not reported: {log}");
    let stall_seen = Instant::now();
    assert!(manager.pings_after(ready) >= 2, "pings while healthy: {:?}", manager.messages);
    // One more watchdog period and then some: no ping may come while the inference is stuck.
    manager.wait_for(Duration::from_millis(1500), |_| false);
    assert_eq!(manager.pings_after(stall_seen), 0, "pings while stuck: {:?}", manager.messages);
    assert!(child.try_wait().expect("status").is_none(), "the process is alive; systemd kills it now");
    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(&stderr).unwrap_or_default();
    assert!(log.contains("inference stuck"), "{log}");
    let results = common::read_jsonl(&dir.path().join("results.jsonl"));
    assert_eq!(results.len(), 3, "the three real frames were judged and logged before the hang");
}

#[test]
fn ready_status_and_stopping_are_sent_and_sigterm_exits_zero() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = common::write_config(dir.path(), |v| {
        v["source"]["loop"] = json!(true);
        v["trigger"]["rate_hz"] = json!(20);
    });
    let socket = dir.path().join("notify.sock");
    let stderr = dir.path().join("stderr.log");
    let mut manager = Manager::bind(&socket);
    let mut child = start(&cfg, &socket, &stderr);
    assert!(manager.wait_for(Duration::from_secs(30), |m| m.contains("READY=1")), "no READY=1");
    assert!(
        manager.wait_for(Duration::from_secs(10), |m| m.starts_with("STATUS=parts ") && !m.contains("parts 0 ")),
        "no status line with parts: {:?}",
        manager.messages
    );
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).expect("SIGTERM");
    assert!(manager.wait_for(Duration::from_secs(10), |m| m.contains("STOPPING=1")), "no STOPPING=1");
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("status") {
            break s;
        }
        assert!(t0.elapsed() < Duration::from_secs(15), "did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}: {}", std::fs::read_to_string(&stderr).unwrap_or_default());
    let ready = manager.messages.iter().position(|m| m.1.contains("READY=1"));
    let status_line = manager.messages.iter().find(|m| m.1.starts_with("STATUS=parts ")).map(|m| m.1.clone());
    assert!(ready.is_some());
    assert!(status_line.is_some_and(|s| s.contains("seal")), "the status names the model");
}

#[test]
fn the_status_line_names_the_model_in_use_after_a_swap() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    // The full graph alone in a folder of its own, so the test can replace it.
    let models = dir.path().join("onnx");
    std::fs::create_dir(&models).expect("mkdir");
    let model = models.join("seal_classifier.onnx");
    std::fs::copy(common::model(), &model).expect("copy");
    let cfg = common::write_config(dir.path(), |v| {
        v["inspection"]["model"] = json!(model);
        v["source"]["loop"] = json!(true);
    });
    let socket = dir.path().join("notify.sock");
    let stderr = dir.path().join("stderr.log");
    let mut manager = Manager::bind(&socket);
    let mut child = start(&cfg, &socket, &stderr);
    assert!(manager.wait_for(Duration::from_secs(30), |m| m.contains("READY=1")), "no READY=1");
    assert!(manager.wait_for(Duration::from_secs(10), |m| m.starts_with("STATUS=parts ") && m.contains(" 2.2.0 ")));
    // A new version, the same length in the manifest, dropped the safe way.
    let bytes = std::fs::read(common::model()).expect("model");
    let (from, to) = (br#""version": "2.2.0""#, br#""version": "2.2.7""#);
    let at = bytes.windows(from.len()).position(|w| w == from).expect("version in the manifest");
    let mut new = bytes.clone();
    new[at..at + from.len()].copy_from_slice(to);
    let tmp = models.join(".incoming");
    std::fs::write(&tmp, new).expect("write");
    std::fs::rename(&tmp, &model).expect("rename");
    let named = manager.wait_for(Duration::from_secs(20), |m| m.starts_with("STATUS=parts ") && m.contains(" 2.2.7 "));
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).expect("SIGTERM");
    let _ = child.wait();
    assert!(named, "STATUS never named the new model: {:?}", manager.messages.last());
}
