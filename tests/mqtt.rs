//! The fleet connection against a real broker (Debian's mosquitto, started by each test on a loopback
//! port): one `part` message per results-log line, in order and equal; availability `online` retained
//! and `offline` by the Last Will after `kill -9`; every part once after the broker was stopped for 5 s,
//! and the drop counter equal to the missing parts when the spool is smaller than the outage; recipe
//! commands; TLS with the test CA, and a wrong CA refused at start.

mod common;
#[path = "common/mosquitto.rs"]
mod mosquitto;

use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cellgate::config::StationConfig;
use cellgate::station::{Overrides, Station, StationError};
use mosquitto::{Broker, Msg, Subscriber};
use serde_json::{json, Value};

const PREFIX: &str = "plant";
const STATION: &str = "test-station";

fn topic(leaf: &str) -> String {
    format!("{PREFIX}/{STATION}/{leaf}")
}

/// A config replaying the fixture parts (`parts_loop`: in a loop) with an `mqtt` section to `port`.
fn config(dir: &Path, port: u16, looped: bool, edit: impl FnOnce(&mut Value)) -> std::path::PathBuf {
    common::write_config(dir, |v| {
        v["source"]["loop"] = json!(looped);
        v["trigger"]["rate_hz"] = json!(25);
        v["mqtt"] = json!({ "host": "127.0.0.1", "port": port, "topic_prefix": PREFIX, "keep_alive_s": 5 });
        edit(v);
    })
}

fn ids(parts: &[Value]) -> Vec<u64> {
    parts.iter().map(|p| p["part"].as_u64().expect("part id")).collect()
}

/// Part messages as the subscriber got them, broker redeliveries (DUP set, the subscriber's ack lost in
/// the broker's stop) left out; any other repeat is the station's and stays in.
fn parts_received(msgs: &[Msg]) -> Vec<Value> {
    let mut seen = HashSet::new();
    msgs.iter()
        .filter(|m| m.topic == topic("part"))
        .filter_map(|m| {
            let p = m.json();
            (seen.insert(p["part"].as_u64()) || !m.dup).then_some(p)
        })
        .collect()
}

