//! `gpio`: the GPIO backend (simulated or the kernel's character device) and its output lines, checked
//! and opened (`build`): every line requested in its safe state, every change recorded on the timeline.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Deserialize;

use super::chardev::ChardevGpio;
use super::sim::SimGpio;
use super::timeline::Timeline;
use super::{GpioError, GpioOutputs, OutputNames};
use crate::key_problem::{bad, KeyProblem};

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineDrive {
    #[default]
    PushPull,
    OpenDrain,
    OpenSource,
}

impl LineDrive {
    pub fn drive(self) -> gpiod::Drive {
        match self {
            LineDrive::PushPull => gpiod::Drive::PushPull,
            LineDrive::OpenDrain => gpiod::Drive::OpenDrain,
            LineDrive::OpenSource => gpiod::Drive::OpenSource,
        }
    }
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

impl ChardevConfig {
    /// Every output line in `OutputNames` order: rejects, alarm, ready when there is one, markers.
    pub fn lines(&self) -> impl Iterator<Item = &OutputLineConfig> {
        self.reject.iter().chain(std::iter::once(&self.alarm)).chain(&self.ready).chain(self.markers.values())
    }

    /// Lines are named by role in the timeline and as the kernel's consumer label.
    fn names(&self) -> OutputNames {
        OutputNames {
            reject: (0..self.reject.len()).map(|i| format!("reject{i}")).collect(),
            alarm: "alarm".into(),
            ready: self.ready.as_ref().map(|_| "ready".into()),
            markers: self.markers.keys().cloned().collect(),
        }
    }
}

fn default_reject_lines() -> Vec<String> {
    vec!["reject0".into()]
}

fn default_alarm_line() -> String {
    "alarm".into()
}

impl GpioConfig {
    /// The same outputs, by the same names, on simulated lines with no timeline: an offline run
    /// (`cellgate evaluate`, the bench) drives no hardware and writes nothing of the station's.
    pub fn simulated(&self) -> Self {
        let n = match self {
            GpioConfig::Sim { reject, alarm, ready, markers, .. } => OutputNames {
                reject: reject.clone(),
                alarm: alarm.clone(),
                ready: ready.clone(),
                markers: markers.clone(),
            },
            GpioConfig::Chardev(c) => c.names(),
        };
        GpioConfig::Sim { timeline: None, reject: n.reject, alarm: n.alarm, ready: n.ready, markers: n.markers }
    }

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

    /// Reject outputs, one per cavity.
    pub fn reject_count(&self) -> usize {
        match self {
            GpioConfig::Sim { reject, .. } => reject.len(),
            GpioConfig::Chardev(c) => c.reject.len(),
        }
    }

    /// The timeline file, as written in the config.
    pub fn timeline(&self) -> Option<&Path> {
        match self {
            GpioConfig::Sim { timeline, .. } => timeline.as_deref(),
            GpioConfig::Chardev(c) => c.timeline.as_deref(),
        }
    }

    /// No line used twice.
    pub fn validate(&self) -> Result<(), KeyProblem> {
        let mut names: Vec<String> = match self {
            GpioConfig::Sim { .. } => self.output_names().iter().map(|n| format!("'{n}'")).collect(),
            GpioConfig::Chardev(c) => c.lines().map(|l| l.line.to_string()).collect(),
        };
        names.sort();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return bad("gpio", format!("line {} is used twice", w[0]));
        }
        Ok(())
    }

    /// Checks the section, then opens the outputs, with `epoch` as the timeline's time zero; a relative
    /// timeline path is taken from `base_dir` (the config file's folder).
    pub fn build(&self, base_dir: &Path, epoch: Instant) -> Result<Box<dyn GpioOutputs>, GpioError> {
        self.validate()?;
        let timeline = Timeline::new(epoch, self.timeline().map(|p| base_dir.join(p)).as_deref())?;
        Ok(match self {
            GpioConfig::Sim { reject, alarm, ready, markers, .. } => {
                let names = OutputNames {
                    reject: reject.clone(),
                    alarm: alarm.clone(),
                    ready: ready.clone(),
                    markers: markers.clone(),
                };
                Box::new(SimGpio::new(names, timeline))
            }
            GpioConfig::Chardev(c) => Box::new(ChardevGpio::open(c, c.names(), timeline)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::gpio::OutputLine;

    fn parse(json: &str) -> GpioConfig {
        serde_json::from_str(json).expect("gpio section")
    }

    #[test]
    fn simulated_lines_default_to_one_reject_and_an_alarm() {
        let sim = parse(r#"{"backend": "sim"}"#);
        assert_eq!(sim.output_names(), ["reject0", "alarm"]);
        assert_eq!((sim.reject_count(), sim.timeline()), (1, None));
        assert_eq!(sim.validate(), Ok(()));
    }

    #[test]
    fn chardev_lines_are_named_by_role_and_checked_for_reuse() {
        let c = parse(
            r#"{"backend": "chardev", "chip": "gpiochip0", "reject": [{"line": 3}, {"line": "rej1"}],
                "alarm": {"line": "alarm", "drive": "open_drain"}, "markers": {"spot": {"line": 7}}}"#,
        );
        assert_eq!(c.output_names(), ["reject0", "reject1", "alarm", "spot"]);
        assert_eq!(c.validate(), Ok(()));
        let twice = parse(r#"{"backend": "chardev", "chip": "c", "reject": [{"line": 3}], "alarm": {"line": 3}}"#);
        assert_eq!(twice.validate().map_err(|p| p.key), Err("gpio".into()));
        assert!(serde_json::from_str::<GpioConfig>(r#"{"backend": "sim", "lamp": "x"}"#).is_err());
    }

    #[test]
    fn a_simulated_backend_builds_with_the_configured_names() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sim = parse(r#"{"backend": "sim", "reject": ["kick"], "alarm": "lamp", "timeline": "t.jsonl"}"#);
        let mut out = sim.build(dir.path(), Instant::now()).expect("sim outputs");
        out.set(OutputLine::Reject(0), true).expect("set");
        let names: Vec<_> = out.timeline().lock().expect("timeline").iter().map(|c| c.line.clone()).collect();
        assert_eq!(names, ["kick"]);
        assert!(dir.path().join("t.jsonl").is_file(), "the timeline path is taken from the config's folder");
    }

    #[test]
    fn build_refuses_a_section_that_fails_its_checks() {
        let twice = parse(r#"{"backend": "sim", "reject": ["x"], "alarm": "x"}"#);
        match twice.build(Path::new("/"), Instant::now()) {
            Err(GpioError::Config(p)) => assert_eq!(p.key, "gpio", "{p}"),
            Err(e) => panic!("refused for another reason: {e}"),
            Ok(_) => panic!("two outputs on one line were opened"),
        }
    }
}
