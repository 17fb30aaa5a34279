//! The technician's station page on a real replay run: what a browser would fetch (the page, the live
//! stream, the status, the NG pictures, `/metrics` as Prometheus reads it), and what a careless or
//! hostile client sends (unknown routes, paths out of the archive, huge and half-sent requests, many
//! clients at once) without the station noticing.

mod common;

use std::io::{BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cellgate::config::StationConfig;
use cellgate::station::{Overrides, Station};
use serde_json::{json, Value};

struct Reply {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }
}

/// One request as written (`raw`), the whole answer read until the server closes.
fn send(addr: SocketAddr, raw: &[u8]) -> Reply {
    try_send(addr, raw).expect("an answer")
}

/// `send`, where the server may close the connection before the whole request is sent: `None` then.
fn try_send(addr: SocketAddr, raw: &[u8]) -> Option<Reply> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    s.write_all(raw).ok()?;
    let mut bytes = Vec::new();
    s.read_to_end(&mut bytes).ok()?;
    let at = bytes.windows(4).position(|w| w == b"\r\n\r\n").expect("a head") + 4;
    let head = String::from_utf8_lossy(&bytes[..at]).into_owned();
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).expect("status");
    Some(Reply { status, head, body: bytes[at..].to_vec() })
}

/// `n` connections that sent `raw` and then nothing, held open until dropped.
fn held(addr: SocketAddr, n: usize, raw: &[u8]) -> Vec<TcpStream> {
    (0..n)
        .map(|_| {
            let mut c = TcpStream::connect(addr).expect("connect");
            c.write_all(raw).expect("send");
            c
        })
        .collect()
}

fn get(addr: SocketAddr, path: &str) -> Reply {
    send(addr, format!("GET {path} HTTP/1.1\r\nHost: station\r\nConnection: close\r\n\r\n").as_bytes())
}

/// Reads the Live stream as a browser's EventSource would, until its `end` event (the station stopped);
/// the parts it carried.
fn live_parts(addr: SocketAddr) -> Vec<Value> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    s.write_all(b"GET /events HTTP/1.1\r\nHost: station\r\nAccept: text/event-stream\r\n\r\n").expect("send");
    let mut lines = std::io::BufReader::new(s).lines().map(|l| l.expect("the stream ends with an end event"));
    let head: Vec<String> = lines.by_ref().take_while(|l| !l.is_empty()).collect();
    assert!(
        head[0].starts_with("HTTP/1.1 200") && head.iter().any(|h| h == "Content-Type: text/event-stream"),
        "{head:?}"
    );
    let (mut parts, mut event) = (Vec::new(), String::new());
    for line in lines {
        if let Some(e) = line.strip_prefix("event: ") {
            event = e.to_string();
        } else if let Some(data) = line.strip_prefix("data: ") {
            if event == "end" {
                return parts;
            }
            parts.push(serde_json::from_str(data).expect("a part"));
        }
    }
    panic!("the stream closed without its end event")
}

fn promtool_check(text: &str) {
    let child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        // scripts/setup.sh installs it; only a machine set up by hand lacks it.
        Err(e) if std::env::var_os("CI").is_none() => return eprintln!("promtool not run: {e}"),
        Err(e) => panic!("promtool (Debian prometheus, scripts/setup.sh): {e}"),
    };
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("to promtool");
    let out = child.wait_with_output().expect("promtool");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.trim().is_empty(), "promtool check metrics: {said}\n{text}");
}

fn station(dir: &Path, parts: u64) -> Station {
    let cfg = common::write_config(dir, |v| {
        v["source"]["loop"] = json!(true);
        v["trigger"]["rate_hz"] = json!(25);
        v["http"] = json!({ "listen": "127.0.0.1:0" });
        // A recipe whose name a browser must escape in a URL.
        let first = v["inspection"]["recipe"].as_str().expect("recipe").to_string();
        let reference = v["inspection"]["recipes"][&first].clone();
        v["inspection"]["recipes"]["line A é"] = reference;
    });
    let ov = Overrides { max_triggers: Some(parts), ..Overrides::default() };
    Station::build(StationConfig::load(&cfg).expect("config"), &ov).expect("station")
}

