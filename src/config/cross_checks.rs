//! The checks that span sections: each section checks itself (in its component's `config.rs`); these
//! check one section against another.

use crate::key_problem::{bad, KeyProblem};
use crate::sinks::gpio::GpioConfig;
use crate::trigger::TriggerConfig;

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
