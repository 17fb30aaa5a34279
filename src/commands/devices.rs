//! `cellgate devices`: the cameras and GPIO chips a technician wires the station to, with what each
//! offers (formats, sizes, rates, controls; lines with their names, consumers and directions).

use cellgate::gpio_chip;
use cellgate::sources::v4l2::device as camera;

use super::CliError;

pub fn run(json: bool) -> Result<(), CliError> {
    let cameras = camera::list();
    let chips = gpio_chip::list();
    if json {
        let v = serde_json::json!({ "cameras": cameras, "gpio_chips": chips });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("cameras:{}", if cameras.is_empty() { " none" } else { "" });
    for c in &cameras {
        println!("  {}  {} ({}, {})", c.path.display(), c.card, c.driver, c.bus);
        for l in &c.links {
            println!("    also {}", l.display());
        }
        for f in &c.formats {
            println!("    {:<4} {}", f.fourcc, f.description);
            for s in &f.sizes {
                println!("         {s} fps");
            }
        }
        if !c.controls.is_empty() {
            println!("    controls:");
        }
        for k in &c.controls {
            let v = k.value.map(|v| v.to_string()).unwrap_or_else(|| "-".into());
            println!("      {:<32} {:<8} = {:<6} ({}..{}, default {})", k.name, k.kind, v, k.min, k.max, k.default);
        }
    }
    println!("GPIO chips:{}", if chips.is_empty() { " none" } else { "" });
    for c in &chips {
        println!("  {}  {} [{}], {} lines", c.path.display(), c.name, c.label, c.lines.len());
        for l in &c.lines {
            let name = if l.name.is_empty() { "-" } else { &l.name };
            let consumer = if l.used { format!("used by '{}'", l.consumer) } else { "free".into() };
            let flags = if l.flags.is_empty() { String::new() } else { format!("  [{}]", l.flags.join(", ")) };
            println!("    {:>3}  {:<20} {:<6}  {}{flags}", l.offset, name, l.direction, consumer);
        }
    }
    Ok(())
}
