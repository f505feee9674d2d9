#![no_main]
// A reshift snapshot file: header, trailer, index, chunks, extras. The body is the library's.
libfuzzer_sys::fuzz_target!(|data: &[u8]| reshift::snapshot::fuzz::fuzz_snapshot(data));
