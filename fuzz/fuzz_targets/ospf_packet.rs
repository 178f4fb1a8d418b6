#![no_main]
//! Placeholder until the decoder exists.
libfuzzer_sys::fuzz_target!(|_data: &[u8]| {});
