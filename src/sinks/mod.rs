//! Where results go: GPIO outputs (through the reject scheduler), and the record sinks that get every
//! settled part (`record`: the trait; `results_log`, `ng_archive`, `echo`); `http`: the station page.

pub mod annotate;
pub mod echo;
pub mod gpio;
pub mod http;
pub mod line_file;
pub mod ng_archive;
pub mod record;
pub mod reject_scheduler;
pub mod results_log;
