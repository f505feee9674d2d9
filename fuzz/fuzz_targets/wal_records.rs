#![no_main]
// A WAL segment: framing, CRC chain, raft log, entry payloads. The body is the library's.
libfuzzer_sys::fuzz_target!(|data: &[u8]| reshift::wal::fuzz::fuzz_wal_records(data));
