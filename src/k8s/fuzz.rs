//! Fuzz body for the Kubernetes layer: arbitrary bytes as a stored value (and as a key).

/// Classifies, unwraps and reads the metadata of `data`, then decodes it in full and writes
/// it as YAML; decodes `data` as the raw protobuf of a few deep kinds; and reads `data` as
/// JSON text for the YAML writer. Never panics.
pub fn fuzz_k8s_value(data: &[u8]) {
    let o = super::object::describe(data, data, super::DEFAULT_PREFIX);
    std::hint::black_box(serde_json::to_vec(&o).ok());
    std::hint::black_box(super::object::decode_object(data, &super::render::View::STORED).ok());
    if let Ok(json) = super::object::decode_object_json(data, &super::render::View::STORED) {
        std::hint::black_box(super::yaml::json_to_yaml(&json).ok());
    }
    if let Ok(text) = std::str::from_utf8(data) {
        std::hint::black_box(super::yaml::json_to_yaml(text).ok());
    }
    for (v, k) in [
        ("v1", "Pod"),
        ("apps/v1", "Deployment"),
        ("v1", "WatchEvent"),
    ] {
        std::hint::black_box(
            super::render::render_object(v, k, data, &super::render::View::STORED).ok(),
        );
    }
}
