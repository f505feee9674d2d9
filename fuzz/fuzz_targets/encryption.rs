#![no_main]
// An encrypted value (etcd key, NUL, value) read with a config of every provider, and the
// bytes as an encryption config. The body is the library's.
libfuzzer_sys::fuzz_target!(|data: &[u8]| reshift::k8s::fuzz::fuzz_encrypted_value(data));
