//! Where results go: GPIO outputs (through the reject scheduler), and the record sinks that get every
//! settled part (`record`: the trait; `results_log`, `ng_archive`, `echo`); `http`: the station page; `mqtt`: the
//! fleet connection; `station_status`: what both say of the station.

pub mod annotate;
pub mod echo;
pub mod gpio;
pub mod http;
pub mod line_file;
pub mod mqtt;
pub mod ng_archive;
pub mod record;
pub mod reject_scheduler;
pub mod results_log;
pub mod station_status;
