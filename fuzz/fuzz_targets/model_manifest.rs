//! Model manifest JSON: parse, graph check, every task's contract, what the station builds from it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cellgate::fuzz_entry::model_manifest(data));
