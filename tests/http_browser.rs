//! The station page in a real browser (Debian's chromium, headless) while a replay runs: the page's own
//! JavaScript fills the Live table from the event stream, the NG gallery shows archived pictures, and a
//! model file broken mid-run shows on the Station page. Screenshots of each page are left in
//! `target/page-screenshots/` (README's pictures are taken from there).

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cellgate::config::StationConfig;
use cellgate::model::store::ModelStore;
use cellgate::station::{Overrides, Station};
use serde_json::json;

/// Chromium, or `None` on a machine set up by hand without it (scripts/setup.sh installs it; CI must
/// have it).
fn chromium() -> Option<&'static str> {
    let found = Command::new("chromium").arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(found || std::env::var_os("CI").is_none(), "chromium is missing (Debian chromium, scripts/setup.sh)");
    found.then_some("chromium")
}

/// The page at `url` as the browser has it once `ready` holds for its DOM (`--dump-dom` after its scripts
/// ran until their requests were answered; tried again until `ready`, as a person would reload), with a
/// screenshot of it when `shot` is given. Half a second of virtual time: the Live tab's event stream,
/// which would hold virtual time for good, opens 3 s after the tab shows its kept parts.
fn browse(browser: &str, url: &str, shot: Option<&Path>, ready: impl Fn(&str) -> bool) -> String {
    let common = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=500"];
    let t0 = Instant::now();
    let dom = loop {
        let mut cmd = Command::new(browser);
        cmd.args(common).args(["--enable-logging=stderr", "--v=0", "--dump-dom"]).arg(url);
        // A run whose virtual time stalls (an open request) is killed and tried again.
        let Some(out) = run_for(cmd, Duration::from_secs(20)) else { continue };
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{url}: {said}");
        // The page's own script must run clean: an error in it leaves every tab empty.
        assert!(!said.contains("Uncaught"), "{url}: a script error: {said}");
        let dom = String::from_utf8_lossy(&out.stdout).into_owned();
        if ready(&dom) {
            break dom;
        }
        assert!(t0.elapsed() < Duration::from_secs(120), "{url} never showed what it should: {dom}");
    };
    if let Some(png) = shot {
        // This run's picture, not an earlier run's.
        let _ = std::fs::remove_file(png);
        while !png.is_file() {
            let mut cmd = Command::new(browser);
            cmd.args(common).arg("--window-size=1280,860").arg(format!("--screenshot={}", png.display())).arg(url);
            run_for(cmd, Duration::from_secs(20));
            assert!(t0.elapsed() < Duration::from_secs(120), "no screenshot of {url}");
        }
    }
    dom
}

/// Runs `cmd` to its end, or kills it after `limit` (`None` then).
fn run_for(mut cmd: Command, limit: Duration) -> Option<std::process::Output> {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("chromium");
    let (out, err) = (child.stdout.take().expect("stdout"), child.stderr.take().expect("stderr"));
    let read = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let (out, err) = (read(Box::new(out)), read(Box::new(err)));
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("status") {
            break s;
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (stdout, stderr) = (out.join().unwrap_or_default(), err.join().unwrap_or_default());
    Some(std::process::Output { status, stdout, stderr })
}

/// The text inside the first element with this id.
fn inside<'a>(dom: &'a str, id: &str) -> &'a str {
    let start = dom.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id} in {dom}"));
    let body = &dom[start..];
    let open = body.find('>').expect("tag") + 1;
    let close = body.find("</tbody>").or_else(|| body.find("</div>")).or_else(|| body.find("</dl>")).expect("end");
    &body[open..close.max(open)]
}

