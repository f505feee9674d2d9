#![no_main]
// A stored value: encoding, envelope, metadata. The body is the library's.
libfuzzer_sys::fuzz_target!(|data: &[u8]| reshift::k8s::fuzz::fuzz_k8s_value(data));
