//! The output backend the config names (simulated lines or the kernel's GPIO character device), every
//! line requested in its safe state, and every change recorded on the timeline.

use std::time::Instant;

use crate::config::{ChardevConfig, GpioConfig, LineDrive, StationConfig};
use crate::sinks::gpio::chardev::{ChardevGpio, OutputSpec};
use crate::sinks::gpio::sim::SimGpio;
use crate::sinks::gpio::timeline::Timeline;
use crate::sinks::gpio::{GpioOutputs, OutputNames};
use crate::station::StationError;

/// The outputs, with `epoch` as the timeline's time zero.
pub(super) fn open(cfg: &StationConfig, epoch: Instant) -> Result<Box<dyn GpioOutputs>, StationError> {
    Ok(match &cfg.gpio {
        GpioConfig::Sim { timeline, reject, alarm, ready, markers } => {
            let timeline = Timeline::new(epoch, timeline.as_ref().map(|p| cfg.resolve(p)).as_deref())?;
            let names = OutputNames {
                reject: reject.clone(),
                alarm: alarm.clone(),
                ready: ready.clone(),
                markers: markers.clone(),
            };
            Box::new(SimGpio::new(names, timeline))
        }
        GpioConfig::Chardev(ChardevConfig { chip, reject, alarm, ready, markers, timeline }) => {
            let timeline = Timeline::new(epoch, timeline.as_ref().map(|p| cfg.resolve(p)).as_deref())?;
            let lines: Vec<_> =
                reject.iter().chain(std::iter::once(alarm)).chain(ready).chain(markers.values()).collect();
            let specs: Vec<OutputSpec> = lines
                .iter()
                .map(|l| OutputSpec {
                    line: l.line.clone(),
                    active_low: l.active_low,
                    drive: match l.drive {
                        LineDrive::PushPull => gpiod::Drive::PushPull,
                        LineDrive::OpenDrain => gpiod::Drive::OpenDrain,
                        LineDrive::OpenSource => gpiod::Drive::OpenSource,
                    },
                })
                .collect();
            // Lines are named by role in the timeline and as the kernel's consumer label.
            let names = OutputNames {
                reject: (0..reject.len()).map(|i| format!("reject{i}")).collect(),
                alarm: "alarm".into(),
                ready: ready.as_ref().map(|_| "ready".into()),
                markers: markers.keys().cloned().collect(),
            };
            Box::new(ChardevGpio::open(chip, &specs, names, timeline)?)
        }
    })
}
