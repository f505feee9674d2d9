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

/// The `.pb` fixtures of one release, in name order.
fn pb_files(rel: &std::path::Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(rel)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pb"))
        .collect();
    files.sort();
    files
}

#[test]
fn envelope_and_metadata_of_every_fixture_match_its_json() {
    let mut failures = Vec::new();
    for rel in releases() {
        let (mut checked, mut no_meta) = (0, 0);
        for pb in pb_files(&rel) {
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

/// Writes every member of `top` over `base`, objects merged key by key.
fn overlay(base: &mut serde_json::Value, top: &serde_json::Value) {
    match (base, top) {
        (serde_json::Value::Object(b), serde_json::Value::Object(t)) => {
            for (k, v) in t {
                match b.get_mut(k) {
                    Some(old) => overlay(old, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, t) => *b = t.clone(),
    }
}

/// The first few paths at which two JSON values differ.
fn diff(a: &serde_json::Value, b: &serde_json::Value, path: &str, out: &mut Vec<String>) {
    use serde_json::Value as V;
    if out.len() >= 3 {
        return;
    }
    match (a, b) {
        (V::Object(x), V::Object(y)) => {
            for (k, v) in x {
                match y.get(k) {
                    Some(w) => diff(v, w, &format!("{path}.{k}"), out),
                    None => out.push(format!("{path}.{k}: only in ours ({v})")),
                }
            }
            for k in y.keys().filter(|k| !x.contains_key(*k)) {
                out.push(format!("{path}.{k}: missing ({})", y[k]));
            }
        }
        (V::Array(x), V::Array(y)) if x.len() == y.len() => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                diff(v, w, &format!("{path}[{i}]"), out);
            }
        }
        _ if a == b => {}
        _ => out.push(format!("{path}: ours {a}, theirs {b}")),
    }
}

/// The view that reproduces a fixture directory's release: `v1.33.0` is 1.33, HEAD the
/// newest; fixtures are objects as stored (no resourceVersion is added).
fn view_of(rel: &std::path::Path) -> reshift::k8s::render::View {
    use reshift::k8s::schema::Release;
    let name = rel.file_name().unwrap().to_string_lossy();
    reshift::k8s::render::View {
        release: if name == "HEAD" {
            Release::NEWEST
        } else {
            Release::parse(&name).unwrap()
        },
        resource_version: None,
    }
}

/// Every fixture, rendered in full from its protobuf, equals its JSON (compared as parsed
/// JSON); failures are listed by release and kind.
#[test]
fn every_fixture_kind_renders_to_exactly_its_json() {
    use reshift::k8s::render::render_object;
    let mut failures = Vec::new();
    let mut checked = 0;
    for rel in releases() {
        for pb in pb_files(&rel) {
            let kind = pb.file_stem().unwrap().to_string_lossy().into_owned();
            let json_path = pb.with_extension("json");
            if !json_path.exists() {
                continue; // an after_roundtrip .pb with no JSON of its own
            }
            let read = |p: &std::path::Path| -> serde_json::Value {
                serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
            };
            let want = read(&json_path);
            // An older release's object read by the newest release (`X.after_roundtrip.json`)
            // gains the struct fields added since (written as zero values), and loses the
            // fields removed since; our schemas know the fields of every release, so ours
            // is the release's JSON plus what the newest release adds.
            let after = rel.join(format!("{kind}.after_roundtrip.json"));
            let want_after = after.exists().then(|| {
                let mut merged = read(&after);
                overlay(&mut merged, &want);
                merged
            });
            let bytes = std::fs::read(&pb).unwrap();
            let Ok(StoredValue::Protobuf(env)) = classify(&bytes) else {
                failures.push(format!("{}/{kind}: not an envelope", rel.display()));
                continue;
            };
            let (mut api_version, mut obj_kind) = (
                std::str::from_utf8(env.api_version).unwrap().to_string(),
                std::str::from_utf8(env.kind).unwrap().to_string(),
            );
            if obj_kind.is_empty() {
                // A type without TypeMeta (WatchEvent): the envelope is silent, the file
                // name (<group>.<version>.<Kind>) says what it is.
                let mut parts = kind.rsplitn(3, '.');
                obj_kind = parts.next().unwrap().to_string();
                let version = parts.next().unwrap();
                let group = parts.next().unwrap();
                api_version = if group == "core" {
                    version.to_string()
                } else {
                    format!("{group}/{version}")
                };
            }
            let got = render_object(&api_version, &obj_kind, env.raw, &view_of(&rel));
            checked += 1;
            match got {
                Err(e) => failures.push(format!("{}/{kind}: {e}", rel.display())),
                Ok(got) if got != want && Some(&got) != want_after.as_ref() => {
                    let mut d = Vec::new();
                    diff(&got, &want, "", &mut d);
                    failures.push(format!("{}/{kind}: {}", rel.display(), d.join("; ")));
                }
                Ok(_) => {}
            }
        }
    }
    assert!(checked > 500, "only {checked} fixtures found");
    assert!(
        failures.is_empty(),
        "{} of {checked} fixtures differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Fields come out in the order Kubernetes writes them (Go field order), not just with the
/// same contents.
#[test]
fn rendered_fields_keep_kubernetes_order() {
    use reshift::k8s::render::render_object;
    let rel = releases()
        .into_iter()
        .find(|r| r.ends_with("HEAD"))
        .unwrap();
    let mut checked = 0;
    let mut kinds: Vec<String> = std::fs::read_dir(&rel)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pb"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .filter(|k| !k.ends_with("after_roundtrip") && !k.ends_with("WatchEvent"))
        .collect();
    kinds.sort();
    for kind in &kinds {
        let bytes = std::fs::read(rel.join(format!("{kind}.pb"))).unwrap();
        let text = std::fs::read(rel.join(format!("{kind}.json"))).unwrap();
        let want: serde_json::Value = serde_json::from_slice(&text).unwrap();
        let Ok(StoredValue::Protobuf(env)) = classify(&bytes) else {
            panic!("{kind}")
        };
        let got = render_object(
            std::str::from_utf8(env.api_version).unwrap(),
            std::str::from_utf8(env.kind).unwrap(),
            env.raw,
            &view_of(&rel),
        )
        .unwrap();
        // serde_json keeps insertion order, so equal text means equal order throughout.
        let (g, w) = (
            serde_json::to_string(&got).unwrap(),
            serde_json::to_string(&want).unwrap(),
        );
        if g != w {
            let at = g.bytes().zip(w.bytes()).take_while(|(a, b)| a == b).count();
            let from = at.saturating_sub(80);
            panic!(
                "{kind}: order or content differs at byte {at}:\n ours:   ...{}\n theirs: ...{}",
                &g[from..(at + 80).min(g.len())],
                &w[from..(at + 80).min(w.len())]
            );
        }
        checked += 1;
    }
    assert!(checked > 150, "{checked}");
}

/// A field the schema does not know (a newer release's, or damage) survives decoding: it is
/// shown by number, and everything known still renders as before.
#[test]
fn unknown_fields_survive_decoding() {
    use reshift::k8s::render::{UNKNOWN_FIELDS, render_object};
    let rel = releases()
        .into_iter()
        .find(|r| r.ends_with("HEAD"))
        .unwrap();
    let bytes = std::fs::read(rel.join("apps.v1.Deployment.pb")).unwrap();
    let want: serde_json::Value =
        serde_json::from_slice(&std::fs::read(rel.join("apps.v1.Deployment.json")).unwrap())
            .unwrap();
    let Ok(StoredValue::Protobuf(env)) = classify(&bytes) else {
        panic!()
    };
    let mut raw = env.raw.to_vec();
    // field 99 as a varint (tag 99<<3|0 = 792 = 0x98 0x06), value 42; field 100 as bytes "hi";
    // and field 2 (spec, a message) again but as a varint, which its schema cannot take.
    raw.extend_from_slice(&[0x98, 0x06, 42, 0xa2, 0x06, 2, b'h', b'i', 0x10, 5]);
    let got = render_object("apps/v1", "Deployment", &raw, &view_of(&rel)).unwrap();
    let unknown = &got[UNKNOWN_FIELDS];
    assert_eq!(unknown["99"], 42, "{unknown}");
    assert_eq!(unknown["100"], "aGk=", "{unknown}");
    assert_eq!(unknown["2"], 5, "{unknown}");
    let mut known = got.clone();
    known.as_object_mut().unwrap().remove(UNKNOWN_FIELDS);
    assert_eq!(known, want);
}
