//! Kubernetes' own round-trip fixtures (../shared/k8s-api-testdata): each `.pb` is what
//! the apiserver stores; its envelope and ObjectMeta must equal the `.json` beside it, and
//! the whole object, rendered as the release that wrote it, must be that file byte for byte.

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

/// The newest release's view (HEAD's fixtures were written by it).
const NEWEST: reshift::k8s::render::View = reshift::k8s::render::View::STORED;

/// Renders a fixture's envelope in full, as compact JSON.
fn render_fixture(
    pb: &std::path::Path,
    view: &reshift::k8s::render::View,
) -> Result<String, String> {
    use reshift::k8s::render::render_object_json;
    let bytes = std::fs::read(pb).unwrap();
    let Ok(StoredValue::Protobuf(env)) = classify(&bytes) else {
        return Err("not an envelope".into());
    };
    let (mut api_version, mut kind) = (
        std::str::from_utf8(env.api_version).unwrap().to_string(),
        std::str::from_utf8(env.kind).unwrap().to_string(),
    );
    if kind.is_empty() {
        // A type without TypeMeta (WatchEvent): the envelope is silent, the file name
        // (<group>.<version>.<Kind>[.after_roundtrip]) says what it is.
        let stem = pb.file_stem().unwrap().to_string_lossy();
        let stem = stem.trim_end_matches(".after_roundtrip");
        let mut parts = stem.rsplitn(3, '.');
        kind = parts.next().unwrap().to_string();
        let version = parts.next().unwrap();
        let group = parts.next().unwrap();
        api_version = if group == "core" {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
    }
    render_object_json(&api_version, &kind, env.raw, view).map_err(|e| e.to_string())
}

/// Where two texts first differ, with some context of each.
fn first_difference(got: &str, want: &str) -> String {
    let at = got
        .bytes()
        .zip(want.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    // 60 bytes either side, widened to whole characters.
    let around = |s: &str| {
        let mut from = at.saturating_sub(60).min(s.len());
        while !s.is_char_boundary(from) {
            from -= 1;
        }
        let mut to = (at + 60).min(s.len());
        while !s.is_char_boundary(to) {
            to += 1;
        }
        s[from..to].to_string()
    };
    format!(
        "byte {at}:\n    ours:   ...{:?}\n    theirs: ...{:?}",
        around(got),
        around(want)
    )
}

/// Every fixture, rendered in full from its protobuf by the release that wrote it and
/// indented as Go's MarshalIndent does, is byte for byte its `.json` file (which ends
/// without a newline): field order, omitempty/omitzero and pointers of that release, Go's
/// escaping and number formats.
///
/// An older release's directory also holds `X.after_roundtrip.{pb,json}` for objects the
/// newest release reads differently (Kubernetes' round-trip test writes them): the old
/// object decoded and encoded again by HEAD's types, in protobuf and in JSON; a `.pb`
/// without a `.json` beside it means HEAD's JSON of the object is the old `X.json`
/// unchanged. Those are rendered as the newest release (1.37, HEAD) and compared byte for
/// byte too: the newest release gains the struct fields added since (as zero values, for
/// example CSINode's `status: {}` when reading a 1.33 CSINode). An older object without
/// such files is one the newest release reads unchanged, so it is also rendered as the
/// newest release and compared with its own `X.json`. (The old `X.pb` of an object with
/// `after_roundtrip` files is not compared as the newest release: where it holds a field
/// HEAD removed, HEAD's round trip drops it, while reshift shows what the wire has.)
#[test]
fn every_fixture_renders_to_exactly_its_json() {
    let mut failures = Vec::new();
    let mut checked = std::collections::BTreeMap::new();
    for rel in releases() {
        let name = rel.file_name().unwrap().to_string_lossy().into_owned();
        for pb in pb_files(&rel) {
            let stem = pb.file_stem().unwrap().to_string_lossy().into_owned();
            // (view, expected JSON) pairs for this .pb
            let mut cases = Vec::new();
            match stem.strip_suffix(".after_roundtrip") {
                None => {
                    cases.push((view_of(&rel), pb.with_extension("json")));
                    let after = rel.join(format!("{stem}.after_roundtrip.pb"));
                    if view_of(&rel) != NEWEST && !after.exists() {
                        cases.push((NEWEST, pb.with_extension("json")));
                    }
                }
                Some(base) => cases.push((
                    NEWEST,
                    Some(pb.with_extension("json"))
                        .filter(|p| p.exists())
                        .unwrap_or_else(|| rel.join(format!("{base}.json"))),
                )),
            }
            for (view, json_path) in cases {
                let want = std::fs::read_to_string(&json_path).unwrap();
                *checked
                    .entry(format!("{name} as {}", view.release))
                    .or_insert(0) += 1;
                match render_fixture(&pb, &view) {
                    Err(e) => failures.push(format!("{name}/{stem}: {e}")),
                    Ok(compact) => {
                        let got = reshift::k8s::gojson::indent(&compact);
                        if got != want {
                            failures.push(format!(
                                "{name}/{stem} as {}: {}",
                                view.release,
                                first_difference(&got, &want)
                            ));
                        }
                    }
                }
            }
        }
    }
    eprintln!("fixtures rendered byte for byte: {checked:?}");
    assert!(checked.values().all(|&n| n > 150), "{checked:?}");
    assert!(
        failures.is_empty(),
        "{} fixtures differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
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

/// `describe_kind` (what inspect counts with) skips the metadata's strings but must call
/// the same values undecodable as `describe`: every fixture, and every fixture with its
/// ObjectMeta cut short or one of its bytes changed, gives the same answer both ways.
#[test]
fn counting_kinds_finds_the_same_damage_as_decoding_metadata() {
    use reshift::k8s::object::{describe, describe_kind};
    let (mut compared, mut damaged) = (0usize, 0usize);
    for rel in releases() {
        for pb in pb_files(&rel) {
            let bytes = std::fs::read(&pb).unwrap();
            let mut variants = vec![bytes.clone()];
            // The ObjectMeta starts soon after the envelope's header: damage the first
            // bytes of the object, where its length prefixes and nested entries are.
            for at in (0..bytes.len().min(400)).step_by(3) {
                variants.push(bytes[..at].to_vec());
                let mut v = bytes.clone();
                v[at] ^= 0x85;
                variants.push(v);
            }
            for v in &variants {
                let key = b"/registry/pods/ns/name";
                let (full, kind) = (
                    describe(key, v, "/registry"),
                    describe_kind(key, v, "/registry"),
                );
                assert_eq!(
                    full.error,
                    kind.error,
                    "{}: {} bytes",
                    pb.display(),
                    v.len()
                );
                assert_eq!(
                    (
                        full.encoding,
                        &full.api_version,
                        &full.kind,
                        full.value_bytes
                    ),
                    (
                        kind.encoding,
                        &kind.api_version,
                        &kind.kind,
                        kind.value_bytes
                    )
                );
                assert!(kind.metadata.is_none());
                compared += 1;
                damaged += usize::from(full.error.is_some());
            }
        }
    }
    assert!(
        compared > 10_000 && damaged > 1_000,
        "{compared} compared, {damaged} damaged"
    );
}

/// Export builds each object's YAML document straight from its protobuf. For every fixture
/// of every release, as that release and as the newest serve it, the built document
/// (stripped with no owner exported and with its owners exported) prints what the
/// document read from the object's served text prints; it is never built where that text
/// does not render, is refused or is read back changed; and nearly every fixture is built.
#[test]
fn export_documents_built_from_protobuf_print_what_their_text_prints() {
    use reshift::k8s::export::{from_stored, read_document, strip};
    use std::collections::HashSet;
    let (mut built, mut declined, mut total) = (0, 0, 0);
    let mut failures = Vec::new();
    for rel in releases() {
        for pb in pb_files(&rel) {
            let bytes = std::fs::read(&pb).unwrap();
            let Ok(StoredValue::Protobuf(env)) = classify(&bytes) else {
                continue;
            };
            if env.kind.is_empty() {
                continue;
            }
            for view in [view_of(&rel), NEWEST] {
                total += 1;
                let text = render_fixture(&pb, &view).ok();
                let owners: HashSet<String> = text
                    .as_deref()
                    .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
                    .and_then(|v| v["metadata"]["ownerReferences"].as_array().cloned())
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|r| r["uid"].as_str().map(str::to_string))
                    .collect();
                for uids in [HashSet::new(), owners] {
                    let print = |d: &mut reshift::k8s::yaml::Document<'_>| {
                        strip(d, &uids);
                        let mut y = String::new();
                        d.write(&mut y);
                        y
                    };
                    let from_text = text
                        .as_deref()
                        .and_then(|t| read_document(t).ok())
                        .filter(|d| !d.folded())
                        .map(|mut d| print(&mut d));
                    let from_pb = from_stored(b"", &bytes, &view, None, print);
                    match (&from_pb, &from_text) {
                        (Some(a), Some(b)) if a == b => built += 1,
                        (None, _) => declined += 1,
                        (Some(a), b) => failures.push(format!(
                            "{} ({:?}): built {} bytes, text gives {}",
                            pb.display(),
                            view.release.minor(),
                            a.len(),
                            b.as_ref()
                                .map_or("nothing".to_string(), |b| first_difference(a, b))
                        )),
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        built * 10 >= (built + declined) * 9,
        "only {built} of {} documents built ({total} fixture views)",
        built + declined
    );
    eprintln!("{built} documents built as their text reads; {declined} left to the text");
}

/// `reshift diff` compares an object key's two sides as YAML documents built straight from
/// their protobuf where both build, and as trees read from their served text otherwise.
/// Over pairs of every fixture as two releases store it, and of every fixture with itself
/// at another revision (differing only in noise), both ways give the same answer — the
/// same or not, and the unified diff (with context enough to hold both whole texts, and
/// with the little context that lets the texts be cut after the last change) — counting
/// and printing, with noise set aside and with all fields, served as the newer release
/// and as the newest; and most pairs build.
#[test]
fn diff_of_built_documents_is_diff_of_served_trees() {
    use reshift::etcd::{KeyValueRef, RevRecord, Revision, diff::Pair};
    use reshift::k8s::diff::{Detail, Options, compare};
    use reshift::k8s::filter::ObjectFilter;
    let key: &[u8] = b"/registry/fixtures/default/one";
    let encode = |value: &[u8], rev: i64| {
        KeyValueRef {
            key,
            create_revision: 2,
            mod_revision: rev,
            version: rev - 1,
            value,
            lease: 0,
        }
        .encode()
    };
    let rels = releases();
    let (mut pairs, mut built, mut differ) = (0, 0, 0);
    let mut failures = Vec::new();
    for (i, old_rel) in rels.iter().enumerate() {
        for new_rel in &rels[i..] {
            for pb in pb_files(old_rel) {
                let other = new_rel.join(pb.file_name().unwrap());
                let Ok(new_bytes) = std::fs::read(&other) else {
                    continue;
                };
                let old_bytes = std::fs::read(&pb).unwrap();
                let Ok(StoredValue::Protobuf(env)) = classify(&old_bytes) else {
                    continue;
                };
                if env.kind.is_empty() {
                    continue;
                }
                let (old_kv, new_kv) = (encode(&old_bytes, 5), encode(&new_bytes, 9));
                let record = |kv, main| RevRecord {
                    rev: Revision { main, sub: 0 },
                    tombstone: false,
                    key,
                    kv,
                };
                let pair = Pair {
                    key,
                    old: Some(record(old_kv.as_slice(), 5)),
                    new: Some(record(new_kv.as_slice(), 9)),
                };
                pairs += 1;
                let view = view_of(new_rel);
                let builds = |b: &[u8]| {
                    reshift::k8s::object::with_stored_doc(key, b, &view, None, &[], |_| ())
                        .is_some()
                };
                built += usize::from(builds(&old_bytes) && builds(&new_bytes));
                // With context enough for every line, the unified diff holds both whole texts.
                let details = [
                    Detail::Counts,
                    Detail::Text(1 << 20),
                    Detail::Text(0),
                    Detail::Text(3),
                ];
                for release in [view.release, NEWEST.release] {
                    for detail in details {
                        for all_fields in [false, true] {
                            let o = |trees_only| Options {
                                prefix: "/registry/".into(),
                                release,
                                all_fields,
                                filter: ObjectFilter::default(),
                                dec: None,
                                detail,
                                trees_only,
                            };
                            let (got, want) = (compare(&pair, &o(false)), compare(&pair, &o(true)));
                            differ += usize::from(want.is_some());
                            if format!("{got:?}") != format!("{want:?}") {
                                failures.push(format!(
                                    "{} -> {} ({detail:?}, all fields {all_fields}): built {}, trees {}",
                                    pb.display(),
                                    other.display(),
                                    got.map_or("nothing".into(), |d| format!("{:?}", d.compared)),
                                    want.map_or("nothing".into(), |d| format!("{:?}", d.compared)),
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        differ > 0 && pairs > 500,
        "{pairs} pairs, {differ} differences"
    );
    assert!(
        built * 10 >= pairs * 9,
        "only {built} of {pairs} pairs build on both sides"
    );
    eprintln!(
        "{pairs} pairs ({built} built on both sides), {differ} differences, as the trees give them"
    );
}
