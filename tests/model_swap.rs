//! Technicians swap models by replacing files while the line runs. Each test runs a real station on a
//! copy of the shipped model in a temp folder, drops files the safe way (write beside, rename over)
//! or the careless way, and checks what the line would see.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cellgate::config::StationConfig;
use cellgate::model::store::{ModelStatus, ModelStore};
use cellgate::station::{Overrides, RunReport, Station};
use serde_json::{json, Value};

const FILES: [&str; 3] = ["seal_classifier.onnx", "seal_classifier.encoder.onnx", "seal_classifier.head.onnx"];
const SECRET: &str = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";

struct Line {
    dir: tempfile::TempDir,
    models: PathBuf,
    cfg: PathBuf,
}

impl Line {
    fn new(edit: impl FnOnce(&mut Value, &Path)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let models = dir.path().join("onnx");
        std::fs::create_dir(&models).expect("mkdir");
        for f in FILES {
            std::fs::copy(common::root().join("onnx").join(f), models.join(f)).expect("copy model");
        }
        let models2 = models.clone();
        let cfg = common::write_config(dir.path(), move |v| {
            v["inspection"]["model"] = json!(models2.join(FILES[0]));
            v["source"]["loop"] = json!(true);
            v["trigger"]["rate_hz"] = json!(50);
            edit(v, &models2);
        });
        Self { dir, models, cfg }
    }

    fn status(&self) -> ModelStatus {
        ModelStore::read_status(&self.dir.path().join("models")).unwrap_or_default()
    }

