//! The GPIO character device (uAPI v2, through `gpiod`): chips found by path, name or label, lines by
//! offset or by name, and what a technician needs to see of them. Used by the output backend, the
//! photo-eye trigger and the `devices`/`gpio` tools, so all name lines the same way.

use std::fmt;
use std::path::{Path, PathBuf};

use gpiod::{Chip, Direction};
use serde::de::{self, Deserializer, Visitor};

/// A line as the config names it: its offset on the chip, or the name the board's device tree gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineRef {
    Offset(u32),
    Name(String),
}

impl fmt::Display for LineRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineRef::Offset(o) => write!(f, "{o}"),
            LineRef::Name(n) => write!(f, "'{n}'"),
        }
    }
}

impl std::str::FromStr for LineRef {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(s.parse::<u32>().map(LineRef::Offset).unwrap_or_else(|_| LineRef::Name(s.to_string())))
    }
}

impl<'de> serde::Deserialize<'de> for LineRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = LineRef;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a line offset (number) or a line name (string)")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<LineRef, E> {
                u32::try_from(v).map(LineRef::Offset).map_err(|_| E::custom(format!("line offset {v} is too large")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<LineRef, E> {
                Err(E::custom(format!("line offset {v} is negative")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LineRef, E> {
                if v.is_empty() {
                    return Err(E::custom("line name is empty"));
                }
                Ok(LineRef::Name(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChipError {
    #[error("GPIO chip '{spec}' not found (chips here: {available})")]
    NotFound { spec: String, available: String },
    #[error("GPIO chip {chip}: {reason}")]
    Chip { chip: String, reason: String },
    #[error("GPIO chip {chip}: no line {line} (the chip has {count} lines{names})")]
    NoLine { chip: String, line: String, count: u32, names: String },
    #[error("GPIO chip {chip} line {line}: in use by '{consumer}'")]
    Busy { chip: String, line: String, consumer: String },
}

/// An open chip and how to name it in messages.
pub struct OpenChip {
    pub chip: Chip,
    pub path: PathBuf,
}

impl OpenChip {
    /// Opens a chip by device path (`/dev/gpiochip2`), name (`gpiochip2`) or label (`tegra234-gpio`).
    pub fn open(spec: &str) -> Result<Self, ChipError> {
        let direct = Path::new(spec);
        if spec.starts_with('/') {
            return Chip::new(direct)
                .map(|chip| OpenChip { chip, path: direct.to_path_buf() })
                .map_err(|e| ChipError::Chip { chip: spec.into(), reason: e.to_string() });
        }
        let mut seen = Vec::new();
        for path in Chip::list_devices().unwrap_or_default() {
            let Ok(chip) = Chip::new(&path) else { continue };
            if chip.name() == spec || chip.label() == spec {
                return Ok(OpenChip { chip, path });
            }
            seen.push(format!("{} [{}]", chip.name(), chip.label()));
        }
        seen.sort();
        let available = if seen.is_empty() { "none".to_string() } else { seen.join(", ") };
        Err(ChipError::NotFound { spec: spec.into(), available })
    }

    pub fn describe(&self) -> String {
        format!("{} [{}]", self.chip.name(), self.chip.label())
    }

    /// The offset of a line; a name must match exactly one line of the chip.
    pub fn offset(&self, line: &LineRef) -> Result<u32, ChipError> {
        let count = self.chip.num_lines();
        let no_line = |names: String| ChipError::NoLine { chip: self.describe(), line: line.to_string(), count, names };
        match line {
            LineRef::Offset(o) if *o < count => Ok(*o),
            LineRef::Offset(_) => Err(no_line(String::new())),
            LineRef::Name(n) => {
                let mut named = Vec::new();
                for o in 0..count {
                    if let Ok(info) = self.chip.line_info(o) {
                        if info.name == *n {
                            return Ok(o);
                        }
                        if !info.name.is_empty() {
                            named.push(info.name);
                        }
                    }
                }
                let names = if named.is_empty() { String::new() } else { format!("; named: {}", named.join(", ")) };
                Err(no_line(names))
            }
        }
    }

    /// Refuses a line another consumer holds, naming it: the kernel's own EBUSY does not say who.
    pub fn check_free(&self, offset: u32, line: &LineRef) -> Result<(), ChipError> {
        match self.chip.line_info(offset) {
            Ok(info) if info.used => Err(ChipError::Busy {
                chip: self.describe(),
                line: line_label(line, offset),
                consumer: if info.consumer.is_empty() { "the kernel".into() } else { info.consumer },
            }),
            Ok(_) => Ok(()),
            Err(e) => Err(ChipError::Chip { chip: self.describe(), reason: format!("line {offset}: {e}") }),
        }
    }

    /// A request's error, with the busy case told apart (a race with another consumer).
    pub fn request_error(&self, offset: u32, line: &LineRef, e: std::io::Error) -> ChipError {
        if e.raw_os_error() == Some(nix::libc::EBUSY) {
            if let Err(busy) = self.check_free(offset, line) {
                return busy;
            }
        }
        ChipError::Chip { chip: self.describe(), reason: format!("line {}: {e}", line_label(line, offset)) }
    }
}

fn line_label(line: &LineRef, offset: u32) -> String {
    match line {
        LineRef::Offset(_) => offset.to_string(),
        LineRef::Name(n) => format!("{offset} '{n}'"),
    }
}

/// One line as `cellgate devices` shows it.
#[derive(Debug, serde::Serialize)]
pub struct LineReport {
    pub offset: u32,
    pub name: String,
    pub consumer: String,
    pub direction: &'static str,
    pub used: bool,
    /// What the kernel reports beyond the defaults, spelt as in the config: `active_low`, `pull_up`,
    /// `pull_down`, `bias_disabled`, `open_drain`, `open_source`, `edge_rising`/`_falling`/`_both`.
    pub flags: Vec<&'static str>,
}

#[derive(Debug, serde::Serialize)]
pub struct ChipReport {
    pub path: PathBuf,
    pub name: String,
    pub label: String,
    pub lines: Vec<LineReport>,
}

/// Every GPIO chip of the machine with its lines.
pub fn list() -> Vec<ChipReport> {
    let mut out = Vec::new();
    let mut paths = Chip::list_devices().unwrap_or_default();
    paths.sort();
    for path in paths {
        let Ok(chip) = Chip::new(&path) else { continue };
        let lines = (0..chip.num_lines())
            .filter_map(|o| chip.line_info(o).ok().map(|i| (o, i)))
            .map(|(offset, i)| LineReport {
                flags: line_flags(&i),
                offset,
                name: i.name,
                consumer: i.consumer,
                direction: match i.direction {
                    Direction::Input => "input",
                    Direction::Output => "output",
                },
                used: i.used,
            })
            .collect();
        out.push(ChipReport { path, name: chip.name().into(), label: chip.label().into(), lines });
    }
    out
}

fn line_flags(i: &gpiod::LineInfo) -> Vec<&'static str> {
    let mut f = Vec::new();
    if i.active == gpiod::Active::Low {
        f.push("active_low");
    }
    // The uAPI reports no bias flag for "as the board set it"; gpiod reads that as Disable, so only
    // a pull is shown.
    match i.bias {
        gpiod::Bias::PullUp => f.push("pull_up"),
        gpiod::Bias::PullDown => f.push("pull_down"),
        gpiod::Bias::Disable => {}
    }
    match i.drive {
        gpiod::Drive::OpenDrain => f.push("open_drain"),
        gpiod::Drive::OpenSource => f.push("open_source"),
        gpiod::Drive::PushPull => {}
    }
    match i.edge {
        gpiod::EdgeDetect::Rising => f.push("edge_rising"),
        gpiod::EdgeDetect::Falling => f.push("edge_falling"),
        gpiod::EdgeDetect::Both => f.push("edge_both"),
        gpiod::EdgeDetect::Disable => {}
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_named_by_offset_or_name() {
        let r: Vec<LineRef> = serde_json::from_str(r#"[3, "reject0"]"#).unwrap();
        assert_eq!(r, vec![LineRef::Offset(3), LineRef::Name("reject0".into())]);
        let e = serde_json::from_str::<LineRef>("-1").unwrap_err().to_string();
        assert!(e.contains("negative"), "{e}");
        let e = serde_json::from_str::<LineRef>("true").unwrap_err().to_string();
        assert!(e.contains("line offset (number) or a line name"), "{e}");
        assert_eq!("7".parse::<LineRef>().unwrap(), LineRef::Offset(7));
    }

    #[test]
    fn a_missing_chip_lists_what_is_there() {
        let e = OpenChip::open("no-such-chip").err().unwrap().to_string();
        assert!(e.contains("'no-such-chip' not found"), "{e}");
    }
}
