//! The qualification gate for swapped models: a station may keep a labelled golden set of its own parts
//! (`model_updates.golden`). Every model it loads, at start and at every swap (a taught reference too),
//! judges the set after its warm-up and self-test, inside the same deadline, with the station's own
//! inspection code. It is taken only if its figures meet the configured minimums and, at a swap, are not
//! worse than the running model's by more than `max_regression`; otherwise it is refused with its figures
//! and the line runs on with the model it has.

pub mod detection;
pub mod figures;
pub mod golden;
pub mod segmentation;

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use ort::session::RunOptions;
use serde::Serialize;

use self::detection::AP_FLOOR;
use self::figures::{pct, Scored, Verdicts};
use self::golden::{GoldenError, GoldenSet};
use super::{InspectError, Inspection, InspectionLoader, PartFrames};
use crate::runtime::Runtime;

/// What a model must reach on the golden set (shares, 0..1).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Limits {
    pub min_accuracy: Option<f64>,
    pub min_ng_recall: Option<f64>,
    pub min_map50: Option<f64>,
    pub max_miss_rate: Option<f64>,
    /// How much worse than the running model a replacement may be on any figure.
    pub max_regression: f64,
}

/// A model's figures on the golden set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateFigures {
    pub samples: usize,
    pub accuracy: Option<f64>,
    pub ng_recall: Option<f64>,
    pub false_reject_rate: Option<f64>,
    /// Electrode: mAP at IoU 0.5 over every detection down to the AP floor, as `cellgate evaluate` gives it.
    pub map50: Option<f64>,
    /// Electrode: labelled defects no detection finds, at the decision threshold.
    pub miss_rate: Option<f64>,
}

impl fmt::Display for GateFigures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "accuracy {}, NG recall {}", pct(self.accuracy), pct(self.ng_recall))?;
        if self.map50.is_some() || self.miss_rate.is_some() {
            write!(f, ", mAP50 {}, miss rate {}", pct(self.map50), pct(self.miss_rate))?;
        }
        write!(f, " on {} golden parts", self.samples)
    }
}

/// A figure, which way is better, and its limit key.
struct Figure {
    name: &'static str,
    key: &'static str,
    value: Option<f64>,
    higher_is_better: bool,
}

impl GateFigures {
    fn figures(&self) -> [Figure; 4] {
        [
            Figure { name: "accuracy", key: "min_accuracy", value: self.accuracy, higher_is_better: true },
            Figure { name: "NG recall", key: "min_ng_recall", value: self.ng_recall, higher_is_better: true },
            Figure { name: "mAP50", key: "min_map50", value: self.map50, higher_is_better: true },
            Figure { name: "miss rate", key: "max_miss_rate", value: self.miss_rate, higher_is_better: false },
        ]
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QualificationError {
    #[error("qualification: {0}")]
    Golden(#[from] GoldenError),
    #[error(transparent)]
    Refused(Box<Refusal>),
}

/// Why a model did not pass, with its figures and the running model's.
#[derive(Debug, thiserror::Error)]
#[error("qualification on the golden set failed: {}; the model's figures: {figures}{}", .failed.join("; "),
    .running.as_ref().map(|r| format!("; the running model's: {r}")).unwrap_or_default())]
pub struct Refusal {
    pub failed: Vec<String>,
    pub figures: GateFigures,
    pub running: Option<GateFigures>,
}

/// The golden set, the limits, and the figures of the model running now (the regression baseline).
pub struct Gate {
    golden: GoldenSet,
    limits: Limits,
    electrode: bool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The figures of the model judging parts now.
    running: Option<GateFigures>,
    /// The load each qualification belongs to (`begin`): a load abandoned at its deadline that finishes
    /// later cannot leave its figures for another load's takeover.
    load: u64,
    /// The figures of the load that passed, until it takes over.
    passed: Option<(u64, GateFigures)>,
}

/// One load's claim on the gate (`Gate::begin`), redeemed by `Gate::took_over`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadTicket(u64);

impl Gate {
    pub fn new(golden: GoldenSet, limits: Limits, electrode: bool) -> Self {
        Self { golden, limits, electrode, state: Mutex::default() }
    }

    pub fn golden_dir(&self) -> &Path {
        self.golden.dir()
    }

