//! Teaching a recipe's reference and switching the recipe at run time (issue 21 item 2), on the demo's
//! replay source, through the commands a technician types: `cellgate teach` and `cellgate recipe` over
//! the control socket, and the station page's writes.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};
use sha2::Digest;

const TOKEN: &str = "teach-token-of-line-1";

fn cellgate(args: &[&str], cfg: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cellgate")).args(args).arg("--config").arg(cfg).output().expect("run")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn sha256(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("read");
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A station replaying a camera folder (frames that name no recipe: copies of recipe-a's reference, a
/// good part of recipe-a) whose recipes' references are copies in `dir/refs`, recipe-a's being the
/// picture of another good cell of recipe-a (a demo sample): the frames are OK against it, with another
/// NG probability than against themselves.
struct Line {
    dir: tempfile::TempDir,
    cfg: PathBuf,
    refs: PathBuf,
    station: Child,
    port: u16,
}

impl Line {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (camera, refs) = (dir.path().join("camera"), dir.path().join("refs"));
        std::fs::create_dir(&camera).expect("mkdir");
        std::fs::create_dir(&refs).expect("mkdir");
        let fixtures = common::fixtures().join("seal/references");
        for i in 0..3 {
            std::fs::copy(fixtures.join("recipe-a.png"), camera.join(format!("{i}.png"))).expect("copy");
        }
        let another_cell = common::root().join("scripts/demo/seal/samples/000005.png");
        std::fs::copy(another_cell, refs.join("recipe-a.png")).expect("copy");
        for recipe in ["recipe-b", "recipe-c"] {
            std::fs::copy(fixtures.join(format!("{recipe}.png")), refs.join(format!("{recipe}.png"))).expect("copy");
        }
        std::fs::write(dir.path().join("http.token"), format!("{TOKEN}\n")).expect("token");
        // The model set copied, so a test may break it on disk (not watched: no swap reloads it).
        let model = dir.path().join("model");
        std::fs::create_dir(&model).expect("mkdir");
        for f in ["seal_classifier.onnx", "seal_classifier.encoder.onnx", "seal_classifier.head.onnx"] {
            std::fs::copy(common::root().join("onnx").join(f), model.join(f)).expect("copy");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
        let cfg = common::write_config(dir.path(), |v| {
            let recipes: BTreeMap<&str, Value> = ["recipe-a", "recipe-b", "recipe-c"]
                .into_iter()
                .map(|r| (r, json!({ "reference": refs.join(format!("{r}.png")) })))
                .collect();
            v["inspection"]["recipes"] = json!(recipes);
            v["inspection"]["recipe"] = json!("recipe-a");
            v["inspection"]["model"] = json!(model.join("seal_classifier.onnx"));
            v["model_updates"]["watch"] = json!(false);
            v["source"] = json!({ "kind": "replay", "path": camera, "loop": true });
            v["trigger"]["rate_hz"] = json!(10);
            // Two parts a trigger, judged as one batch: never against two references.
            v["inspection"]["cavities"] = json!(2);
            v["gpio"]["reject"] = json!(["reject0", "reject1"]);
            v["http"] = json!({ "listen": format!("127.0.0.1:{port}"), "token_file": "http.token" });
        });
        let log = std::fs::File::create(dir.path().join("station.log")).expect("log");
        let station = Command::new(env!("CARGO_BIN_EXE_cellgate"))
            .env("RUST_LOG", "info")
            .args(["run", "--config"])
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start the station");
        let line = Self { dir, cfg, refs, station, port };
        line.wait_parts(5);
        line
    }

    fn results(&self) -> Vec<Value> {
        common::read_jsonl(&self.dir.path().join("results.jsonl"))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("station.log")).unwrap_or_default()
    }

    /// Waits until `more` parts were logged after the ones logged now.
    fn wait_parts(&self, more: usize) {
        let want = self.results().len() + more;
        let t0 = Instant::now();
        while self.results().len() < want {
            assert!(t0.elapsed() < Duration::from_secs(120), "no parts; station log:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn post(&self, path: &str, token: Option<&str>) -> u16 {
        let mut c = std::net::TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
        write!(c, "POST {path} HTTP/1.1\r\nHost: station\r\n{auth}Content-Length: 0\r\n\r\n").expect("send");
        let mut answer = String::new();
        c.read_to_string(&mut answer).expect("answer");
        answer.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status")
    }

    fn stop(&mut self) -> (Vec<Value>, String) {
        kill(Pid::from_raw(self.station.id() as i32), Signal::SIGTERM).expect("SIGTERM");
        let status = self.station.wait().expect("wait");
        assert!(status.success(), "station: {status}; log:\n{}", self.log());
        (self.results(), self.log())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        let _ = self.station.kill();
        let _ = self.station.wait();
    }
}

/// The reference SHA-256 of every part, in order, with its recipe and NG probability; the parts of one
/// trigger (one batch) are checked to agree on both.
fn judged(results: &[Value]) -> Vec<(String, String, f64)> {
    let mut by_trigger: BTreeMap<String, Vec<(&Value, &Value)>> = BTreeMap::new();
    for r in results.iter().filter(|r| r["verdict"] != "error") {
        by_trigger.entry(r["trigger_ms"].to_string()).or_default().push((&r["recipe"], &r["reference"]));
    }
    for (t, parts) in &by_trigger {
        assert!(parts.windows(2).all(|w| w[0] == w[1]), "the parts of the trigger at {t} ms: {parts:?}");
    }
    assert!(by_trigger.values().any(|p| p.len() == 2), "two cavities a trigger");
    results
        .iter()
        .filter(|r| r["verdict"] != "error")
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_else(|| panic!("{k} in {r}")).to_string();
            (s("recipe"), s("reference"), r["p_ng"].as_f64().expect("p_ng"))
        })
        .collect()
}

#[test]
fn a_reference_is_taught_confirmed_and_rolled_back_and_each_part_names_the_one_it_was_judged_against() {
    let _serial = common::serial();
    let mut line = Line::start();
    let cfg = line.cfg.clone();
    let reference = line.refs.join("recipe-a.png");
    let (old_sha, old_bytes) = (sha256(&reference), std::fs::read(&reference).expect("reference"));

    // A recipe that is not on the line: no good part comes, a clear error within the bound.
    let o = cellgate(&["teach", "--recipe", "recipe-c", "--timeout", "1"], &cfg);
    assert!(!o.status.success());
    assert!(text(&o).contains("no good part of recipe 'recipe-c' came within 1 s"), "{}", text(&o));
    // Teach: the next part judged OK against the current reference is kept beside it.
    let o = cellgate(&["teach", "--recipe", "recipe-a", "--timeout", "60"], &cfg);
    assert!(o.status.success(), "{}", text(&o));
    let candidate = line.refs.join("recipe-a.candidate.png");
    assert!(text(&o).contains(&format!("candidate: {}", candidate.display())), "{}", text(&o));
    let pixels = |p: &Path| image::open(p).expect("decode").to_rgb8().into_raw();
    assert!(
        pixels(&candidate) == pixels(&common::fixtures().join("seal/references/recipe-a.png")),
        "the camera's frame"
    );
    // Not taken yet: the page shows it beside the reference.
    let parts_before_confirm = line.results().len();

    // A corrupt candidate is refused; the reference and the station go on as they were.
    let good_candidate = std::fs::read(&candidate).expect("candidate");
    std::fs::write(&candidate, &good_candidate[..good_candidate.len() / 2]).expect("truncate");
    let o = cellgate(&["teach", "--recipe", "recipe-a", "--confirm"], &cfg);
    assert!(!o.status.success());
    assert!(text(&o).contains("not a usable reference"), "{}", text(&o));
    assert_eq!(std::fs::read(&reference).expect("reference"), old_bytes);
    line.wait_parts(3);
    assert!(judged(&line.results()).last().is_some_and(|(_, sha, _)| *sha == old_sha));

    // Confirm: the old reference becomes previous, the candidate takes over between two parts.
    std::fs::write(&candidate, &good_candidate).expect("restore the candidate");
    let o = cellgate(&["teach", "--recipe", "recipe-a", "--confirm"], &cfg);
    assert!(o.status.success(), "{}", text(&o));
    let new_sha = sha256(&reference);
    assert_ne!(new_sha, old_sha);
    assert!(text(&o).contains(&new_sha), "{}", text(&o));
    assert_eq!(std::fs::read(line.refs.join("recipe-a.previous.png")).expect("previous"), old_bytes);
    assert!(!candidate.exists());
    line.wait_parts(5);

    // Rollback: the previous reference comes back.
    let o = cellgate(&["teach", "--recipe", "recipe-a", "--rollback"], &cfg);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read(&reference).expect("reference"), old_bytes);
    line.wait_parts(5);
    // --force takes the next plausible frame whatever the model says; --discard drops it.
    let o = cellgate(&["teach", "--recipe", "recipe-a", "--force", "--timeout", "60"], &cfg);
    assert!(o.status.success() && candidate.is_file(), "{}", text(&o));
    let o = cellgate(&["teach", "--recipe", "recipe-a", "--discard"], &cfg);
    assert!(o.status.success() && !candidate.exists(), "{}", text(&o));

    // A load that is refused (the model file broken on disk since the start): no file changes, the
    // running inspection goes on with the old reference.
    let o = cellgate(&["teach", "--recipe", "recipe-a", "--force", "--timeout", "60"], &cfg);
    assert!(o.status.success(), "{}", text(&o));
    std::fs::write(line.dir.path().join("model/seal_classifier.onnx"), b"not a model").expect("break the model");
    let o = cellgate(&["teach", "--recipe", "recipe-a", "--confirm"], &cfg);
    assert!(!o.status.success());
    assert!(text(&o).contains("refused, the current reference and model keep working"), "{}", text(&o));
    assert_eq!(std::fs::read(&reference).expect("reference"), old_bytes);
    assert!(candidate.is_file(), "the candidate stays for another try");
    line.wait_parts(3);
    let (results, log) = line.stop();
    // The model history (`models status`, the Station page) has each takeover and refusal.
    let history = cellgate::model::store::ModelStore::read_status(&line.dir.path().join("models")).expect("status");
    let events: Vec<(&str, &str)> = history
        .events
        .iter()
        .map(|e| (e.event.as_str(), e.detail.as_str()))
        .filter(|e| e.0.starts_with("reference"))
        .collect();
    assert_eq!(events.len(), 4, "{events:?}");
    assert!(events[0].0 == "reference refused" && events[0].1.contains("not a usable reference"), "{events:?}");
    assert!(
        events[1]
            == (
                "reference",
                &format!("recipe 'recipe-a': the taught candidate took over (sha256 {})", &new_sha[..12])[..]
            ),
        "{events:?}"
    );
    assert!(events[2].0 == "reference" && events[2].1.contains("the previous reference took over"), "{events:?}");
    assert!(events[3].0 == "reference refused" && events[3].1.contains("refused"), "{events:?}");
    let metrics: Value = serde_json::from_str(
        &std::fs::read_to_string(line.dir.path().join("models/metrics.json")).expect("metrics.json"),
    )
    .expect("metrics JSON");
    let count = |name: &str| metrics["counters"][name].as_u64().unwrap_or_else(|| panic!("{name}: {metrics}"));
    assert_eq!(
        (count("references_taught"), count("reference_takeovers"), count("reference_takeovers_refused")),
        (3, 2, 2),
        "taught: one good part, two forced; took over: confirm, rollback; refused: corrupt, load"
    );

    // Each part names the reference it was judged against: the old one, then (from one part on, never
    // back and forth) the taught one, then the old one again; the NG probability moves with it.
    let parts = judged(&results);
    assert!(parts.iter().all(|(recipe, _, _)| recipe == "recipe-a"));
    let runs: Vec<(&str, usize)> = parts.iter().fold(Vec::new(), |mut runs, (_, sha, _)| {
        match runs.last_mut() {
            Some((s, n)) if *s == sha.as_str() => *n += 1,
            _ => runs.push((sha.as_str(), 1)),
        }
        runs
    });
    let shas: Vec<&str> = runs.iter().map(|(s, _)| *s).collect();
    assert_eq!(shas, [old_sha.as_str(), new_sha.as_str(), old_sha.as_str()], "{runs:?}");
    assert!(runs[0].1 >= parts_before_confirm.min(5), "{runs:?}");
    let p_of = |sha: &str| parts.iter().find(|(_, s, _)| s == sha).map(|(_, _, p)| *p).expect("a part");
    let (p_old, p_new) = (p_of(&old_sha), p_of(&new_sha));
    // Measured (model 2.2.0): 0.0029 against the other cell's picture, 0.0003 against the part's own.
    assert!(p_new < p_old / 4.0, "p_ng {p_old} against the old reference, {p_new} against the taught one");
    assert!(log.contains("teach: recipe 'recipe-a': the candidate is the reference"), "{log}");
}

