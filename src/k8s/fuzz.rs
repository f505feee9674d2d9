//! Fuzz body for the Kubernetes layer: arbitrary bytes as a stored value (and as a key).

/// Classifies, unwraps and reads the metadata of `data`; never panics.
pub fn fuzz_k8s_value(data: &[u8]) {
    let o = super::object::describe(data, data, super::DEFAULT_PREFIX);
    std::hint::black_box(serde_json::to_vec(&o).ok());
}