#[test]
fn the_page_in_a_browser_shows_live_parts_ng_pictures_and_a_refused_model() {
    let Some(browser) = chromium() else { return };
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let model = dir.path().join("seal_classifier.onnx");
    std::fs::copy(common::model(), &model).expect("model copy");
    // The references copied: a taught candidate is written beside them.
    let refs = dir.path().join("refs");
    std::fs::create_dir(&refs).expect("mkdir");
    let cfg = common::write_config(dir.path(), |v| {
        if let Some(recipes) = v["inspection"]["recipes"].as_object_mut() {
            for (name, r) in recipes.iter_mut() {
                let copy = refs.join(format!("{name}.png"));
                std::fs::copy(r["reference"].as_str().expect("reference"), &copy).expect("copy");
                r["reference"] = json!(copy);
            }
        }
        v["inspection"]["model"] = json!(model);
        v["source"]["loop"] = json!(true);
        v["trigger"]["rate_hz"] = json!(10);
        v["http"] = json!({ "listen": "127.0.0.1:0" });
    });
    let station = Station::build(StationConfig::load(&cfg).expect("config"), &Overrides::default()).expect("station");
    let base = format!("http://{}", station.http_addr().expect("listening"));
    let shots: PathBuf = common::root().join("target/page-screenshots");
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    let stop = Arc::new(AtomicBool::new(false));
    let results = dir.path().join("results.jsonl");
    std::thread::scope(|s| {
        let st = stop.clone();
        let run = s.spawn(move || station.run(st).expect("run"));
        let _stop = common::StopOnDrop(stop.clone());
        let wait = |what: &str, pred: &dyn Fn() -> bool| {
            let t0 = Instant::now();
            while !pred() {
                assert!(t0.elapsed() < Duration::from_secs(60), "no {what}");
                std::thread::sleep(Duration::from_millis(100));
            }
        };
        wait("parts", &|| common::read_jsonl(&results).len() >= 8);

        let rows = |dom: &str| inside(dom, "parts").matches("<tr>").count();
        // Drawn bars (the script's template has the same tag, with `${` for its x).
        let bars = |dom: &str| {
            dom.match_indices("<rect class=\"bar\" x=\"")
                .filter(|(i, m)| dom[i + m.len()..].starts_with(|c: char| c.is_ascii_digit()))
                .count()
        };
        let live =
            browse(browser, &format!("{base}/#live"), Some(&shots.join("live.png")), |d| rows(d) >= 8 && bars(d) == 60);
        assert!(live.contains("last hour") && live.contains("parts, "), "the chart's caption: {live}");
        for card in ["parts", "OK", "NG", "error", "late", "rejects"] {
            assert!(inside(&live, "counters").contains(&format!("data-counter=\"{card}\"")), "{card}: {live}");
        }

        wait("an NG picture", &|| std::fs::read_dir(dir.path().join("ng")).is_ok_and(|mut d| d.next().is_some()));
        browse(browser, &format!("{base}/#ng"), Some(&shots.join("ng.png")), |d| {
            inside(d, "gallery").contains(" src=\"/ng/")
        });
        // A candidate taught for the active recipe: shown beside its reference, with Confirm and Discard.
        let active = common::read_jsonl(&results)[0]["recipe"].as_str().expect("recipe").to_string();
        std::fs::copy(refs.join(format!("{active}.png")), refs.join(format!("{active}.candidate.png")))
            .expect("candidate");
        let recipes = browse(browser, &format!("{base}/#recipes"), Some(&shots.join("recipes.png")), |d| {
            inside(d, "recipelist").contains("/candidate?t=")
        });
        let list = inside(&recipes, "recipelist");
        assert!(list.contains("/reference\""), "{list}");
        for button in [">Teach</button>", ">Confirm</button>", ">Discard</button>"] {
            assert!(list.contains(button), "{button}: {list}");
        }

        // A technician drops a broken model file: refused, and the Station page says so with the reason.
        let incoming = dir.path().join(".incoming");
        std::fs::write(&incoming, b"not an onnx file").expect("write");
        std::fs::rename(&incoming, &model).expect("rename");
        let state = dir.path().join("models");
        wait("the refusal", &|| ModelStore::read_status(&state).is_some_and(|s| s.refusals >= 1));
        let refused = |d: &str| inside(d, "events").contains("refused");
        let page = browse(browser, &format!("{base}/"), Some(&shots.join("station.png")), refused);
        assert!(inside(&page, "events").contains("seal_classifier.onnx"), "{page}");
        assert!(inside(&page, "facts").contains("on cpu"), "the model in use is named: {page}");
        drop(_stop);
        run.join().expect("station thread");
    });
}
