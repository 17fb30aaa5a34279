//! `cellgate gpio pulse CHIP LINE MS`: drive one output for a wiring check (a solenoid clicks, a lamp
//! lights), then release it inactive.

use std::time::Duration;

use cellgate::gpio_chip::{LineRef, OpenChip};
use gpiod::{Active, Options};

use super::CliError;

pub fn pulse(chip: &str, line: &LineRef, ms: u64, active_low: bool) -> Result<(), CliError> {
    let c = OpenChip::open(chip)?;
    let offset = c.offset(line)?;
    c.check_free(offset, line)?;
    let opts = Options::output([offset])
        .consumer("cellgate-pulse")
        .active(if active_low { Active::Low } else { Active::High })
        .values([false]);
    let lines = c.chip.request_lines(opts).map_err(|e| c.request_error(offset, line, e))?;
    let set =
        |v: bool| lines.set_values([v]).map_err(|source| CliError::GpioSet { chip: c.describe(), offset, source });
    set(true)?;
    std::thread::sleep(Duration::from_millis(ms));
    set(false)?;
    println!("pulsed {} line {offset} for {ms} ms", c.describe());
    Ok(())
}
