//! cellgate: firmware of an AI inspection station on a lithium-battery production line.
//!
//! Data flows one way: trigger -> capture (`sources`) -> preprocess -> infer -> decide (`inspect`) ->
//! actuate + record (`sinks`). `station` wires these into threads from one validated `config`.

pub mod clock;
pub mod config;
pub mod control;
pub mod fuzz_entry;
pub mod gpio_chip;
pub mod inspect;
pub mod key_problem;
pub mod listener;
pub mod mailbox;
pub mod metrics;
pub mod model;
pub mod part;
pub mod runtime;
pub mod service;
pub mod signals;
pub mod sinks;
pub mod sources;
pub mod station;
#[cfg(test)]
pub mod test_log;
pub mod trigger;