#[test]
fn the_page_shows_every_part_live_and_metrics_that_prometheus_accepts() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let st = station(dir.path(), 60);
    let addr = st.http_addr().expect("the page listens");
    let report = std::thread::scope(|s| {
        let run = s.spawn(move || st.run(Arc::new(AtomicBool::new(false))).expect("run"));
        let stream = s.spawn(move || live_parts(addr));
        let page = get(addr, "/");
        assert_eq!(page.status, 200);
        assert!(page.head.contains("text/html") && page.text().contains("new EventSource(\"/events\")"));
        // Parts come in while the page watches: the status counts them, /metrics says the same.
        let t0 = Instant::now();
        let status = loop {
            let s = get(addr, "/api/status").json();
            if s["counters"]["parts_settled"].as_u64() >= Some(10) {
                break s;
            }
            assert!(t0.elapsed() < Duration::from_secs(60), "no parts on the page: {s}");
            std::thread::sleep(Duration::from_millis(100));
        };
        assert_eq!(status["station"], "test-station");
        assert_eq!(status["state"], "ready", "{status}");
        assert!(status["model"].as_str().is_some_and(|m| m.contains("on cpu")), "{status}");
        assert_eq!(status["model_status"]["active"]["provider"], "cpu", "{status}");
        let metrics = get(addr, "/metrics");
        assert!(metrics.head.contains("text/plain; version=0.0.4"), "{}", metrics.head);
        let text = metrics.text();
        assert!(text.contains("cellgate_parts_settled_total{station=\"test-station\"} "), "{text}");
        assert!(text.contains("cellgate_model_info{station=\"test-station\",name=\"seal"), "{text}");
        promtool_check(&text);
        // The chart's counts: every part settled so far, by minute, over the last hour.
        let hour = get(addr, "/api/rate").json();
        let after = get(addr, "/api/status").json()["counters"]["parts_settled"].as_u64().unwrap_or(0);
        let hour = hour.as_array().cloned().unwrap_or_default();
        let sum = |k: &str| hour.iter().map(|m| m[k].as_u64().unwrap_or(0)).sum::<u64>();
        assert_eq!(hour.len(), 60);
        let before = status["counters"]["parts_settled"].as_u64().unwrap_or(0);
        assert!((before..=after).contains(&sum("parts")), "{before} <= {} <= {after}", sum("parts"));
        assert!(sum("rejected") <= sum("parts"), "{hour:?}");
        let parts = get(addr, "/api/parts").json();
        assert!(parts.as_array().is_some_and(|p| !p.is_empty() && p.iter().all(|p| p["verdict"].is_string())));
        // The NG gallery: names from the archive, each picture a PNG.
        let pictures = get(addr, "/api/ng").json();
        let first = pictures.as_array().and_then(|n| n.first()).cloned();
        if let Some(p) = first {
            // Why it is there, as the archive wrote it into the picture.
            let caption = p["caption"].as_str().unwrap_or_default();
            assert!(caption.starts_with("part ") && caption.contains("NG, p_ng "), "{p}");
            let name = p["name"].as_str().expect("name");
            let img = get(addr, &format!("/ng/{name}"));
            assert_eq!((img.status, &img.body[..4]), (200, &b"\x89PNG"[..]), "{}", img.head);
        }
        let recipes = get(addr, "/api/recipes").json();
        let names = recipes["names"].as_array().cloned().unwrap_or_default();
        assert!(names.iter().any(|n| n == "line A é"), "{recipes}");
        assert_eq!(recipes["active"], status["recipe"], "{recipes}");
        let plain = names.iter().find_map(|n| n.as_str().filter(|n| n.starts_with("recipe")));
        for recipe in [plain.expect("a fixture recipe"), "line%20A%20%C3%A9"] {
            let reference = get(addr, &format!("/recipes/{recipe}/reference"));
            assert_eq!((reference.status, &reference.body[..4]), (200, &b"\x89PNG"[..]), "{recipe}");
        }
        let ran = run.join().expect("station thread");
        let streamed = stream.join().expect("stream thread");
        (ran, streamed)
    });
    let (ran, streamed) = report;
    // Every settled part reached the page, in the order the results log has them.
    let results = common::read_jsonl(&dir.path().join("results.jsonl"));
    assert_eq!(ran.summary.parts, 60);
    let ids = |v: &[Value]| v.iter().map(|p| p["part"].as_u64()).collect::<Vec<_>>();
    assert_eq!(ids(&streamed), ids(&results));
    assert_eq!(streamed.iter().filter(|p| p["verdict"] == "ng").count() as u64, ran.summary.ng);
}

