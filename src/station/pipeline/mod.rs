//! The station's steps as threads: capture (trigger + source + exposure check), infer (preprocess +
//! model + verdict), record (results log + NG archive). The actuate step is the reject scheduler in
//! `sinks`.

mod capture;
mod imagers;
mod infer;
mod record;
mod throttle;

use std::time::Duration;

pub use capture::Capture;
pub use imagers::Imagers;
pub use infer::{Infer, Refill};
pub use record::Recorder;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
