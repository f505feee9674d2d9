//! Rendering that depends on the Kubernetes release (the per-release schema facts), and
//! apiextensions' types whose JSON is not their fields (JSON, JSONSchemaPropsOr*), on
//! protobuf built here field by field.

use reshift::k8s::render::{View, render_message, render_object_json};
use reshift::k8s::schema::{self, FIRST_MINOR, LAST_MINOR, Release};
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

/// A JSONSchemaProps of apiextensions.k8s.io/v1 rendered from its protobuf, as compact
/// JSON text in the order written.
fn schema_props(raw: &[u8]) -> String {
    let msg = schema::message("k8s.apiextensions.v1.JSONSchemaProps").expect("JSONSchemaProps");
    let v = render_message(msg, raw, &View::STORED).unwrap();
    serde_json::to_string(&v).unwrap()
}

/// A schema of one type, for nesting.
fn typed(t: &str) -> Vec<u8> {
    ld(5, t.as_bytes())
}

/// JSONSchemaPropsOrArray (`items`): the list of schemas when there is one, else the one
/// schema, else null.
#[test]
fn schema_or_array_writes_one_member() {
    let items = |body: Vec<u8>| schema_props(&ld(24, &body));
    assert_eq!(
        items(ld(1, &typed("string"))),
        r#"{"items":{"type":"string"}}"#
    );
    assert_eq!(
        items(cat(&[ld(2, &typed("string")), ld(2, &typed("integer"))])),
        r#"{"items":[{"type":"string"},{"type":"integer"}]}"#
    );
    // Both set: the list wins.
    assert_eq!(
        items(cat(&[ld(1, &typed("object")), ld(2, &[])])),
        r#"{"items":[{}]}"#
    );
    assert_eq!(items(vec![]), r#"{"items":null}"#);
    assert_eq!(items(ld(1, &[])), r#"{"items":{}}"#);
}

/// JSONSchemaPropsOrBool (`additionalProperties`, `additionalItems`): the schema when there
/// is one, else the bool.
#[test]
fn schema_or_bool_writes_one_member() {
    let extra = |body: Vec<u8>| schema_props(&ld(30, &body));
    assert_eq!(extra(int(1, 1)), r#"{"additionalProperties":true}"#);
    assert_eq!(extra(vec![]), r#"{"additionalProperties":false}"#);
    assert_eq!(
        extra(cat(&[int(1, 0), ld(2, &typed("string"))])),
        r#"{"additionalProperties":{"type":"string"}}"#
    );
    assert_eq!(
        schema_props(&ld(33, &ld(2, &[]))),
        r#"{"additionalItems":{}}"#
    );
}

/// JSONSchemaPropsOrStringArray (values of `dependencies`): the strings when there are any,
/// else the schema, else null.
#[test]
fn schema_or_string_array_writes_one_member() {
    let deps = schema_props(&cat(&[
        entry(32, "a", &cat(&[ld(2, b"x"), ld(2, b"y")])),
        entry(32, "b", &ld(1, &typed("string"))),
        entry(32, "c", &[]),
        entry(32, "d", &cat(&[ld(1, &typed("string")), ld(2, b"")])),
    ]));
    assert_eq!(
        deps,
        r#"{"dependencies":{"a":["x","y"],"b":{"type":"string"},"c":null,"d":[""]}}"#
    );
}

/// apiextensions' JSON (`default`, `example`, `enum`) is its raw JSON, compacted, and null
/// when empty; JSONSchemaProps' names that are not Go identifiers come out as tagged.
#[test]
fn schema_json_values_and_names() {
    let got = schema_props(&cat(&[
        ld(2, b"http://json-schema.org/draft-04/schema#"),
        ld(3, b"#/definitions/x"),
        ld(8, &ld(1, b"{ \"a\": [1, 2] }")),
        ld(20, &ld(1, b"\"on\"")),
        ld(20, &[]),
        ld(36, &[]),
        int(38, 1),
        ld(42, b"map"),
    ]));
    assert_eq!(
        got,
        concat!(
            r##"{"$schema":"http://json-schema.org/draft-04/schema#","$ref":"#/definitions/x","##,
            r#""default":{"a":[1,2]},"enum":["on",null],"example":null,"#,
            r#""x-kubernetes-preserve-unknown-fields":true,"x-kubernetes-list-type":"map"}"#
        )
    );
}
