//! V4L2 buffers (YUYV, MJPEG, GREY, Y16, RGB24) of any size, stride and length through the converter.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cellgate::fuzz_entry::frame_convert(data));
