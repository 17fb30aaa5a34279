//! `cellgate evaluate`: a labelled folder judged by the station's own code (frame checks, preprocess,
//! inference, decision), as fast as it goes and with no deadline, and the figures a model card gives.
//!
//! The station runs offline: the folder replayed once, flat out, a reject delay no part can miss,
//! simulated outputs, its records in a temporary folder (the station's own results log, archive, page and
//! model watch are left alone). A part is predicted NG when the station would reject it: an NG verdict or
//! an error (a frame it refuses is a rejected part, as on the line). An electrode folder also gets the
//! detector's figures (`detection`): the station's records give those at its threshold, and a second pass
//! decoding down to the AP floor gives AP.

mod detection;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, PoisonError};

use cellgate::config::{InspectionConfig, RecordsConfig, SourceConfig, StationConfig, TriggerConfig};
use cellgate::inspect::decision::Verdict;
use cellgate::part::PartRecord;
use cellgate::sinks::record::RecordSink;
use cellgate::station::{Overrides, Station};
use serde::Serialize;

use super::CliError;
use detection::{DetectionFigures, AP_FLOOR};

/// The longest reject delay a config may set: no part of an offline run is late.
const NO_DEADLINE_MS: u64 = 60_000;
/// The patent's defects first in their order, any others by name (as the Python evaluators order them).
const DEFECT_ORDER: [&str; 5] = ["crack", "narrow_width", "foreign_matter", "wrinkle", "contamination"];

/// Every settled part, kept for the figures.
struct Keep(Arc<Mutex<Vec<PartRecord>>>);

impl RecordSink for Keep {
    fn name(&self) -> &str {
        "evaluation"
    }

    fn record(&mut self, part: &PartRecord) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push(part.clone());
    }
}

#[derive(Debug, Serialize)]
struct Recall {
    n: usize,
    recall: f64,
}

/// One judged sample.
#[derive(Debug, Serialize)]
struct Sample {
    frame: String,
    recipe: String,
    label: Option<&'static str>,
    defect: Option<String>,
    verdict: Verdict,
    p_ng: Option<f32>,
    error: Option<String>,
}

/// The figures, with the keys of `scripts/ml/seal_metrics.py` so either evaluator's JSON reads alike.
#[derive(Debug, Serialize)]
struct Figures {
    model: Option<String>,
    samples: usize,
    threshold: Option<f32>,
    accuracy: Option<f64>,
    ng_recall: Option<f64>,
    false_reject_rate: Option<f64>,
    /// Rows true OK, true NG; columns predicted OK, predicted NG.
    confusion_matrix: [[usize; 2]; 2],
    per_defect_recall: BTreeMap<String, Recall>,
    /// Parts the station rejected without a verdict (frame refused, model error): predicted NG.
    errors: usize,
    /// Samples without a label: judged, not counted in the figures.
    unlabelled: usize,
    /// Electrode: the detector's figures, with `scripts/ml/electrode_metrics.py`'s keys.
    #[serde(flatten)]
    detection: Option<DetectionFigures>,
    per_sample: Vec<Sample>,
}

pub fn run(config: &Path, data: &Path, json: Option<&Path>) -> Result<(), CliError> {
    let base = StationConfig::load(config)?;
    let out = std::env::temp_dir().join(format!("cellgate-evaluate-{}", std::process::id()));
    std::fs::create_dir_all(&out).map_err(|source| CliError::Io { path: out.clone(), source })?;
    // The config resolves its own paths against its folder; the folder named here is the caller's.
    let data = std::path::absolute(data).map_err(|source| CliError::Io { path: data.to_path_buf(), source })?;
    let judged = judged(&base, &data, &out);
    // The offline runs' records are the figures' only source: nothing of them is kept.
    let _ = std::fs::remove_dir_all(&out);
    let figures = judged?;
    print!("{}", text(&figures));
    if let Some(path) = json {
        let body = serde_json::to_vec_pretty(&figures)?;
        std::fs::write(path, body).map_err(|source| CliError::Io { path: path.to_path_buf(), source })?;
    }
    Ok(())
}

/// The figures of `data` judged by the station built from `base` (offline, under `out`).
fn judged(base: &StationConfig, data: &Path, out: &Path) -> Result<Figures, CliError> {
    let records = judge(base, data, out)?;
    let mut f = figures(&records);
    if matches!(base.inspection, InspectionConfig::Electrode(_)) {
        // The threshold the station decoded at; then every detection down to the AP floor, for AP.
        let threshold = records.iter().find(|r| r.model.is_some()).map_or(AP_FLOOR, |r| r.threshold);
        let mut floor = base.clone();
        if let InspectionConfig::Electrode(e) = &mut floor.inspection {
            e.score_threshold = Some(AP_FLOOR);
        }
        let at_floor = judge(&floor, data, &out.join("floor"))?;
        f.detection = Some(detection::figures(&records, &at_floor, threshold));
    }
    Ok(f)
}