    fn wait_for(&self, what: &str, pred: impl Fn(&ModelStatus) -> bool) -> ModelStatus {
        let t0 = Instant::now();
        loop {
            let s = self.status();
            if pred(&s) {
                return s;
            }
            assert!(t0.elapsed() < Duration::from_secs(20), "timed out waiting for {what}: {s:#?}");
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Drops a file the safe way: written beside under a temp name, renamed over the model.
    fn drop_safely(&self, name: &str, bytes: &[u8]) {
        let tmp = self.models.join(format!(".{name}.incoming"));
        std::fs::write(&tmp, bytes).expect("write");
        std::fs::rename(&tmp, self.models.join(name)).expect("rename");
    }

    fn run(&self, actions: impl FnOnce(&Line) + Send) -> (RunReport, Vec<Value>, Vec<Value>) {
        self.run_with(&Overrides::default(), actions)
    }

    fn run_with(&self, ov: &Overrides, actions: impl FnOnce(&Line) + Send) -> (RunReport, Vec<Value>, Vec<Value>) {
        let _serial = common::serial();
        let cfg = StationConfig::load(&self.cfg).expect("config");
        let station = Station::build(cfg, ov).expect("station");
        let stop = Arc::new(AtomicBool::new(false));
        let report = std::thread::scope(|s| {
            let st = stop.clone();
            let h = s.spawn(move || station.run(st));
            {
                let _stop = common::StopOnDrop(stop.clone());
                std::thread::sleep(Duration::from_millis(400));
                actions(self);
                std::thread::sleep(Duration::from_millis(400));
            }
            h.join().expect("station thread").expect("station run")
        });
        let results = common::read_jsonl(&self.dir.path().join("results.jsonl"));
        let timeline = common::read_jsonl(&self.dir.path().join("gpio.jsonl"));
        (report, results, timeline)
    }
}

/// The shipped model set with the manifest's version changed (same length, so the protobuf stays valid):
/// the same weights under a new version, as a retrained model would arrive.
fn version_bumped(file: &str, to: &str) -> Vec<u8> {
    let bytes = std::fs::read(common::root().join("onnx").join(file)).expect("model");
    let from = br#""version": "2.2.0""#;
    let to = format!(r#""version": "{to}""#);
    assert_eq!(from.len(), to.len());
    let at: Vec<usize> = bytes.windows(from.len()).enumerate().filter(|(_, w)| *w == from).map(|(i, _)| i).collect();
    assert_eq!(at.len(), 1, "{file}: manifest version found once");
    let mut out = bytes.clone();
    out[at[0]..at[0] + from.len()].copy_from_slice(to.as_bytes());
    out
}

/// A shipped file with same-length replacements in its manifest (each found exactly once).
fn patched(file: &str, edits: &[(&str, &str)]) -> Vec<u8> {
    let mut bytes = std::fs::read(common::root().join("onnx").join(file)).expect("model");
    for (from, to) in edits {
        assert_eq!(from.len(), to.len());
        let at: Vec<usize> =
            bytes.windows(from.len()).enumerate().filter(|(_, w)| *w == from.as_bytes()).map(|(i, _)| i).collect();
        assert_eq!(at.len(), 1, "{file}: {from} found once");
        bytes[at[0]..at[0] + from.len()].copy_from_slice(to.as_bytes());
    }
    bytes
}

fn versions(results: &[Value]) -> Vec<String> {
    results.iter().map(|r| r["model"]["version"].as_str().unwrap_or("none").to_string()).collect()
}

#[test]
fn drop_during_full_speed_replay_takes_over_at_one_part_boundary() {
    let line = Line::new(|_, _| {});
    let (report, results, timeline) = line.run(|l| {
        // Companions first, the full model last: the swap unit settles as one.
        for f in [FILES[1], FILES[2], FILES[0]] {
            l.drop_safely(f, &version_bumped(f, "2.2.1"));
        }
        l.wait_for("the swap", |s| s.swaps == 1);
    });
    let v = versions(&results);
    assert!(v.iter().all(|x| x == "2.2.0" || x == "2.2.1"), "every part judged by one complete model: {v:?}");
    let first_new = v.iter().position(|x| x == "2.2.1").expect("new model judged parts");
    assert!(first_new > 0, "old model judged the first parts");
    assert!(v[first_new..].iter().all(|x| x == "2.2.1"), "one boundary, no flip-flop: {v:?}");
    assert!(results.iter().all(|r| r["late"] == false), "no part late while the new model warmed");
    assert!(results.iter().all(|r| r["verdict"] != "error"), "no part failed");
    for r in &results[first_new..] {
        assert_eq!(r["model"]["graph"], "split", "companions swapped with it: {r}");
    }
    assert_ne!(results[0]["model"]["sha256"], results[first_new]["model"]["sha256"], "results name the file");
    assert_eq!(report.metrics.model_swaps, 1);
    assert!(common::edges(&timeline, "alarm").is_empty());
    let st = line.status();
    assert_eq!(st.active.expect("active").version, "2.2.1");
    assert!(line.dir.path().join("models/previous").join(FILES[0]).is_file(), "previous model kept");
}

#[test]
fn bad_files_are_refused_with_their_reason_while_inspection_goes_on() {
    let line = Line::new(|_, _| {});
    let shipped = std::fs::read(common::model()).expect("model");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("garbage", b"not a model at all".to_vec(), "ONNX Runtime refused it"),
        ("truncated", shipped[..shipped.len() / 3].to_vec(), "ONNX Runtime refused it"),
        (
            "wrong task",
            std::fs::read(common::fixtures().join("models/wrong_task.onnx")).expect("fixture"),
            "task 'electrode_detector'",
        ),
        (
            "wrong shape",
            std::fs::read(common::fixtures().join("models/seal_contract_broken.onnx")).expect("fixture"),
            "contract",
        ),
        (
            "graph mismatch",
            std::fs::read(common::fixtures().join("models/graph_mismatch.onnx")).expect("fixture"),
            "manifest and graph disagree",
        ),
        (
            "external data",
            std::fs::read(common::fixtures().join("models/external_data.onnx")).expect("fixture"),
            "a model must be one file",
        ),
        (
            "always OK",
            std::fs::read(common::fixtures().join("models/always_ok.onnx")).expect("fixture"),
            "crack drawn on the reference is judged OK",
        ),
        ("threshold 1.0", patched(FILES[0], &[(r#""ng": 0.34"#, r#""ng": 1.00"#)]), "thresholds.ng 1 is outside"),
    ];
    let n = cases.len() as u64;
    let (report, results, timeline) = line.run(|l| {
        for (i, (what, bytes, reason)) in cases.iter().enumerate() {
            l.drop_safely(FILES[0], bytes);
            let st = l.wait_for(what, |s| s.refusals == i as u64 + 1);
            let last = st.events.last().expect("event");
            assert_eq!(last.event, "refused");
            assert!(last.detail.contains(reason), "{what}: {}", last.detail);
        }
    });
    assert_eq!(report.metrics.model_loads_refused, n);
    assert_eq!(report.metrics.model_swaps, 0);
    assert!(common::edges(&timeline, "alarm").is_empty(), "a refused model never sets the alarm");
    assert!(versions(&results).iter().all(|v| v == "2.2.0"), "the old model judged every part");
    assert!(results.iter().all(|r| r["verdict"] != "error" && r["late"] == false));
    assert!(results.len() > 20, "the line kept running: {} parts", results.len());
}

#[test]
fn a_companion_file_replaced_alone_is_a_new_model_set_loaded_like_any_other() {
    // Only the split graph's head changes: the set is new, so it is loaded again, never taken for the set
    // already running. A broken head: the new set runs the full graph (the pair is refused); the good
    // head back: the pair runs again.
    let line = Line::new(|_, _| {});
    let head = std::fs::read(line.models.join(FILES[2])).expect("head");
    let (report, results, _) = line.run(|l| {
        l.drop_safely(FILES[2], b"not a model at all");
        l.wait_for("the set's reload", |s| s.swaps == 1);
        l.drop_safely(FILES[2], &head);
        l.wait_for("the set's second reload", |s| s.swaps == 2);
        std::thread::sleep(Duration::from_millis(400));
    });
    assert_eq!((report.metrics.model_swaps, report.metrics.model_loads_refused), (2, 0));
    let mut graphs: Vec<&str> = results.iter().filter_map(|r| r["model"]["graph"].as_str()).collect();
    graphs.dedup();
    assert_eq!(graphs, ["split", "full", "split"], "the broken head is not used, the good one is");
}

#[test]
fn a_station_with_the_full_graph_only_swaps_it_without_companions() {
    // No encoder and head beside the model (a station that runs the full graph): their absence is no
    // reason to refuse the new full model.
    let line = Line::new(|_, models| {
        for f in &FILES[1..] {
            std::fs::remove_file(models.join(f)).expect("remove companion");
        }
    });
    let (report, results, _) = line.run(|l| {
        l.drop_safely(FILES[0], &version_bumped(FILES[0], "2.2.1"));
        l.wait_for("the swap", |s| s.swaps == 1);
        // A few parts for the new model.
        std::thread::sleep(Duration::from_millis(400));
    });
    assert_eq!((report.metrics.model_swaps, report.metrics.model_loads_refused), (1, 0));
    let last = results.last().expect("parts");
    assert_eq!((last["model"]["version"].as_str(), last["model"]["graph"].as_str()), (Some("2.2.1"), Some("full")));
}

#[test]
fn deleted_model_file_keeps_the_loaded_model_running() {
    let line = Line::new(|_, _| {});
    let (report, results, _) = line.run(|l| {
        std::fs::remove_file(l.models.join(FILES[0])).expect("delete");
        l.wait_for("the deletion", |s| s.events.last().is_some_and(|e| e.event == "deleted"));
    });
    assert_eq!(report.metrics.model_loads_refused, 0);
    assert!(results.iter().all(|r| r["verdict"] != "error"), "parts still judged after the delete");
    assert!(results.len() > 20);
}

#[test]
fn station_requiring_signatures_refuses_unsigned_and_takes_signed() {
    let public = cellgate::model::integrity::public_of(SECRET).expect("key");
    let line = Line::new(|v, models| {
        let key = models.parent().expect("dir").join("station.pub");
        std::fs::write(&key, &public).expect("key");
        v["model_updates"]["require_signature"] = json!(true);
        v["model_updates"]["public_key"] = json!(key);
        // The station checks signatures at start too: the files it starts on are signed.
        for f in FILES {
            cellgate::model::integrity::sign_file(&models.join(f), SECRET).expect("sign");
        }
    });
    let (report, results, _) = line.run(|l| {
        let v2 = version_bumped(FILES[0], "2.2.2");
        // An unsigned file dropped where the signed one was (its signature taken away with it).
        std::fs::remove_file(l.models.join(format!("{}.sig", FILES[0]))).expect("remove the old signature");
        l.drop_safely(FILES[0], &v2);
        let st = l.wait_for("the refusal", |s| s.refusals == 1);
        assert!(st.events.last().expect("event").detail.contains("unsigned"), "{st:#?}");
        // A signed release signs every file of the set; the sidecars go first, then the model (the
        // companions are unchanged and already signed).
        let staged = l.models.join("staged.onnx");
        std::fs::write(&staged, &v2).expect("write");
        cellgate::model::integrity::sign_file(&staged, SECRET).expect("sign");
        std::fs::rename(l.models.join("staged.onnx.sig"), l.models.join(format!("{}.sig", FILES[0]))).expect("sig");
        std::fs::rename(&staged, l.models.join(FILES[0])).expect("model");
        l.wait_for("the signed swap", |s| s.swaps == 1);
    });
    assert_eq!(report.metrics.model_loads_refused, 1);
    assert_eq!(versions(&results).last().map(String::as_str), Some("2.2.2"));
}

#[test]
fn rollback_brings_the_previous_model_back() {
    let line = Line::new(|_, _| {});
    let cfg = line.cfg.clone();
    let (_, results, _) = line.run(|l| {
        for f in FILES {
            l.drop_safely(f, &version_bumped(f, "2.2.1"));
        }
        l.wait_for("the swap", |s| s.swaps == 1);
        std::thread::sleep(Duration::from_millis(300));
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_cellgate"))
            .args(["models", "rollback", "--config"])
            .arg(&cfg)
            .output()
            .expect("rollback");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        l.wait_for("the rollback swap", |s| s.swaps == 2);
    });
    let mut v = versions(&results);
    v.dedup();
    assert_eq!(v, ["2.2.0", "2.2.1", "2.2.0"], "old, new, old again");
}

/// Makes a file at the path it is given.
type MakeFile = Box<dyn FnOnce(&Path)>;

/// Renames `make`'s result over the model: the way a careless technician's FIFO or link would land.
fn rename_over(l: &Line, make: impl FnOnce(&Path)) {
    let tmp = l.models.join(".incoming");
    make(&tmp);
    std::fs::rename(&tmp, l.models.join(FILES[0])).expect("rename");
}

#[test]
fn a_fifo_dev_zero_a_huge_file_or_an_endless_loop_are_refused_and_later_swaps_still_work() {
    let line = Line::new(|v, _| {
        v["model_updates"]["load_timeout_ms"] = json!(1500);
        v["model_updates"]["max_model_bytes"] = json!(4 << 20);
    });
    let (report, results, timeline) = line.run(|l| {
        let cases: Vec<(&str, MakeFile, &str)> = vec![
            (
                "fifo",
                Box::new(|p: &Path| nix::unistd::mkfifo(p, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo")),
                "is a FIFO",
            ),
            (
                "/dev/zero",
                Box::new(|p: &Path| std::os::unix::fs::symlink("/dev/zero", p).expect("link")),
                "character device",
            ),
            (
                "huge",
                Box::new(|p: &Path| std::fs::File::create(p).and_then(|f| f.set_len(5 << 20)).expect("sparse file")),
                "over the 4194304-byte limit",
            ),
            (
                "endless loop",
                Box::new(|p: &Path| {
                    std::fs::copy(common::fixtures().join("models/loop_forever.onnx"), p).expect("copy");
                }),
                "within 1500 ms",
            ),
        ];
        for (i, (what, make, reason)) in cases.into_iter().enumerate() {
            rename_over(l, make);
            let st = l.wait_for(what, |s| s.refusals == i as u64 + 1);
            let last = st.events.last().expect("event");
            assert!(last.detail.contains(reason), "{what}: {}", last.detail);
        }
        // The swap thread is free: a good file still takes over.
        for f in [FILES[1], FILES[2], FILES[0]] {
            l.drop_safely(f, &version_bumped(f, "2.2.1"));
        }
        l.wait_for("the swap after the refusals", |s| s.swaps == 1);
    });
    // The good set lands file by file: a companion that settles before the full model is refused once
    // more beside the looping file.
    assert!(report.metrics.model_loads_refused >= 4, "{}", report.metrics.model_loads_refused);
    assert!(common::edges(&timeline, "alarm").is_empty(), "a refused model never sets the alarm");
    assert_eq!(versions(&results).last().map(String::as_str), Some("2.2.1"));
}

/// Threads of this process named `name` (the station runs in-process here).
fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("tasks")
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim() == name)
        .count()
}

/// Child processes of this process still running `models vet`.
fn vetting_children() -> usize {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .expect("proc")
        .filter_map(|p| {
            let p = p.ok()?.path();
            let stat = std::fs::read_to_string(p.join("stat")).ok()?;
            let ppid = stat.rsplit(')').next()?.split_whitespace().nth(1)?.to_string();
            let cmd = std::fs::read(p.join("cmdline")).ok()?;
            (ppid == me && String::from_utf8_lossy(&cmd).contains("vet")).then_some(())
        })
        .count()
}

#[test]
fn a_file_whose_session_takes_minutes_to_build_is_refused_and_leaves_nothing_running() {
    let line = Line::new(|v, _| v["model_updates"]["load_timeout_ms"] = json!(1500));
    let ov = Overrides { vet_with: Some(env!("CARGO_BIN_EXE_cellgate").into()), ..Overrides::default() };
    let (report, results, timeline) = line.run_with(&ov, |l| {
        assert_eq!(threads_named("model-load"), 0, "no load is running before the drop");
        rename_over(l, |p| {
            std::fs::copy(common::fixtures().join("models/slow_to_optimise.onnx"), p).expect("copy");
        });
        let st = l.wait_for("the refusal", |s| s.refusals == 1);
        let detail = &st.events.last().expect("event").detail;
        assert!(detail.contains("not built within 1500 ms"), "{detail}");
        // Refused, and nothing is left building its session: no load thread here, no vetting process.
        assert_eq!(threads_named("model-load"), 0, "a load thread is still busy with the refused file");
        assert_eq!(vetting_children(), 0, "a vetting process is still running");
        // The swap thread is free: a good file still takes over.
        for f in [FILES[1], FILES[2], FILES[0]] {
            l.drop_safely(f, &version_bumped(f, "2.2.1"));
        }
        l.wait_for("the swap after the refusal", |s| s.swaps == 1);
    });
    assert!(common::edges(&timeline, "alarm").is_empty(), "a refused model never sets the alarm");
    assert!(report.metrics.model_loads_refused >= 1);
    assert_eq!(versions(&results).last().map(String::as_str), Some("2.2.1"));
}

#[test]
fn a_new_threshold_is_logged_and_shown_in_the_status() {
    let line = Line::new(|_, _| {});
    let cfg = line.cfg.clone();
    let (_, results, _) = line.run(|l| {
        let v = patched(
            FILES[0],
            &[(r#""version": "2.2.0""#, r#""version": "2.2.4""#), (r#""ng": 0.34"#, r#""ng": 0.70"#)],
        );
        l.drop_safely(FILES[0], &v);
        let st = l.wait_for("the swap", |s| s.swaps == 1);
        assert_eq!(st.active.as_ref().and_then(|a| a.threshold), Some(0.7));
        assert!(st.events.iter().any(|e| e.event == "threshold" && e.detail == "0.34 -> 0.7"), "{st:#?}");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_cellgate"))
            .args(["models", "status", "--config"])
            .arg(&cfg)
            .output()
            .expect("status");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("threshold 0.7") && stdout.contains("0.34 -> 0.7"), "{stdout}");
    });
    let last = results.last().expect("results");
    assert_eq!(last["model"]["version"], "2.2.4");
    assert!((last["threshold"].as_f64().expect("threshold") - 0.7).abs() < 1e-6, "{last}");
}

#[test]
fn status_and_rollback_work_while_the_model_file_is_missing() {
    let line = Line::new(|_, _| {});
    let cfg = line.cfg.clone();
    line.run(|l| {
        for f in FILES {
            l.drop_safely(f, &version_bumped(f, "2.2.1"));
        }
        l.wait_for("the swap", |s| s.swaps == 1);
        std::fs::remove_file(l.models.join(FILES[0])).expect("delete");
        let tool = |cmd: &str| {
            std::process::Command::new(env!("CARGO_BIN_EXE_cellgate"))
                .args(["models", cmd, "--config"])
                .arg(&cfg)
                .output()
                .expect(cmd)
        };
        let out = tool("status");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("missing now"));
        let out = tool("rollback");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(l.models.join(FILES[0]).is_file(), "the previous model is back");
        l.wait_for("the rollback swap", |s| s.swaps == 2);
    });
}

#[test]
fn sigterm_during_an_endless_model_load_exits_promptly_with_outputs_safe() {
    let line = Line::new(|v, _| v["model_updates"]["load_timeout_ms"] = json!(600_000));
    let _serial = common::serial();
    let stderr = line.dir.path().join("stderr.log");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_cellgate"))
        .args(["run", "--config"])
        .arg(&line.cfg)
        .stderr(std::fs::File::create(&stderr).expect("log"))
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start");
    let log = || std::fs::read_to_string(&stderr).unwrap_or_default();
    let wait = |what: &str, pred: &dyn Fn() -> bool| {
        let t0 = Instant::now();
        while !pred() {
            assert!(t0.elapsed() < Duration::from_secs(30), "no {what}: {}", log());
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait("parts", &|| common::read_jsonl(&line.dir.path().join("results.jsonl")).len() > 5);
    rename_over(&line, |p| {
        std::fs::copy(common::fixtures().join("models/loop_forever.onnx"), p).expect("copy");
    });
    wait("load of the dropped model", &|| log().contains("loading, warming and self-testing"));
    std::thread::sleep(Duration::from_millis(300));
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    let mut child = child;
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("status") {
            break s;
        }
        if t0.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            panic!("still running 15 s after SIGTERM: {}", log());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}: {}", log());
    let mut last = std::collections::BTreeMap::new();
    for c in common::read_jsonl(&line.dir.path().join("gpio.jsonl")) {
        last.insert(c["line"].as_str().expect("line").to_string(), c["value"].as_u64().expect("value"));
    }
    assert!(!last.is_empty() && last.values().all(|&v| v == 0), "outputs safe at exit: {last:?}");
}
