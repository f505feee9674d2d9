#![no_main]
// bbolt meta, page and tree parsing: the body is the library's, also run by `cargo test`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| reshift::bbolt::fuzz::fuzz_db(data));