/// Every sample of `data` judged by the station built from `base`, made offline under `out`.
fn judge(base: &StationConfig, data: &Path, out: &Path) -> Result<Vec<PartRecord>, CliError> {
    let cfg = offline(base, data, out);
    let kept = Arc::new(Mutex::new(Vec::new()));
    let ov = Overrides {
        saturate: true,
        rate_hz: Some(f64::INFINITY),
        vet_with: cellgate::model::vet::this_exe(),
        ..Overrides::default()
    };
    let station = Station::build(cfg, &ov)?.with_sink(Box::new(Keep(kept.clone())));
    station.run(Arc::new(AtomicBool::new(false)))?;
    let records = std::mem::take(&mut *kept.lock().unwrap_or_else(PoisonError::into_inner));
    Ok(records)
}

/// The station's config made offline: `data` replayed once flat out, no deadline, simulated outputs,
/// records under `out`, no model watch, no page.
fn offline(base: &StationConfig, data: &Path, out: &Path) -> StationConfig {
    let mut cfg = base.clone();
    cfg.source = match &base.inspection {
        InspectionConfig::Seal(_) => SourceConfig::Replay { path: data.to_path_buf(), r#loop: false },
        InspectionConfig::Electrode(_) => SourceConfig::Coco { path: data.to_path_buf(), r#loop: false },
    };
    cfg.trigger = TriggerConfig::FreeRun { rate_hz: 1000.0 };
    cfg.actuation.delay_ms = NO_DEADLINE_MS;
    cfg.gpio = base.gpio.simulated();
    cfg.records = RecordsConfig { results: out.join("results.jsonl"), archive: None };
    cfg.model_updates.watch = false;
    cfg.model_updates.state_dir = out.join("models");
    cfg.http = None;
    cfg
}

fn figures(records: &[PartRecord]) -> Figures {
    let mut cm = [[0usize; 2]; 2];
    let mut defects: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let (mut errors, mut unlabelled) = (0, 0);
    for r in records {
        let predicted_ng = r.verdict != Verdict::Ok;
        errors += usize::from(r.verdict == Verdict::Error);
        let truth = match r.label {
            Some("ng") => 1,
            Some(_) => 0,
            None => {
                unlabelled += 1;
                continue;
            }
        };
        cm[truth][usize::from(predicted_ng)] += 1;
        if let Some(d) = &r.label_defect {
            let e = defects.entry(d.clone()).or_default();
            e.0 += 1;
            e.1 += usize::from(predicted_ng);
        }
    }
    let share = |num: usize, den: usize| (den > 0).then(|| num as f64 / den as f64);
    let labelled = cm[0][0] + cm[0][1] + cm[1][0] + cm[1][1];
    Figures {
        model: records.iter().find_map(|r| r.model.as_ref()).map(|m| format!("{} {}", m.name, m.version)),
        samples: labelled,
        threshold: records.iter().find(|r| r.model.is_some()).map(|r| r.threshold),
        accuracy: share(cm[0][0] + cm[1][1], labelled),
        ng_recall: share(cm[1][1], cm[1][0] + cm[1][1]),
        false_reject_rate: share(cm[0][1], cm[0][0] + cm[0][1]),
        confusion_matrix: cm,
        per_defect_recall: defects
            .into_iter()
            .map(|(d, (n, caught))| (d, Recall { n, recall: caught as f64 / n as f64 }))
            .collect(),
        errors,
        unlabelled,
        detection: None,
        per_sample: records
            .iter()
            .map(|r| Sample {
                frame: r.frame.clone(),
                recipe: r.recipe.clone(),
                label: r.label,
                defect: r.label_defect.clone(),
                verdict: r.verdict,
                p_ng: r.p_ng,
                error: r.error.clone(),
            })
            .collect(),
    }
}

fn text(f: &Figures) -> String {
    let pct = |v: Option<f64>| v.map_or_else(|| "n/a".to_string(), |v| format!("{:.2}%", 100.0 * v));
    let cm = f.confusion_matrix;
    let mut s = format!(
        "model {}  samples {}  threshold {}\naccuracy          {}\nNG recall         {}\nOK false-reject   {}\n\
         confusion matrix (rows true, cols predicted)\n            ok      ng\n  ok    {:6}  {:6}\n  ng    {:6}  {:6}\n\
         errors (rejected unjudged, counted as NG) {}\n",
        f.model.as_deref().unwrap_or("-"),
        f.samples,
        f.threshold.map_or_else(|| "-".to_string(), |t| t.to_string()),
        pct(f.accuracy),
        pct(f.ng_recall),
        pct(f.false_reject_rate),
        cm[0][0],
        cm[0][1],
        cm[1][0],
        cm[1][1],
        f.errors
    );
    if f.unlabelled > 0 {
        s.push_str(&format!("unlabelled samples (judged, not counted) {}\n", f.unlabelled));
    }
    if let Some(d) = &f.detection {
        s.push_str(&d.text());
    }
    s.push_str("per-defect recall\n");
    let mut names: Vec<&String> = f.per_defect_recall.keys().collect();
    names.sort_by_key(|d| (DEFECT_ORDER.iter().position(|o| o == d).unwrap_or(DEFECT_ORDER.len()), d.as_str()));
    for d in names {
        let r = &f.per_defect_recall[d];
        s.push_str(&format!("  {d:16} {:6.2}%  (n={})\n", 100.0 * r.recall, r.n));
    }
    s
}
