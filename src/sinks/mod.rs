//! Where results go: GPIO outputs (through the reject scheduler), the results log, the NG archive.

pub mod annotate;
pub mod gpio;
pub mod line_file;
pub mod ng_archive;
pub mod reject_scheduler;
pub mod results_log;