#[test]
fn bad_requests_get_an_error_and_nothing_outside_the_archive_is_served() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("secret.txt"), "not for the page").expect("write");
    let st = station(dir.path(), 80);
    let addr = st.http_addr().expect("the page listens");
    let timeline = std::thread::scope(|s| {
        let run = s.spawn(move || st.run(Arc::new(AtomicBool::new(false))).expect("run"));
        // A client that opens a connection and never finishes its request holds nothing up.
        let mut slow = TcpStream::connect(addr).expect("connect");
        slow.write_all(b"GET /api/status HTTP/1.1\r\nHost: st").expect("half a request");
        for path in [
            "/nothing-here",
            "/ng/../secret.txt",
            "/ng/..%2fsecret.txt",
            "/ng/%2e%2e/secret.txt",
            "/ng/secret.txt",
            "/recipes/../secret.txt",
            "/recipes/..%2f..%2fsecret.txt/reference",
            "//etc/passwd",
            "/ng/../../../../etc/passwd",
        ] {
            let r = get(addr, path);
            assert_eq!(r.status, 404, "{path}: {}", r.text());
            assert!(!r.text().contains("not for the page") && !r.text().contains("root:"), "{path}");
        }
        let post =
            send(addr, b"POST /api/status HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
        assert_eq!(post.status, 405);
        // A request line of a megabyte is refused after 8 KiB of it; a malformed one is a 400.
        let long = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(1 << 20));
        // The client is still sending when the server closes: it reads the 431, or a reset.
        if let Some(r) = try_send(addr, long.as_bytes()) {
            assert_eq!(r.status, 431);
        }
        assert_eq!(send(addr, b"\x00\x01garbage\r\n\r\n").status, 400);
        // As many Live pages as allowed, none of them reading: one more is told so at once, and once
        // they close their slots are free again.
        let silent = held(addr, 8, b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
        std::thread::sleep(Duration::from_millis(300));
        let extra = send(addr, b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(extra.status, 503, "{}", extra.text());
        // With those Live pages open, twenty pages asking at the same moment, beside the slow client, are
        // all answered, none told "busy": a page told so shows "station not answering" to its technician.
        let together = Arc::new(std::sync::Barrier::new(20));
        let clients: Vec<_> = (0..20)
            .map(|_| {
                let together = together.clone();
                s.spawn(move || {
                    together.wait();
                    (0..10).map(|_| get(addr, "/api/status").status).collect::<Vec<_>>()
                })
            })
            .collect();
        for c in clients {
            assert_eq!(c.join().expect("client"), [200; 10]);
        }
        // A client holding every other slot with half-sent requests does not leave a page hanging: it is
        // told "busy" after the listen queue's wait (1 s), long before those requests time out (5 s).
        let hogs = held(addr, 16, b"GET /api/status HTTP/1.1\r\nHost: h");
        std::thread::sleep(Duration::from_millis(300));
        let t0 = Instant::now();
        let busy = get(addr, "/api/status");
        assert_eq!(busy.status, 503, "{}", busy.text());
        assert!(t0.elapsed() < Duration::from_secs(3), "told busy only after {:?}", t0.elapsed());
        drop(hogs);
        drop(silent);
        let t0 = Instant::now();
        loop {
            let mut c = TcpStream::connect(addr).expect("connect");
            c.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
            c.write_all(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n").expect("send");
            let mut first = String::new();
            std::io::BufReader::new(c).read_line(&mut first).expect("a status line");
            if first.starts_with("HTTP/1.1 200") {
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(20), "stream slots never freed: {first}");
            std::thread::sleep(Duration::from_millis(200));
        }
        assert_eq!(get(addr, "/api/status").status, 200, "the page still answers");
        drop(slow);
        run.join().expect("station thread")
    });
    assert_eq!(timeline.summary.parts, 80, "the line went on");
    assert_eq!(timeline.summary.late, 0, "no part was late while clients hammered the page");
}

#[test]
fn a_port_in_use_fails_the_start_naming_the_key() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let cfg = common::write_config(dir.path(), |v| v["http"] = json!({ "listen": format!("127.0.0.1:{port}") }));
    let e = Station::build(StationConfig::load(&cfg).expect("config"), &Overrides::default()).err().expect("refused");
    assert!(e.to_string().starts_with(&format!("http.listen: cannot listen on 127.0.0.1:{port}")), "{e}");
}

fn post(addr: SocketAddr, path: &str, token: Option<&str>) -> Reply {
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    send(addr, format!("POST {path} HTTP/1.1\r\nHost: station\r\n{auth}Content-Length: 0\r\n\r\n").as_bytes())
}

#[test]
fn the_recipe_is_switched_from_the_page_with_the_token_between_two_parts() {
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    // A camera's frames name no recipe: copies of recipe-a's reference, as a camera over a good part.
    let camera = dir.path().join("camera");
    std::fs::create_dir(&camera).expect("mkdir");
    let reference = common::fixtures().join("seal/references/recipe-a.png");
    for i in 0..3 {
        std::fs::copy(&reference, camera.join(format!("{i}.png"))).expect("copy");
    }
    const TOKEN: &str = "s3cret-token-of-line-1";
    std::fs::write(dir.path().join("http.token"), format!("{TOKEN}\n")).expect("token");
    let cfg = common::write_config(dir.path(), |v| {
        v["source"] = json!({ "kind": "replay", "path": camera, "loop": true });
        v["inspection"]["recipe"] = json!("recipe-a");
        v["trigger"]["rate_hz"] = json!(20);
        v["http"] = json!({ "listen": "127.0.0.1:0", "token_file": "http.token" });
    });
    let st = Station::build(StationConfig::load(&cfg).expect("config"), &Overrides::default()).expect("station");
    let addr = st.http_addr().expect("listening");
    let stop = Arc::new(AtomicBool::new(false));
    let results = dir.path().join("results.jsonl");
    let wait = |what: &str, pred: &dyn Fn(&[Value]) -> bool| {
        let t0 = Instant::now();
        while !pred(&common::read_jsonl(&results)) {
            assert!(t0.elapsed() < Duration::from_secs(60), "no {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    std::thread::scope(|s| {
        let st_stop = stop.clone();
        let run = s.spawn(move || st.run(st_stop).expect("run"));
        let _stop = common::StopOnDrop(stop.clone());
        wait("parts", &|r| r.len() >= 5);
        // Without the token, or with a wrong one: refused, nothing changes.
        assert_eq!(post(addr, "/api/recipe/recipe-b", None).status, 401);
        assert_eq!(post(addr, "/api/recipe/recipe-b", Some("s3cret-token-of-line-2")).status, 401);
        assert_eq!(get(addr, "/api/status").json()["recipe"], "recipe-a");
        assert_eq!(post(addr, "/api/recipe/no-such-recipe", Some(TOKEN)).status, 404);
        let switched = post(addr, "/api/recipe/recipe-b", Some(TOKEN));
        assert_eq!(switched.status, 200, "{}", switched.text());
        assert_eq!(switched.json()["active"], "recipe-b");
        assert_eq!(get(addr, "/api/status").json()["recipe"], "recipe-b");
        let before = common::read_jsonl(&results).len();
        wait("parts after the switch", &|r| r.len() >= before + 5);
        drop(_stop);
        run.join().expect("station thread");
    });
    // Every part names the recipe it was judged against: recipe-a until the switch, recipe-b from one
    // part on, never back and forth.
    common::assert_switched_once(&results, "recipe-a", "recipe-b", 5);
}