#[test]
fn a_replay_publishes_each_result_line_once_in_order_and_the_last_will_says_offline_after_kill_9() {
    let Some(exe) = mosquitto::binary() else { return };
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Broker::start(&exe, dir.path(), None);
    let sub = Subscriber::new(broker.port, "fleet", &format!("{PREFIX}/#"), false);
    let cfg = config(dir.path(), broker.port, false, |_| {});
    let run = |cfg: &Path| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cellgate"));
        c.args(["run", "--config"]).arg(cfg).stdout(Stdio::null()).stderr(Stdio::null());
        c
    };
    let status = run(&cfg).status().expect("cellgate run");
    assert!(status.success(), "{status}");
    let results = common::read_jsonl(&dir.path().join("results.jsonl"));
    assert_eq!(results.len(), 12, "the fixture folder once");
    let msgs = sub.wait_for("every part", |m| parts_received(m).len() >= results.len());
    // Exactly one message per line, in the log's order, with the same content.
    assert_eq!(parts_received(&msgs), results);
    assert!(msgs.iter().filter(|m| m.topic == topic("part")).all(|m| !m.retain));
    let availability: Vec<String> = sub.on(&topic("availability")).iter().map(Msg::text).collect();
    assert_eq!(availability, ["online", "offline"], "online at connect, offline at a clean end");
    let status = sub.wait_for("a status", |m| m.iter().any(|m| m.topic == topic("status")));
    let status = status.iter().find(|m| m.topic == topic("status")).map(Msg::json).expect("status");
    // The first status, sent at connect, already names the model.
    assert_eq!(
        (status["station"].as_str(), status["model_status"]["active"]["provider"].as_str()),
        (Some(STATION), Some("cpu"))
    );
    assert!(status["model_status"]["active"]["sha256"].as_str().is_some_and(|s| s.len() == 64), "{status}");
    let model = sub.on(&topic("model"));
    assert_eq!(model.first().map(|m| m.json()["event"].clone()), Some(json!("loaded")), "{model:?}");

    // A station killed outright: the broker says `offline` for it (retained), from its Last Will.
    let looped = config(dir.path(), broker.port, true, |_| {});
    let mut child = run(&looped).spawn().expect("cellgate run");
    let readers = std::sync::atomic::AtomicU32::new(0);
    let online = || {
        // Each its own client id: a reused one would take over the last one's session.
        let n = readers.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Subscriber::new(broker.port, &format!("late-reader-{n}"), &topic("availability"), false)
    };
    let t0 = Instant::now();
    loop {
        let retained = online().wait_for("the retained availability", |m| !m.is_empty());
        if retained[0].text() == "online" {
            assert!(retained[0].retain);
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "the station never said online");
        std::thread::sleep(Duration::from_millis(200));
    }
    child.kill().expect("kill -9");
    child.wait().expect("reaped");
    let t0 = Instant::now();
    loop {
        let retained = online().wait_for("the retained availability", |m| !m.is_empty());
        if retained[0].text() == "offline" {
            assert!(retained[0].retain);
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "no Last Will after kill -9");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs `parts` parts at 25/s, stopping the broker for 5 s after the first second; returns the results
/// log, the parts the fleet got and the station's counters.
fn run_through_an_outage(spool_bytes: u64, parts: u64) -> Option<(Vec<Value>, Vec<Value>, Value)> {
    let exe = mosquitto::binary()?;
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut broker = Broker::start(&exe, dir.path(), None);
    let sub = Subscriber::new(broker.port, "fleet-persistent", &topic("part"), true);
    let cfg = config(dir.path(), broker.port, true, |v| v["mqtt"]["spool_bytes"] = json!(spool_bytes));
    let ov = Overrides { max_triggers: Some(parts), ..Overrides::default() };
    let st = Station::build(StationConfig::load(&cfg).expect("config"), &ov).expect("station");
    let results_path = dir.path().join("results.jsonl");
    let report = std::thread::scope(|s| {
        let run = s.spawn(move || st.run(Arc::new(AtomicBool::new(false))).expect("run"));
        sub.wait_for("the first parts", |m| m.len() >= 10);
        broker.stop();
        std::thread::sleep(Duration::from_secs(5));
        broker.resume();
        run.join().expect("station thread")
    });
    let results = common::read_jsonl(&results_path);
    assert_eq!(results.len() as u64, parts);
    let counters = serde_json::to_value(&report.metrics).expect("counters");
    let dropped = counters["mqtt_dropped"].as_u64().expect("mqtt_dropped");
    let expected = results.len() - dropped as usize;
    let msgs = sub.wait_for("every part not dropped", |m| parts_received(m).len() >= expected);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(parts_received(&sub.messages()).len(), parts_received(&msgs).len(), "more than expected came");
    Some((results, parts_received(&msgs), counters))
}

#[test]
fn every_part_arrives_once_after_the_broker_was_stopped_for_5_s() {
    let Some((results, received, counters)) = run_through_an_outage(64 << 20, 200) else { return };
    assert_eq!(ids(&received), ids(&results), "each part once, in order; counters: {counters}");
    assert_eq!(received, results);
    assert_eq!(counters["mqtt_dropped"], 0, "{counters}");
    assert!(counters["mqtt_spooled"].as_u64() > Some(50), "5 s at 25 parts/s waited in the spool: {counters}");
    assert!(counters["mqtt_reconnects"].as_u64() >= Some(1), "{counters}");
    assert_eq!(counters["mqtt_published"].as_u64(), Some(results.len() as u64), "{counters}");
}

#[test]
fn with_a_spool_smaller_than_the_outage_the_drop_counter_equals_the_missing_parts() {
    // About 10 part records: far less than the 125 parts of the outage.
    let Some((results, received, counters)) = run_through_an_outage(8192, 200) else { return };
    let dropped = counters["mqtt_dropped"].as_u64().expect("mqtt_dropped");
    assert!(dropped > 50, "{counters}");
    let got: HashSet<u64> = ids(&received).into_iter().collect();
    assert_eq!(got.len(), received.len(), "no part twice");
    let missing = ids(&results).into_iter().filter(|id| !got.contains(id)).count() as u64;
    assert_eq!(missing, dropped, "{counters}");
    // What arrived came in the log's order, the oldest of the outage dropped first: the missing parts
    // are one run.
    let order: Vec<u64> = ids(&results).into_iter().filter(|id| got.contains(id)).collect();
    assert_eq!(ids(&received), order);
    let first_missing = ids(&results).iter().position(|id| !got.contains(id)).expect("a missing part");
    assert!(ids(&results)[first_missing..first_missing + missing as usize].iter().all(|id| !got.contains(id)));
}

#[test]
fn recipe_set_switches_later_parts_and_unknown_or_malformed_commands_change_nothing() {
    let Some(exe) = mosquitto::binary() else { return };
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Broker::start(&exe, dir.path(), None);
    // A camera's frames name no recipe: copies of recipe-a's reference, as a camera over a good part.
    let camera = dir.path().join("camera");
    std::fs::create_dir(&camera).expect("mkdir");
    for i in 0..3 {
        std::fs::copy(common::fixtures().join("seal/references/recipe-a.png"), camera.join(format!("{i}.png")))
            .expect("copy");
    }
    let cfg = config(dir.path(), broker.port, true, |v| {
        v["source"] = json!({ "kind": "replay", "path": camera, "loop": true });
        v["inspection"]["recipe"] = json!("recipe-a");
    });
    let st = Station::build(StationConfig::load(&cfg).expect("config"), &Overrides::default()).expect("station");
    let sub = Subscriber::new(broker.port, "mes", &topic("recipe/state"), false);
    let results = dir.path().join("results.jsonl");
    let stop = Arc::new(AtomicBool::new(false));
    let set = |payload: &[u8]| {
        let n = sub.on(&topic("recipe/state")).len();
        sub.client.publish(topic("recipe/set"), rumqttc::QoS::AtLeastOnce, false, payload.to_vec()).expect("publish");
        let replies = sub.wait_for("a reply on recipe/state", |m| m.len() > n);
        replies[n].json()
    };
    let wait_parts = |n: usize| {
        let t0 = Instant::now();
        while common::read_jsonl(&results).len() < n {
            assert!(t0.elapsed() < Duration::from_secs(60), "no parts");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    std::thread::scope(|s| {
        let st_stop = stop.clone();
        let run = s.spawn(move || st.run(st_stop).expect("run"));
        let _stop = common::StopOnDrop(stop.clone());
        sub.wait_for("the recipe state at connect", |m| m.iter().any(|m| m.json()["active"] == "recipe-a"));
        wait_parts(5);
        for bad in [&b"no-such-recipe"[..], b"", b"\xff\xfe\xfd", b"recipe-b\x00"] {
            let reply = set(bad);
            assert_eq!(
                (reply["result"].as_str(), reply["active"].as_str()),
                (Some("refused"), Some("recipe-a")),
                "{reply}"
            );
        }
        let reply = set(b"recipe-b");
        assert_eq!(
            (reply["result"].as_str(), reply["active"].as_str()),
            (Some("switched"), Some("recipe-b")),
            "{reply}"
        );
        let before = common::read_jsonl(&results).len();
        wait_parts(before + 5);
        drop(_stop);
        run.join().expect("station thread");
    });
    // recipe-a until the switch, recipe-b from one part on; the refused commands changed nothing.
    common::assert_switched_once(&results, "recipe-a", "recipe-b", 5);
}

#[test]
fn tls_with_the_test_ca_carries_the_parts_and_a_wrong_ca_is_refused_at_start() {
    let Some(exe) = mosquitto::binary() else { return };
    let _serial = common::serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let (pki, other_ca) = mosquitto::test_pki(dir.path());
    let broker = Broker::start(&exe, dir.path(), Some(&pki));
    let tls_port = broker.tls_port.expect("a TLS listener");
    let sub = Subscriber::new(broker.port, "fleet", &topic("part"), false);
    let with_ca = |ca: &Path| {
        let cfg = config(dir.path(), tls_port, false, |v| v["mqtt"]["tls"] = json!({ "ca_file": ca }));
        Station::build(StationConfig::load(&cfg).expect("config"), &Overrides::default())
    };
    let st = with_ca(&pki.ca).expect("a station on TLS");
    let ran = st.run(Arc::new(AtomicBool::new(false))).expect("run");
    let msgs = sub.wait_for("every part over TLS", |m| m.len() as u64 >= ran.summary.parts);
    assert_eq!(ids(&parts_received(&msgs)), ids(&common::read_jsonl(&dir.path().join("results.jsonl"))));
    match with_ca(&other_ca) {
        Err(e @ StationError::Mqtt(_)) => {
            let said = e.to_string();
            assert!(
                said.contains("refused at start") && said.contains("TLS") && said.contains("mqtt.tls.ca_file"),
                "{said}"
            );
        }
        Err(e) => panic!("refused for another reason: {e}"),
        Ok(_) => panic!("a broker whose certificate the CA did not sign was trusted"),
    }
}