#[test]
fn the_recipe_is_switched_over_the_socket_and_page_writes_without_the_token_are_refused_and_logged() {
    let _serial = common::serial();
    let mut line = Line::start();
    let cfg = line.cfg.clone();
    let o = cellgate(&["recipe"], &cfg);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "active recipe: recipe-a (recipes: recipe-a, recipe-b, recipe-c)\n");
    let o = cellgate(&["recipe", "no-such-recipe"], &cfg);
    assert!(!o.status.success());
    assert!(text(&o).contains("unknown recipe \"no-such-recipe\""), "{}", text(&o));

    // The page's teach writes need the token like its switch.
    assert_eq!(line.post("/api/teach/recipe-a", None), 401);
    assert_eq!(line.post("/api/teach/recipe-a/confirm", Some("teach-token-of-line-2")), 401);
    assert_eq!(line.post("/api/teach/recipe-a/discard", Some(TOKEN)), 409, "no candidate to discard");

    let o = cellgate(&["recipe", "recipe-b"], &cfg);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "recipe recipe-a -> recipe-b: from the next part on\n");
    line.wait_parts(5);
    // A forced teach from the page: the next frame that shows a part becomes the candidate.
    let candidate = line.refs.join("recipe-b.candidate.png");
    assert_eq!(line.post("/api/teach/recipe-b/force", Some(TOKEN)), 202);
    let t0 = std::time::Instant::now();
    while !candidate.is_file() {
        assert!(t0.elapsed() < std::time::Duration::from_secs(30), "no candidate from the page's forced teach");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(line.post("/api/teach/recipe-b/discard", Some(TOKEN)), 200);
    let refs = line.refs.clone();
    let (results, log) = line.stop();

    // Every part names the recipe it was judged against and that recipe's reference: recipe-a until the
    // switch, recipe-b from one part on, never back and forth.
    let parts = judged(&results);
    let first_b = parts.iter().position(|(r, _, _)| r == "recipe-b").expect("parts of recipe-b");
    assert!(parts[..first_b].iter().all(|(r, _, _)| r == "recipe-a"), "{parts:?}");
    assert!(parts[first_b..].iter().all(|(r, _, _)| r == "recipe-b"), "{parts:?}");
    for (recipe, sha, _) in &parts {
        assert_eq!(*sha, sha256(&refs.join(format!("{recipe}.png"))), "{recipe}");
    }
    assert!(log.contains("station page: Teach { name: \"recipe-a\", force: false } from 127.0.0.1"), "{log}");
    assert!(log.contains("station page: Teach { name: \"recipe-b\", force: true } by 127.0.0.1"), "{log}");
    assert!(log.contains("refused: no or wrong token"), "{log}");
    assert!(log.contains("control: Recipe { name: Some(\"recipe-b\") } from uid"), "{log}");

    // With the station gone, the commands say it cannot be reached.
    let o = cellgate(&["recipe"], &cfg);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("cannot reach the station at"), "{}", text(&o));
}
