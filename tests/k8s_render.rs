//! Rendering that depends on the Kubernetes release (the per-release schema facts), on
//! protobuf built here field by field.

use reshift::k8s::render::{View, render_object_json};
use reshift::k8s::schema::{FIRST_MINOR, LAST_MINOR, Release};
use reshift::k8s::value::{StoredValue, classify};

/// A stored object as the given release shows it (no resourceVersion added).
fn view(minor: u32) -> View {
    View {
        release: Release::parse(&format!("1.{minor}")).unwrap(),
        resource_version: None,
    }
}

fn varint(mut x: u64, out: &mut Vec<u8>) {
    while x >= 0x80 {
        out.push(x as u8 | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

/// Field `num` as a varint.
fn int(num: u32, x: u64) -> Vec<u8> {
    let mut out = Vec::new();
    varint(u64::from(num) << 3, &mut out);
    varint(x, &mut out);
    out
}

/// Field `num` as length-delimited bytes (a string or a message).
fn ld(num: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    varint(u64::from(num) << 3 | 2, &mut out);
    varint(body.len() as u64, &mut out);
    out.extend_from_slice(body);
    out
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

/// A map entry field `num` of string key and value.
fn entry(num: u32, k: &str, v: &[u8]) -> Vec<u8> {
    ld(num, &cat(&[ld(1, k.as_bytes()), ld(2, v)]))
}

/// metav1.ObjectMeta.creationTimestamp is omitempty through 1.33, where a zero time is
/// written as null (Go never leaves out a struct under omitempty); apimachinery 0.34 made it
/// omitzero as well, so from 1.34 a zero time is left out. A pod template's metadata rarely
/// has one, so every Deployment shows the difference.
#[test]
fn zero_creation_timestamp_is_null_through_1_33_and_left_out_from_1_34() {
    // Go's zero time.Time on the wire: seconds -62135596800, as a 64-bit varint.
    let zero_time = ld(8, &int(1, (-62_135_596_800i64) as u64));
    let labels = entry(11, "app", b"web");
    let deployment = cat(&[
        ld(1, &ld(1, b"web")),
        ld(
            2,
            &ld(3, &ld(1, &cat(&[zero_time.clone(), labels.clone()]))),
        ),
    ]);
    for minor in FIRST_MINOR..=LAST_MINOR {
        let got = render_object_json("apps/v1", "Deployment", &deployment, &view(minor)).unwrap();
        let (meta, template) = if minor <= 33 {
            (
                r#""metadata":{"name":"web","creationTimestamp":null}"#,
                r#""template":{"metadata":{"creationTimestamp":null,"labels":{"app":"web"}}"#,
            )
        } else {
            (
                r#""metadata":{"name":"web"}"#,
                r#""template":{"metadata":{"labels":{"app":"web"}}"#,
            )
        };
        assert!(got.contains(meta), "1.{minor}: {got}");
        assert!(got.contains(template), "1.{minor}: {got}");
    }
    // A creation time that is not zero is written by every release.
    let set = cat(&[ld(1, b"web"), ld(8, &int(1, 1_700_000_000))]);
    for minor in FIRST_MINOR..=LAST_MINOR {
        let got = render_object_json("v1", "ConfigMap", &ld(1, &set), &view(minor)).unwrap();
        assert!(
            got.starts_with(
                r#"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"web","creationTimestamp":"2023-11-14T22:13:20Z"}"#
            ),
            "1.{minor}: {got}"
        );
    }
}

fn fixture(rel: &str, name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/k8s-api-testdata")
        .join(rel)
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// CSINode gained `status` in 1.37 (a struct without omitempty: written as `{}` when
/// unset). Older releases have no such field: an object without one renders without it,
/// while one whose wire has it shows it under any release (nothing on the wire is hidden).
#[test]
fn csinode_status_exists_from_1_37() {
    let render = |rel: &str, minor: u32| {
        let bytes = fixture(rel, "storage.k8s.io.v1.CSINode.pb");
        let Ok(StoredValue::Protobuf(env)) = classify(&bytes) else {
            panic!("not an envelope")
        };
        render_object_json("storage.k8s.io/v1", "CSINode", env.raw, &view(minor)).unwrap()
    };
    for minor in FIRST_MINOR..=LAST_MINOR {
        let got = render("v1.33.0", minor);
        if minor < 37 {
            assert!(!got.contains(r#""status""#), "1.{minor}: {got}");
            assert!(
                got.ends_with(r#""allocatable":{"count":1}}]}}"#),
                "1.{minor}"
            );
        } else {
            assert!(got.ends_with(r#"]},"status":{}}"#), "1.{minor}: {got}");
        }
        let got = render("HEAD", minor);
        assert!(
            got.contains(r#","status":{"storageHealth":[{"name":"nameValue""#),
            "1.{minor}: {got}"
        );
    }
}
