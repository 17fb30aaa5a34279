//! Outputs on the kernel's GPIO character device (uAPI v2). Each line is requested with its safe
//! (inactive) value, so it never glitches active at start; active-low and drive come from the config and
//! are applied by the kernel. Dropping the backend (normal stop, error, or a panic unwinding) sets every
//! line safe before the request is released.

use std::sync::{Arc, Mutex};

use gpiod::{Active, Lines, Options, Output};

use super::timeline::{LineChange, Timeline};
use super::{ChardevConfig, GpioError, GpioOutputs, OutputLine, OutputNames};
use crate::gpio_chip::OpenChip;

struct Held {
    label: String,
    lines: Lines<Output>,
    active: bool,
}

pub struct ChardevGpio {
    chip: String,
    held: Vec<Held>,
    names: OutputNames,
    timeline: Timeline,
}

impl ChardevGpio {
    /// Requests every output (rejects, alarm, ready in `OutputNames` order). A line that is missing or
    /// held by another consumer is an error naming the chip and the line; nothing is left requested.
    pub fn open(cfg: &ChardevConfig, names: OutputNames, timeline: Timeline) -> Result<Self, GpioError> {
        let chip = OpenChip::open(&cfg.chip)?;
        let mut held = Vec::with_capacity(names.count());
        for (i, spec) in cfg.lines().enumerate() {
            let offset = chip.offset(&spec.line)?;
            chip.check_free(offset, &spec.line)?;
            let opts = Options::output([offset])
                .consumer(format!("cellgate-{}", names.name(i)))
                .active(if spec.active_low { Active::Low } else { Active::High })
                .drive(spec.drive.drive())
                .values([false]);
            let lines = chip.chip.request_lines(opts).map_err(|e| chip.request_error(offset, &spec.line, e))?;
            held.push(Held { label: format!("{} (line {offset})", names.name(i)), lines, active: false });
        }
        Ok(Self { chip: chip.describe(), held, names, timeline })
    }
}

impl GpioOutputs for ChardevGpio {
    fn set(&mut self, line: OutputLine, active: bool) -> Result<(), GpioError> {
        let Some(i) = self.names.index(line)? else { return Ok(()) };
        let h = &mut self.held[i];
        if h.active == active {
            return Ok(());
        }
        h.lines
            .set_values([active])
            .map_err(|e| GpioError::Line { line: format!("{} {}", self.chip, h.label), reason: e.to_string() })?;
        h.active = active;
        self.timeline.note(self.names.name(i), active);
        Ok(())
    }

    fn all_safe(&mut self) -> Result<(), GpioError> {
        let mut first_err = None;
        for i in 0..self.held.len() {
            let h = &mut self.held[i];
            // Written even when believed inactive: the safe state must not depend on bookkeeping.
            match h.lines.set_values([false]) {
                Ok(()) => {
                    if h.active {
                        h.active = false;
                        // Recorded after the line is safe, and an unwritable timeline stops no other line.
                        if let Err(e) = self.timeline.record(self.names.name(i), false) {
                            first_err.get_or_insert(e);
                        }
                    }
                }
                Err(e) => {
                    first_err.get_or_insert(GpioError::Line {
                        line: format!("{} {}", self.chip, h.label),
                        reason: e.to_string(),
                    });
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    fn describe(&self) -> String {
        let lines: Vec<&str> = self.held.iter().map(|h| h.label.as_str()).collect();
        format!("GPIO {}: {}", self.chip, lines.join(", "))
    }

    fn timeline(&self) -> Arc<Mutex<Vec<LineChange>>> {
        self.timeline.shared.clone()
    }
}

impl Drop for ChardevGpio {
    fn drop(&mut self) {
        if let Err(e) = self.all_safe() {
            log::error!("GPIO: cannot set outputs safe on release: {e}");
        }
    }
}
