//! `gpio`: the GPIO backend (simulated or the kernel's character device) and its output lines.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::{bad, KeyProblem, TriggerConfig};

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineDrive {
    #[default]
    PushPull,
    OpenDrain,
    OpenSource,
}

/// One output line on a GPIO chip.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputLineConfig {
    /// Line offset or name.
    pub line: crate::gpio_chip::LineRef,
    #[serde(default)]
    pub active_low: bool,
    #[serde(default)]
    pub drive: LineDrive,
}

/// GPIO backend and line names.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, tag = "backend", rename_all = "snake_case")]
pub enum GpioConfig {
    /// Simulated lines; every change is recorded with its time.
    Sim {
        /// JSON-lines file of line changes (none: kept in memory only).
        #[serde(default)]
        timeline: Option<PathBuf>,
        /// Reject output per cavity (one name per cavity).
        #[serde(default = "default_reject_lines")]
        reject: Vec<String>,
        #[serde(default = "default_alarm_line")]
        alarm: String,
        #[serde(default)]
        ready: Option<String>,
        /// Further outputs that electrode rules drive (e.g. a marker for dark spots).
        #[serde(default)]
        markers: Vec<String>,
    },
    /// The kernel's GPIO character device.
    Chardev(ChardevConfig),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChardevConfig {
    /// Chip by path (`/dev/gpiochip0`), name (`gpiochip0`) or label.
    pub chip: String,
    /// Reject output per cavity.
    pub reject: Vec<OutputLineConfig>,
    pub alarm: OutputLineConfig,
    /// Active while the station is up and inspecting.
    #[serde(default)]
    pub ready: Option<OutputLineConfig>,
    /// Further outputs that electrode rules drive, by the name the rules use.
    #[serde(default)]
    pub markers: BTreeMap<String, OutputLineConfig>,
    #[serde(default)]
    pub timeline: Option<PathBuf>,
}

fn default_reject_lines() -> Vec<String> {
    vec!["reject0".into()]
}

fn default_alarm_line() -> String {
    "alarm".into()
}

impl GpioConfig {
    /// Every output line's name as rules and the timeline use it.
    pub fn output_names(&self) -> Vec<String> {
        match self {
            GpioConfig::Sim { reject, alarm, ready, markers, .. } => {
                reject.iter().chain(std::iter::once(alarm)).chain(ready).chain(markers).cloned().collect()
            }
            GpioConfig::Chardev(c) => (0..c.reject.len())
                .map(|i| format!("reject{i}"))
                .chain(["alarm".to_string()])
                .chain(c.ready.as_ref().map(|_| "ready".to_string()))
                .chain(c.markers.keys().cloned())
                .collect(),
        }
    }

    /// One reject output per cavity, no line used twice, and no output on the trigger's input line.
    pub(super) fn validate(&self, trigger: &TriggerConfig, cavities: usize) -> Result<(), KeyProblem> {
        let mut names: Vec<String> = match self {
            GpioConfig::Sim { .. } => self.output_names().iter().map(|n| format!("'{n}'")).collect(),
            GpioConfig::Chardev(ChardevConfig { reject, alarm, ready, chip, markers, .. }) => {
                let lines: Vec<String> = reject
                    .iter()
                    .chain(std::iter::once(alarm))
                    .chain(ready)
                    .chain(markers.values())
                    .map(|l| l.line.to_string())
                    .collect();
                if let TriggerConfig::Gpio(t) = trigger {
                    if t.chip == *chip && lines.contains(&t.line.to_string()) {
                        return bad("trigger.line", format!("{} is also an output", t.line));
                    }
                }
                lines
            }
        };
        let rejects = match self {
            GpioConfig::Sim { reject, .. } => reject.len(),
            GpioConfig::Chardev(c) => c.reject.len(),
        };
        if rejects != cavities {
            return bad(
                "gpio.reject",
                format!("has {rejects} line(s) but inspection.cavities is {cavities}: one reject output per cavity"),
            );
        }
        names.sort();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return bad("gpio", format!("line {} is used twice", w[0]));
        }
        Ok(())
    }
}
