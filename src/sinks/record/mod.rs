//! Record sinks: where every settled part goes after its reject point (the results log, the NG archive,
//! the replay's echo on stdout, the station page's live feed, the MQTT fleet connection). The station's
//! recorder hands each part to every sink in turn, in settle order, and closes them at the end of the run.
//!
//! A sink owns its faults: it counts and logs them itself (in the metrics registry, live) and goes on, so
//! one sink's failure (a full disk under the results log, a closed stdout) never costs another sink a
//! record. A new sink is a folder in `src/sinks/` with its `impl RecordSink`, plus its key in
//! `RecordsConfig` and its line in `RecordsConfig::build`; `station/` does not change.

use std::path::PathBuf;

use crate::part::PartRecord;

mod config;

pub use config::{ArchiveConfig, RecordsConfig};

/// Gets every settled part, in the order the parts settle.
pub trait RecordSink: Send {
    /// A short name for logs.
    fn name(&self) -> &str;
    /// One settled part: its record, with (NG) the frame it was judged on and (electrode) the defects to
    /// draw.
    /// Failures are the sink's own to count and log; they never stop the other sinks. It must not wait
    /// on anything slow (a network peer): the record queue is bounded, and a recorder that falls behind
    /// holds up the scheduler that fires the reject pulses. A network sink hands parts to its own thread
    /// through a bounded queue that drops (and counts) when full.
    fn record(&mut self, part: &PartRecord);
    /// The run is over: make what was written durable and let go of it.
    fn close(&mut self) {}
}

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("records.results {path}: {source}")]
    ResultsLog { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Archive(#[from] crate::sinks::ng_archive::ArchiveError),
    /// The `records` section given to `build` fails its checks.
    #[error(transparent)]
    Config(#[from] crate::key_problem::KeyProblem),
}
