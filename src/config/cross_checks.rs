//! The checks that span sections: each section checks itself (in its component's `config.rs`); these
//! check one section against another.

use std::path::Path;

use super::InspectionConfig;
use crate::key_problem::{bad, KeyProblem};
use crate::sinks::gpio::GpioConfig;
use crate::sinks::record::RecordsConfig;
use crate::sources::SourceConfig;
use crate::trigger::TriggerConfig;

/// The source fits the inspection: one imager for a seal station, image pairs for an electrode one.
pub(super) fn source_fits_inspection(source: &SourceConfig, inspection: &InspectionConfig) -> Result<(), KeyProblem> {
    match (inspection, source.is_one_imager()) {
        (InspectionConfig::Seal(_), false) => {
            bad("source.kind", "a seal station takes one camera: \"replay\" or \"v4l2\"")
        }
        (InspectionConfig::Electrode(_), true) => {
            bad("source.kind", "an electrode station takes image pairs: \"coco\" or \"pair\"")
        }
        _ => Ok(()),
    }
}

/// A V4L2 camera gives one frame per trigger, so the fixture has one cavity.
pub(super) fn a_camera_has_one_cavity(source: &SourceConfig, cavities: usize) -> Result<(), KeyProblem> {
    if cavities != 1 && !source.cameras().is_empty() {
        return bad(
            "inspection.cavities",
            format!("{cavities}: a V4L2 camera gives one frame per trigger, so one cavity"),
        );
    }
    Ok(())
}

/// The photo-eye's input line is not also one of the outputs on its chip.
pub(super) fn trigger_is_not_an_output(trigger: &TriggerConfig, gpio: &GpioConfig) -> Result<(), KeyProblem> {
    if let (TriggerConfig::Gpio(t), GpioConfig::Chardev(c)) = (trigger, gpio) {
        let line = t.line.to_string();
        if t.chip == c.chip && c.lines().any(|l| l.line.to_string() == line) {
            return bad("trigger.line", format!("{} is also an output", t.line));
        }
    }
    Ok(())
}

/// One reject output per cavity of the fixture.
pub(super) fn one_reject_output_per_cavity(gpio: &GpioConfig, cavities: usize) -> Result<(), KeyProblem> {
    let rejects = gpio.reject_count();
    if rejects != cavities {
        return bad(
            "gpio.reject",
            format!("has {rejects} line(s) but inspection.cavities is {cavities}: one reject output per cavity"),
        );
    }
    Ok(())
}

/// The results log and the GPIO timeline each need their own file.
pub(super) fn results_log_is_not_the_timeline(
    records: &RecordsConfig,
    gpio: &GpioConfig,
    base_dir: &Path,
) -> Result<(), KeyProblem> {
    let results = base_dir.join(&records.results);
    match gpio.timeline() {
        Some(t) if records.is_results_log(base_dir, t) => {
            bad("records.results", format!("{} is also gpio.timeline: each needs its own file", results.display()))
        }
        _ => Ok(()),
    }
}

/// The qualification gate's limits are figures the inspection gives: a seal classifier finds no boxes.
pub(super) fn gate_fits_inspection(
    mu: &crate::model::ModelUpdatesConfig,
    inspection: &InspectionConfig,
) -> Result<(), KeyProblem> {
    if let InspectionConfig::Seal(_) = inspection {
        for (key, v) in [("min_map50", mu.min_map50), ("max_miss_rate", mu.max_miss_rate)] {
            if v.is_some() {
                return bad(
                    format!("model_updates.{key}"),
                    "is a detector figure: a seal station's gate takes min_accuracy and min_ng_recall",
                );
            }
        }
    }
    Ok(())
}
