//! `reshift decode` on custom resources stored as CBOR, written here in the shape the
//! apiserver writes them (self-described tag, byte-string keys sorted by their encoded
//! bytes, shortest integers and floats); nothing is started.

mod common;
use common::*;

/// A CBOR head with the shortest argument.
fn head(out: &mut Vec<u8>, major: u8, arg: u64) {
    let m = major << 5;
    if arg < 24 {
        out.push(m | arg as u8);
    } else if arg <= 0xff {
        out.extend([m | 24, arg as u8]);
    } else if arg <= 0xffff {
        out.push(m | 25);
        out.extend((arg as u16).to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend(arg.to_be_bytes());
    }
}

fn bytes(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    head(&mut out, 2, s.len() as u64);
    out.extend(s.as_bytes());
    out
}

/// A map of encoded entries, keys as byte strings in the encoder's order.
fn map(entries: Vec<(&str, Vec<u8>)>) -> Vec<u8> {
    let mut kv: Vec<(Vec<u8>, Vec<u8>)> = entries.into_iter().map(|(k, v)| (bytes(k), v)).collect();
    kv.sort();
    let mut out = Vec::new();
    head(&mut out, 5, kv.len() as u64);
    for (k, v) in kv {
        out.extend(k);
        out.extend(v);
    }
    out
}

fn int(i: i64) -> Vec<u8> {
    let mut out = Vec::new();
    if i >= 0 {
        head(&mut out, 0, i as u64);
    } else {
        head(&mut out, 1, !i as u64);
    }
    out
}

fn decode(value: &[u8], extra: &[&str]) -> (i32, Vec<u8>, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("value.bin");
    std::fs::write(&file, value).unwrap();
    let mut args = vec!["decode", file.to_str().unwrap()];
    args.extend(extra);
    run(&args)
}

fn widget() -> Vec<u8> {
    let mut v = vec![0xd9, 0xd9, 0xf7];
    v.extend(map(vec![
        ("apiVersion", bytes("example.com/v1")),
        ("kind", bytes("Widget")),
        (
            "metadata",
            map(vec![
                ("name", bytes("w1")),
                ("namespace", bytes("default")),
                ("labels", map(vec![("tier", bytes("web"))])),
                ("generation", int(2)),
            ]),
        ),
        (
            "spec",
            map(vec![
                ("replicas", int(-3)),
                ("big", int(i64::MAX)),
                ("ratio", vec![0xf9, 0x3e, 0x00]), // 1.5 as a half float
                ("whole", vec![0xf9, 0x3c, 0x00]), // 1.0
                ("on", vec![0xf5]),
                ("none", vec![0xf6]),
                ("note", bytes("<&>")),
                ("items", {
                    let mut a = Vec::new();
                    head(&mut a, 4, 2);
                    a.extend(bytes("a"));
                    a.extend(map(vec![]));
                    a
                }),
            ]),
        ),
    ]));
    v
}

#[test]
fn decode_reads_a_cbor_custom_resource() {
    let (code, out, err) = decode(&widget(), &[]);
    assert_eq!(code, 0, "{err}");
    let d: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        d,
        serde_json::json!({
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"generation": 2, "labels": {"tier": "web"}, "name": "w1", "namespace": "default"},
            "spec": {
                "big": i64::MAX, "items": ["a", {}], "none": null, "note": "<&>", "on": true,
                "ratio": 1.5, "replicas": -3, "whole": 1
            }
        })
    );
    let (code, out, _) = decode(&widget(), &["-o", "yaml"]);
    assert_eq!(code, 0);
    let y = String::from_utf8(out).unwrap();
    assert!(y.contains("kind: Widget") && y.contains("tier: web"), "{y}");
}

#[test]
fn decode_says_why_a_cbor_value_is_refused() {
    // A duplicate key: the apiserver refuses the whole object; decode describes it.
    let mut v = vec![0xd9, 0xd9, 0xf7, 0xa3];
    v.extend(bytes("kind"));
    v.extend(bytes("Widget"));
    v.extend(bytes("kind"));
    v.extend(bytes("Gadget"));
    v.extend(bytes("apiVersion"));
    v.extend(bytes("example.com/v1"));
    let (code, out, err) = decode(&v, &[]);
    assert_eq!(code, 0, "{err}");
    let d: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(d["encoding"], "cbor");
    assert_eq!(d["valueBytes"], v.len());
    let e = d["error"].as_str().unwrap();
    assert!(
        e.contains(r#"cbor: found duplicate map key "kind" at map element index 1"#),
        "{e}"
    );
}
