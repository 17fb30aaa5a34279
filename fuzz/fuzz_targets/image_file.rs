//! Image files (.png, .jpg) decoded as replay frames and recipe references are.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

static SCRATCH: OnceLock<PathBuf> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let dir = SCRATCH.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("cellgate-fuzz-image-{}", std::process::id()));
        if let Err(e) = std::fs::create_dir_all(&d) {
            panic!("{}: {e}", d.display());
        }
        d
    });
    cellgate::fuzz_entry::image_file(data, dir);
});
