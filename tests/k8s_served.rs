//! Objects byte for byte as the apiserver serves them, checked against
//! `../shared/k8s-served-dev`: a data dir whose objects the real Kubernetes codecs (v0.36.3)
//! stored — protobuf in every storage version, built-ins stored as JSON, custom resources,
//! hostile strings — with what the apiserver serves for every key (see its README). The set
//! is unpacked once per run under the target dir.

mod common;

use common::reshift;
use std::collections::HashMap;
use std::path::Path;

fn dev() -> &'static Path {
    common::served_dev()
}

fn rows() -> Vec<serde_json::Value> {
    std::fs::read_to_string(dev().join("expected.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn s<'a>(r: &'a serde_json::Value, k: &str) -> &'a str {
    r[k].as_str().unwrap_or("")
}

fn out(args: &[&str]) -> String {
    let o = reshift().args(args).output().unwrap();
    assert!(
        o.status.success(),
        "reshift {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// Every object `ls -o objects` writes, by key (lines are split on `\n` alone: served JSON
/// may hold U+0085 and other characters some line splitters break on).
fn objects(extra: &[&str]) -> HashMap<String, String> {
    let data = dev().join("data");
    let data = data.to_str().unwrap();
    let keys: Vec<String> = out(&["ls", data, "-o", "json"])
        .split('\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["key"].as_str().unwrap().to_string()
        })
        .collect();
    let config = dev().join("encryption-config.yaml");
    let mut args = vec![
        "ls",
        data,
        "-o",
        "objects",
        "--kube-version",
        "1.36",
        "--encryption-provider-config",
        config.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let lines: Vec<String> = out(&args).split('\n').map(str::to_string).collect();
    assert_eq!(lines.len(), keys.len() + 1, "one line per key");
    keys.into_iter().zip(lines).collect()
}

/// Keys whose value the apiserver encrypted at rest (read with the set's config).
fn encrypted(r: &serde_json::Value) -> bool {
    s(r, "encoding").starts_with("encrypted:") && s(r, "encoding") != "encrypted:identity"
}

fn check(want_field: &str, extra: &[&str]) {
    let got = objects(extra);
    let mut failures = Vec::new();
    let (mut checked, mut decrypted) = (0, 0);
    for r in rows() {
        let (key, want) = (s(&r, "key"), s(&r, want_field));
        if key.is_empty() || want.is_empty() {
            continue;
        }
        checked += 1;
        decrypted += usize::from(encrypted(&r));
        let g = got.get(key).map(String::as_str).unwrap_or("<missing>");
        if g != want {
            let at = g
                .bytes()
                .zip(want.bytes())
                .take_while(|(a, b)| a == b)
                .count();
            let ctx = |t: &str| {
                let mut from = at.saturating_sub(60).min(t.len());
                while !t.is_char_boundary(from) {
                    from -= 1;
                }
                let mut to = (at + 60).min(t.len());
                while !t.is_char_boundary(to) {
                    to += 1;
                }
                t[from..to].to_string()
            };
            failures.push(format!(
                "{key} ({} {}, {}) at byte {at}:\n  want …{}…\n  got  …{}…",
                s(&r, "set"),
                s(&r, "kind"),
                s(&r, "encoding"),
                ctx(want),
                ctx(g)
            ));
        }
    }
    assert!(checked > 850, "only {checked} keys checked");
    assert_eq!(
        decrypted, 16,
        "the encrypted Secrets, decrypted with the set's config"
    );
    assert!(
        failures.is_empty(),
        "{} of {checked} keys differ from what the apiserver serves:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// What a GET returns: compact JSON with `metadata.resourceVersion` = the mod revision.
#[test]
fn every_object_is_served_byte_for_byte() {
    check("served", &[]);
}

/// `--as-stored`: the same object without the resourceVersion the apiserver adds.
#[test]
fn as_stored_leaves_out_the_resource_version() {
    check("compact", &["--as-stored"]);
}

/// `get -o json` prints `?pretty=true`'s two-space MarshalIndent layout, with the
/// resourceVersion; checked on every 10th key (each is a process of its own).
#[test]
fn get_json_is_pretty_as_the_apiserver_writes_it() {
    let data = dev().join("data");
    let mut checked = 0;
    for r in rows().iter().step_by(10) {
        let (key, pretty) = (s(r, "key"), s(r, "pretty"));
        if key.is_empty() || pretty.is_empty() {
            continue;
        }
        let config = dev().join("encryption-config.yaml");
        let got = out(&[
            "get",
            data.to_str().unwrap(),
            key,
            "-o",
            "json",
            "--as-stored",
            "--kube-version",
            "1.36",
            "--encryption-provider-config",
            config.to_str().unwrap(),
        ]);
        assert_eq!(got, format!("{pretty}\n"), "{key}");
        checked += 1;
    }
    assert!(checked > 80, "{checked}");
}

/// A value the apiserver itself cannot decode (a number past float64, a MicroTime with
/// nanoseconds) is an error record, not an invented object; the other objects are served.
#[test]
fn what_the_apiserver_refuses_is_an_error() {
    let got = objects(&[]);
    let mut n = 0;
    for r in rows() {
        if r.get("error").is_none() || s(&r, "key").is_empty() {
            continue;
        }
        let line = &got[s(&r, "key")];
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["error"].is_string(), "{line}");
        n += 1;
    }
    assert!(n >= 2, "{n}");
}

/// kubectl's habits: `ls DIR po -n NS`, `get DIR pod/NAME -n NS`, `get DIR svc NAME -n NS`
/// name the same objects as their keys do.
#[test]
fn kubectl_style_names_find_the_same_objects() {
    let data = dev().join("data");
    let data = data.to_str().unwrap();
    assert_eq!(
        out(&["ls", data, "po", "-n", "jsonraw"]),
        out(&["ls", data, "--resource", "pods", "-n", "jsonraw"])
    );
    assert_eq!(
        out(&["ls", data, "deploy", "-n", "jsonraw", "-o", "json"]),
        out(&["ls", data, "/registry/deployments/jsonraw/", "-o", "json"])
    );
    for (typed, key) in [
        (
            vec!["pod/order", "-n", "jsonraw"],
            "/registry/pods/jsonraw/order",
        ),
        (
            vec!["svc", "intorstr", "-n", "jsonraw"],
            "/registry/services/specs/jsonraw/intorstr",
        ),
        (
            vec!["crd/js-customresourcedefinition"],
            "/registry/apiextensions.k8s.io/customresourcedefinitions/js-customresourcedefinition",
        ),
        (
            vec!["widgets.example.com/widget-000", "-n", "prod"],
            "/registry/example.com/widgets/prod/widget-000",
        ),
    ] {
        let mut args = vec!["get", data];
        args.extend(typed.iter().copied());
        args.extend(["-o", "kv"]);
        assert_eq!(
            out(&args),
            out(&["get", data, key, "-o", "kv"]),
            "{typed:?}"
        );
    }
    let o = reshift()
        .args(["get", data, "pod/nope", "-n", "jsonraw"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
}

/// `decode` of the set's `unstored/` envelopes (kinds the apiserver never stores: reviews,
/// options, ...) prints each as the apiserver's encoder writes it, byte for byte; the one it
/// cannot decode is not printed as an object.
#[test]
fn decode_writes_every_kind_as_the_apiserver_does() {
    let mut checked = 0;
    for r in rows() {
        let file = s(&r, "file");
        if file.is_empty() {
            continue;
        }
        let path = dev().join(file);
        let path = if path.exists() {
            path
        } else {
            dev().join("unstored").join(file)
        };
        let o = reshift()
            .args(["decode", path.to_str().unwrap(), "--kube-version", "1.36"])
            .output()
            .unwrap();
        let got = String::from_utf8(o.stdout).unwrap();
        match r.get("compact").and_then(|c| c.as_str()) {
            Some(want) => assert_eq!(got, format!("{want}\n"), "{file}"),
            None => assert!(!got.contains("\"kind\":\"WatchEvent\""), "{file}: {got}"),
        }
        checked += 1;
    }
    assert!(checked >= 40, "{checked}");
}