    /// The running model's figures (after the start, the last model that took over).
    pub fn running(&self) -> Option<GateFigures> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).running.clone()
    }

    /// A load begins: the next qualification is this load's, and any earlier load's result is void.
    pub fn begin(&self) -> LoadTicket {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.load += 1;
        s.passed = None;
        LoadTicket(s.load)
    }

    /// The model of the load `ticket` has taken over: its figures are the baseline from now on. Returns them.
    pub fn took_over(&self, ticket: LoadTicket) -> Option<GateFigures> {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match s.passed.take() {
            Some((load, figures)) if load == ticket.0 => {
                s.running = Some(figures.clone());
                Some(figures)
            }
            other => {
                s.passed = other;
                None
            }
        }
    }

    /// Judges the golden set with `inspection` and checks its figures; the figures when it passes.
    pub fn qualify(&self, inspection: &mut dyn Inspection) -> Result<GateFigures, QualificationError> {
        let load = self.state.lock().unwrap_or_else(PoisonError::into_inner).load;
        let (figures, errors) = self.figures(inspection)?;
        let running = self.running();
        let mut failed = Vec::new();
        // A part the model cannot judge counts as rejected in the figures, which would flatter a model
        // that fails on every part: on the golden set, every part must be judged.
        if let Some((n, first)) = errors {
            failed.push(format!("{n} golden part(s) not judged (first: {first})"));
        }
        let limits =
            [self.limits.min_accuracy, self.limits.min_ng_recall, self.limits.min_map50, self.limits.max_miss_rate];
        let base = running.as_ref().map(GateFigures::figures);
        for (i, (fig, limit)) in figures.figures().into_iter().zip(limits).enumerate() {
            let Some(v) = fig.value else {
                // A limit the set cannot measure (its NG parts or boxes gone since the start) passes nothing.
                if limit.is_some() {
                    failed.push(format!("the golden set gives no {} for model_updates.{}", fig.name, fig.key));
                }
                continue;
            };
            let short = |l: f64| if fig.higher_is_better { v < l } else { v > l };
            if let Some(l) = limit.filter(|l| short(*l)) {
                let op = if fig.higher_is_better { "<" } else { ">" };
                failed.push(format!("{} {} {op} model_updates.{} {}", fig.name, pct(Some(v)), fig.key, pct(Some(l))));
            }
            let Some(b) = base.as_ref().and_then(|b| b[i].value) else { continue };
            let r = self.limits.max_regression;
            let worse = if fig.higher_is_better { b - v } else { v - b };
            // A hair of tolerance: the same model judged twice must never count as a regression.
            if worse > r + 1e-9 {
                failed.push(format!(
                    "{} {} is {} worse than the running model's {} (model_updates.max_regression {})",
                    fig.name,
                    pct(Some(v)),
                    pct(Some(worse)),
                    pct(Some(b)),
                    pct(Some(r))
                ));
            }
        }
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if !failed.is_empty() {
            if s.load == load {
                s.passed = None;
            }
            return Err(QualificationError::Refused(Box::new(Refusal { failed, figures, running })));
        }
        if s.load == load {
            s.passed = Some((load, figures.clone()));
        }
        Ok(figures)
    }

    /// The model's figures on the golden set, as `cellgate evaluate` computes them, and how many parts it
    /// could not judge (with the first reason).
    #[allow(clippy::type_complexity)]
    fn figures(
        &self,
        inspection: &mut dyn Inspection,
    ) -> Result<(GateFigures, Option<(usize, String)>), QualificationError> {
        let parts = self.golden.parts()?;
        let (at_threshold, errors) = judge_all(inspection, &parts);
        let verdicts = Verdicts::of(&at_threshold);
        let (map50, miss_rate) = if self.electrode {
            // AP over every detection down to the floor, as the model cards give it; then back.
            let threshold = inspection.threshold();
            inspection.decode_floor(Some(AP_FLOOR));
            let (at_floor, _) = judge_all(inspection, &parts);
            inspection.decode_floor(None);
            let d = detection::figures(&at_threshold, &at_floor, threshold);
            (d.map50, d.miss_rate)
        } else {
            (None, None)
        };
        let figures = GateFigures {
            samples: verdicts.samples,
            accuracy: verdicts.accuracy,
            ng_recall: verdicts.ng_recall,
            false_reject_rate: verdicts.false_reject_rate,
            map50,
            miss_rate,
        };
        Ok((figures, errors.first().map(|e| (errors.len(), e.clone()))))
    }
}

/// Each golden part judged alone, as a one-cavity station judges it; a part the model fails is an error
/// (rejected, as on the line), and why is kept.
fn judge_all(inspection: &mut dyn Inspection, parts: &[golden::GoldenPart]) -> (Vec<Scored>, Vec<String>) {
    let mut errors = Vec::new();
    let scored = parts
        .iter()
        .map(|p| {
            let frames = [PartFrames { frame: &p.frame, xray: p.xray.as_ref() }];
            let judged = match inspection.judge(&frames) {
                Ok(mut j) if j.len() == 1 => j.remove(0).map_err(|e| e.to_string()),
                Ok(_) => Err("no result".to_string()),
                Err(e) => Err(e.to_string()),
            };
            let j = judged.unwrap_or_else(|e| {
                errors.push(format!("{}: {e}", p.frame.info.name));
                crate::inspect::Judgement::failed(e)
            });
            Scored::judged(&j, &p.frame.info)
        })
        .collect();
    (scored, errors)
}

/// A loader whose every model is qualified on the golden set before it is handed out.
pub struct GatedLoader {
    pub inner: Arc<dyn InspectionLoader>,
    pub gate: Arc<Gate>,
}

impl InspectionLoader for GatedLoader {
    fn load(
        &self,
        rt: &Runtime,
        model: &Path,
        run_options: Arc<RunOptions>,
    ) -> Result<Box<dyn Inspection>, InspectError> {
        let mut inspection = self.inner.load(rt, model, run_options)?;
        let figures = self.gate.qualify(inspection.as_mut())?;
        log::info!("{}: qualified on the golden set {}: {figures}", model.display(), self.gate.golden_dir().display());
        Ok(inspection)
    }

    fn files(&self, model: &Path) -> Vec<std::path::PathBuf> {
        self.inner.files(model)
    }

    fn references(&self) -> std::collections::BTreeMap<String, std::path::PathBuf> {
        self.inner.references()
    }

    fn with_reference(&self, recipe: &str, path: &Path) -> Option<Arc<dyn InspectionLoader>> {
        let inner = self.inner.with_reference(recipe, path)?;
        Some(Arc::new(GatedLoader { inner, gate: self.gate.clone() }))
    }
}

#[cfg(test)]
mod tests;
