//! The scheduler's writes to its outputs and what a failed one does: a reject or marker line that
//! cannot be written is an actuator fault (alarm) until it is written again; alarm and ready follow the
//! fault state and are written again until they take.

use std::cmp::Reverse;
use std::time::Instant;

use super::{Event, FaultKind, RejectScheduler, STATUS_RETRY};
use crate::sinks::gpio::{GpioOutputs, OutputLine};

impl<G: GpioOutputs> RejectScheduler<G> {
    /// The alarm is on and ready off while any fault is active.
    pub(super) fn set_fault(&mut self, kind: FaultKind, active: bool) {
        let was = self.faulted();
        self.faults.insert(kind, active);
        let now = self.faulted();
        if was != now && !self.status_stale {
            self.write_status();
        }
    }

    /// Writes alarm and ready for the present fault state. A failed write is counted and both are
    /// written again every `STATUS_RETRY` until they take: the lamp and the line a PLC watches must not
    /// stay stale. (Not an actuator fault of its own: the alarm could not show it.)
    pub(super) fn write_status(&mut self) {
        let faulted = self.faulted();
        let mut failed = false;
        for (line, active) in [(OutputLine::Alarm, faulted), (OutputLine::Ready, !faulted)] {
            match self.gpio.set(line, active) {
                Ok(()) if line == OutputLine::Alarm => self.metrics.outputs_written(Some(active), None),
                Ok(()) => self.metrics.outputs_written(None, Some(active)),
                Err(e) => {
                    self.metrics.inc(&self.metrics.output_write_errors);
                    if !self.status_stale {
                        log::error!("{line} output cannot be written (trying again every {STATUS_RETRY:?}): {e}");
                    }
                    failed = true;
                }
            }
        }
        if failed {
            self.events.push(Reverse((Instant::now() + STATUS_RETRY, Event::StatusRetry)));
        } else if self.status_stale {
            log::info!("alarm and ready outputs written again");
        }
        self.status_stale = failed;
    }

    /// Every output to its safe value at the end of the run.
    pub(super) fn all_safe(&mut self) {
        match self.gpio.all_safe() {
            Ok(()) => self.metrics.outputs_written(Some(false), Some(false)),
            Err(e) => log::error!("cannot set outputs safe: {e}"),
        }
    }

    /// Writes one output; a failed write is an actuator fault (alarm) until the line is written again.
    pub(super) fn write(&mut self, line: OutputLine, active: bool) -> bool {
        match self.gpio.set(line, active) {
            Ok(()) => {
                if self.failed_lines.remove(&line) && self.failed_lines.is_empty() {
                    log::info!("{line} output written again; actuator fault cleared");
                    self.set_fault(FaultKind::Actuator, false);
                }
                true
            }
            Err(e) => {
                self.metrics.inc(&self.metrics.output_write_errors);
                if self.failed_lines.insert(line) {
                    log::error!("{line} output cannot be written, alarm on: {e}");
                }
                self.set_fault(FaultKind::Actuator, true);
                false
            }
        }
    }
}
