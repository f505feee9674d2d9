#![no_main]
// One raft entry payload as each entry type. The body is the library's.
libfuzzer_sys::fuzz_target!(|data: &[u8]| reshift::wal::fuzz::fuzz_raft_request(data));
