//! Helpers shared by the integration tests: configs in temp folders, fixtures, result files.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use serde_json::{json, Value};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixtures() -> PathBuf {
    root().join("tests/fixtures")
}

pub fn model() -> PathBuf {
    root().join("onnx/seal_classifier.onnx")
}

/// Station runs measure time; two at once on a 2-core machine would measure each other.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A config replaying the golden fixture set once, writing into `dir`; `edit` adjusts it.
pub fn write_config(dir: &Path, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let seal = fixtures().join("seal");
    let mut recipes = serde_json::Map::new();
    for e in std::fs::read_dir(seal.join("references")).expect("fixture references") {
        let p = e.expect("entry").path();
        let name = p.file_stem().expect("stem").to_string_lossy().into_owned();
        recipes.insert(name, json!({ "reference": p }));
    }
    let first = recipes.keys().next().cloned().expect("a recipe");
    let mut v = json!({
        "name": "test-station",
        "runtime": { "providers": ["cpu"], "intra_threads": 1 },
        "inspection": { "kind": "seal", "model": model(), "recipe": first, "recipes": recipes },
        "source": { "kind": "replay", "path": seal, "loop": false },
        "trigger": { "kind": "free_run", "rate_hz": 20 },
        "actuation": { "delay_ms": 200, "pulse_ms": 30 },
        "gpio": { "backend": "sim", "timeline": dir.join("gpio.jsonl"), "reject": ["reject0"], "alarm": "alarm" },
        "records": { "results": dir.join("results.jsonl"), "archive": { "dir": dir.join("ng"), "quota_bytes": 8388608 } },
        "model_updates": { "state_dir": dir.join("models"), "settle_ms": 100 }
    });
    edit(&mut v);
    let path = dir.join("station.json");
    std::fs::write(&path, serde_json::to_string_pretty(&v).expect("json")).expect("write config");
    path
}

/// The results log at `path` names `from` for its first `at_least` parts or more, then `to` from one part on,
/// never back and forth: a recipe switch landed between two parts.
pub fn assert_switched_once(path: &Path, from: &str, to: &str, at_least: usize) {
    let recipes: Vec<String> = read_jsonl(path).iter().map(|r| r["recipe"].as_str().expect("recipe").into()).collect();
    let first = recipes.iter().position(|r| r == to).expect("parts judged against the new recipe");
    assert!(first >= at_least, "{recipes:?}");
    assert!(recipes[..first].iter().all(|r| r == from), "{recipes:?}");
    assert!(recipes[first..].iter().all(|r| r == to), "{recipes:?}");
}

pub fn read_jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// Golden NG probability per fixture image.
/// The NG threshold of the model the golden outputs were made with (its manifest's).
pub fn golden_threshold() -> f32 {
    let text = std::fs::read_to_string(fixtures().join("seal/golden.json")).expect("golden.json");
    let v: Value = serde_json::from_str(&text).expect("golden JSON");
    v["threshold"].as_f64().expect("threshold in golden.json") as f32
}

/// Does the golden output call this pair NG (at the model's threshold)?
pub fn golden_says_ng(probs: &[f32; 2]) -> bool {
    probs[1] >= golden_threshold()
}

pub fn golden() -> Vec<(String, String, [f32; 2])> {
    let text = std::fs::read_to_string(fixtures().join("seal/golden.json")).expect("golden.json");
    let v: Value = serde_json::from_str(&text).expect("golden JSON");
    v["pairs"]
        .as_array()
        .expect("pairs")
        .iter()
        .map(|p| {
            let probs = p["probs"].as_array().expect("probs");
            (
                p["image"].as_str().expect("image").to_string(),
                p["reference"].as_str().expect("reference").to_string(),
                [probs[0].as_f64().expect("f") as f32, probs[1].as_f64().expect("f") as f32],
            )
        })
        .collect()
}

/// Rising and falling edges of one line in a GPIO timeline: (t_ms, value).
pub fn edges(timeline: &[Value], line: &str) -> Vec<(f64, u8)> {
    timeline
        .iter()
        .filter(|c| c["line"] == line)
        .map(|c| (c["t_ms"].as_f64().expect("t_ms"), c["value"].as_u64().expect("value") as u8))
        .collect()
}

/// Parts `period` apart, then a line that stands still: `Idle` `idles` times `idle_gap` apart, then the
/// end of the run `end_after` later.
pub struct PartsThenQuiet {
    pub parts: u32,
    pub period: std::time::Duration,
    pub idles: u32,
    pub idle_gap: std::time::Duration,
    pub end_after: std::time::Duration,
    pub next: Option<std::time::Instant>,
}

impl cellgate::trigger::Trigger for PartsThenQuiet {
    fn wait(&mut self, stop: &std::sync::atomic::AtomicBool) -> cellgate::trigger::TriggerEvent {
        use cellgate::trigger::TriggerEvent;
        let t = self.next.unwrap_or_else(std::time::Instant::now);
        let (event, gap) = if self.parts > 0 {
            self.parts -= 1;
            (TriggerEvent::Part(t), self.period)
        } else if self.idles > 0 {
            self.idles -= 1;
            (TriggerEvent::Idle, self.idle_gap)
        } else {
            (TriggerEvent::Stopped, std::time::Duration::ZERO)
        };
        let at = if matches!(event, TriggerEvent::Stopped) { t + self.end_after } else { t };
        if !cellgate::trigger::sleep_until(at, stop) {
            return TriggerEvent::Stopped;
        }
        self.next = Some(t + gap);
        event
    }
}

/// Stops a station however a test ends, a failed assertion included (else a scope joining the station's
/// thread waits forever).
pub struct StopOnDrop(pub std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}
