//! `cellgate evaluate`: a labelled folder judged by the station's own code (frame checks, preprocess,
//! inference, decision), as fast as it goes and with no deadline, and the figures a model card gives.
//!
//! The station runs offline: the folder replayed once, flat out, a reject delay no part can miss,
//! simulated outputs, its records in a temporary folder (the station's own results log, archive, page and
//! model watch are left alone). A part is predicted NG when the station would reject it: an NG verdict or
//! an error (a frame it refuses is a rejected part, as on the line). An electrode folder also gets the
//! detector's figures (`detection`): the station's records give those at its threshold, and a second pass
//! decoding down to the AP floor gives AP. Its segmentation IoU compares each judged part's segmentation
//! map with the labels drawn as the Python evaluator draws them (`segmentation.rs`).

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, PoisonError};

use cellgate::config::{InspectionConfig, RecordsConfig, SourceConfig, StationConfig, TriggerConfig};
use cellgate::inspect::decision::Verdict;
use cellgate::inspect::qualification::detection::{self, DetectionFigures, AP_FLOOR};
use cellgate::inspect::qualification::figures::{pct, Scored, Verdicts};
use cellgate::inspect::qualification::segmentation::SegmentationFigures;
use cellgate::part::PartRecord;
use cellgate::sinks::record::RecordSink;
use cellgate::station::{Overrides, Station};
use serde::Serialize;

use super::CliError;
use segmentation::Segmentation;

mod segmentation;

/// The longest reject delay a config may set: no part of an offline run is late.
const NO_DEADLINE_MS: u64 = 60_000;
/// The patent's defects first in their order, any others by name (as the Python evaluators order them).
const DEFECT_ORDER: [&str; 5] = ["crack", "narrow_width", "foreign_matter", "wrinkle", "contamination"];

/// What an offline run keeps: every settled part, without its pictures, and (electrode) the
/// segmentation measured part by part as they settle.
#[derive(Default)]
struct Kept {
    records: Vec<PartRecord>,
    segmentation: Option<Segmentation>,
}

struct Keep(Arc<Mutex<Kept>>);

impl RecordSink for Keep {
    fn name(&self) -> &str {
        "evaluation"
    }

    fn record(&mut self, part: &PartRecord) {
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = &mut kept.segmentation {
            s.add(part);
        }
        kept.records.push(PartRecord { electrode: None, image: None, xray: None, ..part.clone() });
    }
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
    threshold: Option<f32>,
    #[serde(flatten)]
    verdicts: Verdicts,
    /// Electrode: the detector's figures, with `scripts/ml/electrode_metrics.py`'s keys.
    #[serde(flatten)]
    detection: Option<DetectionFigures>,
    /// Electrode: the segmentation figures, with `electrode_metrics.py`'s keys.
    #[serde(flatten)]
    segmentation: Option<SegmentationFigures>,
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
    if !matches!(base.inspection, InspectionConfig::Electrode(_)) {
        return Ok(figures(&judge(base, data, out, None)?.records));
    }
    let kept = judge(base, data, out, Segmentation::open(data))?;
    let records = kept.records;
    let mut f = figures(&records);
    f.segmentation = kept.segmentation.and_then(Segmentation::figures);
    // The threshold the station decoded at; then every detection down to the AP floor, for AP.
    let threshold = records.iter().find(|r| r.model.is_some()).map_or(AP_FLOOR, |r| r.threshold);
    let mut floor = base.clone();
    if let InspectionConfig::Electrode(e) = &mut floor.inspection {
        e.score_threshold = Some(AP_FLOOR);
    }
    let at_floor = judge(&floor, data, &out.join("floor"), None)?.records;
    let scored = |r: &[PartRecord]| r.iter().map(Scored::from).collect::<Vec<_>>();
    f.detection = Some(detection::figures(&scored(&records), &scored(&at_floor), threshold));
    Ok(f)
}

/// Every sample of `data` judged by the station built from `base`, made offline under `out`, and its
/// `segmentation` measured.
fn judge(base: &StationConfig, data: &Path, out: &Path, segmentation: Option<Segmentation>) -> Result<Kept, CliError> {
    let cfg = offline(base, data, out);
    let kept = Arc::new(Mutex::new(Kept { records: Vec::new(), segmentation }));
    let ov = Overrides {
        saturate: true,
        offline: true,
        rate_hz: Some(f64::INFINITY),
        vet_with: cellgate::model::vet::this_exe(),
        ..Overrides::default()
    };
    let station = Station::build(cfg, &ov)?.with_sink(Box::new(Keep(kept.clone())));
    station.run(Arc::new(AtomicBool::new(false)))?;
    let kept = std::mem::take(&mut *kept.lock().unwrap_or_else(PoisonError::into_inner));
    Ok(kept)
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
    // The figures are of the model as it is: the station's qualification gate would judge it first.
    cfg.model_updates.golden = None;
    cfg.model_updates.state_dir = out.join("models");
    cfg.http = None;
    cfg
}

fn figures(records: &[PartRecord]) -> Figures {
    let scored: Vec<Scored> = records.iter().map(Scored::from).collect();
    Figures {
        model: records.iter().find_map(|r| r.model.as_ref()).map(|m| format!("{} {}", m.name, m.version)),
        threshold: records.iter().find(|r| r.model.is_some()).map(|r| r.threshold),
        verdicts: Verdicts::of(&scored),
        detection: None,
        segmentation: None,
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
    let v = &f.verdicts;
    let cm = v.confusion_matrix;
    let mut s = format!(
        "model {}  samples {}  threshold {}\naccuracy          {}\nNG recall         {}\nOK false-reject   {}\n\
         confusion matrix (rows true, cols predicted)\n            ok      ng\n  ok    {:6}  {:6}\n  ng    {:6}  {:6}\n\
         errors (rejected unjudged, counted as NG) {}\n",
        f.model.as_deref().unwrap_or("-"),
        v.samples,
        f.threshold.map_or_else(|| "-".to_string(), |t| t.to_string()),
        pct(v.accuracy),
        pct(v.ng_recall),
        pct(v.false_reject_rate),
        cm[0][0],
        cm[0][1],
        cm[1][0],
        cm[1][1],
        v.errors
    );
    if v.unlabelled > 0 {
        s.push_str(&format!("unlabelled samples (judged, not counted) {}\n", v.unlabelled));
    }
    if let Some(d) = &f.detection {
        s.push_str(&d.text());
    }
    if let Some(g) = &f.segmentation {
        s.push_str(&g.text());
    }
    s.push_str("per-defect recall\n");
    let mut names: Vec<&String> = v.per_defect_recall.keys().collect();
    names.sort_by_key(|d| (DEFECT_ORDER.iter().position(|o| o == d).unwrap_or(DEFECT_ORDER.len()), d.as_str()));
    for d in names {
        let r = &v.per_defect_recall[d];
        s.push_str(&format!("  {d:16} {:6.2}%  (n={})\n", 100.0 * r.recall, r.n));
    }
    s
}
