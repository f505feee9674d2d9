//! Kubernetes' own round-trip fixtures (../shared/k8s-api-testdata): each `.pb` is what
//! the apiserver stores; its envelope and ObjectMeta must equal the `.json` beside it.

use reshift::k8s::meta::protobuf_meta;
use reshift::k8s::value::{StoredValue, classify};
use std::path::PathBuf;

fn releases() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/k8s-api-testdata");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (the fixtures live in ../shared beside the checkout)",
                root.display()
            )
        })
        .map(|e| e.unwrap().path())
        .collect();
    out.sort();
    assert!(out.len() >= 3, "HEAD, v1.33.0, v1.36.0 expected");
    out
}

#[test]
fn envelope_and_metadata_of_every_fixture_match_its_json() {
    let mut failures = Vec::new();
    for rel in releases() {
        let (mut checked, mut no_meta) = (0, 0);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&rel)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "pb"))
            .collect();
        files.sort();
        for pb in files {
            let kind = pb.file_stem().unwrap().to_string_lossy().into_owned();
            let bytes = std::fs::read(&pb).unwrap();
            // `X.after_roundtrip.pb` has no JSON of its own: it is X after a round trip.
            let json_path = Some(pb.with_extension("json"))
                .filter(|p| p.exists())
                .unwrap_or_else(|| {
                    rel.join(format!(
                        "{}.json",
                        kind.trim_end_matches(".after_roundtrip")
                    ))
                });
            let json: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
            let env = match classify(&bytes) {
                Ok(StoredValue::Protobuf(e)) => e,
                other => {
                    failures.push(format!(
                        "{}: {kind}: not an envelope: {other:?}",
                        rel.display()
                    ));
                    continue;
                }
            };
            if env.kind != json["kind"].as_str().unwrap_or("").as_bytes()
                || env.api_version != json["apiVersion"].as_str().unwrap_or("").as_bytes()
            {
                failures.push(format!("{kind}: envelope type differs from the JSON"));
            }
            // Lists carry ListMeta, and a few kinds no metadata at all: not stored objects.
            let md = json.get("metadata");
            if md.is_none()
                || kind.ends_with("List")
                || md.and_then(|m| m.get("continue")).is_some()
            {
                no_meta += 1;
                continue;
            }
            let mut want = md.unwrap().clone();
            let managed = want.as_object_mut().unwrap().remove("managedFields");
            match protobuf_meta(env.raw) {
                Ok(Some(m)) => {
                    let got = serde_json::to_value(&m).unwrap();
                    if got != want {
                        failures.push(format!(
                            "{}: {kind}:\n  got  {got}\n  want {want}",
                            rel.display()
                        ));
                    }
                    let n = managed
                        .as_ref()
                        .and_then(|v| v.as_array())
                        .map_or(0, Vec::len);
                    if m.managed_fields != n {
                        failures.push(format!(
                            "{kind}: {} managedFields, JSON has {n}",
                            m.managed_fields
                        ));
                    }
                }
                other => failures.push(format!("{kind}: no metadata decoded: {other:?}")),
            }
            checked += 1;
        }
        eprintln!(
            "{}: {checked} objects' metadata checked, {no_meta} without ObjectMeta",
            rel.display()
        );
        assert!(checked > 100);
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn truncated_envelopes_are_errors_not_panics() {
    let pb = releases()[0].join("core.v1.Pod.pb");
    let bytes = std::fs::read(pb).unwrap();
    let mut errors = 0;
    for cut in 0..bytes.len() {
        match classify(&bytes[..cut]) {
            Ok(StoredValue::Protobuf(e)) => {
                let _ = protobuf_meta(e.raw);
            }
            Ok(_) => {}
            Err(_) => errors += 1,
        }
    }
    assert!(
        errors > bytes.len() / 2,
        "most truncations land inside a field: {errors}"
    );
}
