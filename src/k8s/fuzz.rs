//! Fuzz bodies for the Kubernetes layer: arbitrary bytes as a stored value (and as a key),
//! and as an encrypted value or an encryption config.

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

/// The config [`fuzz_encrypted_value`] reads values with: every provider, its KMS plugins
/// absent (no socket at their endpoints), so KMS values are parsed and then fail to connect.
pub const FUZZ_CONFIG: &str = "apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets, '*.apps']
    providers:
      - aescbc:
          keys:
            - {name: cbc, secret: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=}
      - aesgcm:
          keys:
            - {name: gcm, secret: AAECAwQFBgcICQoLDA0ODw==}
      - secretbox:
          keys:
            - {name: sb, secret: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=}
      - kms: {apiVersion: v2, name: kms2, endpoint: 'unix:///nonexistent/reshift-fuzz.sock', timeout: 1s}
      - kms: {name: kms1, endpoint: 'unix:///nonexistent/reshift-fuzz.sock', timeout: 1s}
      - identity: {}
";

/// Reads `data` as a stored value with [`FUZZ_CONFIG`] — split at its first NUL into the
/// etcd key and the value when it has one, and whole under a Secret's key — describes and
/// decodes it; then parses `data` as a config file. Never panics.
pub fn fuzz_encrypted_value(data: &[u8]) {
    use super::encryption::Decryptor;
    static DEC: std::sync::OnceLock<Decryptor> = std::sync::OnceLock::new();
    let d = DEC.get_or_init(|| {
        Decryptor::from_config(FUZZ_CONFIG.as_bytes(), "fuzz").expect("the fuzz config is valid")
    });
    let (key, value) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b""[..], data),
    };
    std::hint::black_box(d.decrypt(key, value).ok());
    std::hint::black_box(d.decrypt(b"/registry/secrets/ns/name", data).ok());
    let o = super::object::describe_with(key, value, super::DEFAULT_PREFIX, Some(d));
    std::hint::black_box(serde_json::to_vec(&o).ok());
    std::hint::black_box(
        super::object::decode_stored_json(key, value, &super::render::View::STORED, Some(d)).ok(),
    );
    std::hint::black_box(d.tally(&[(key, value)]));
    std::hint::black_box(Decryptor::from_config(data, "fuzz").ok());
}

#[cfg(test)]
mod tests {
    /// Mutations (bit flips, truncations, spliced prefixes) of values of every provider and
    /// of the config never panic.
    #[test]
    fn encrypted_value_mutations_never_panic() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/encryption");
        let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .collect();
        seeds.sort();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for seed in &seeds {
            super::fuzz_encrypted_value(seed);
            for _ in 0..300 {
                let mut v = seed.clone();
                match next() % 4 {
                    0 => {
                        let i = next() as usize % v.len();
                        v[i] ^= 1 << (next() % 8);
                    }
                    1 => v.truncate(next() as usize % v.len()),
                    2 => {
                        let i = next() as usize % v.len();
                        v.insert(i, next() as u8);
                    }
                    _ => {
                        let i = next() as usize % v.len();
                        v.splice(i..i, b"k8s:enc:".iter().copied());
                    }
                }
                super::fuzz_encrypted_value(&v);
            }
        }
    }
}
