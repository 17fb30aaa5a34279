//! Station config JSON: parse and validate, paths resolved in the demo folder (its model and references).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let base = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/demo"));
    cellgate::fuzz_entry::station_config(data, base);
});
