//! The Kubernetes views of the CLI on testdata/clean, checked against the raw keys.

mod common;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::*;

#[test]
fn ls_filters_agree_with_keys_and_decode() {
    let all = json_lines(&ok(&["ls", &clean(), "-o", "json"]));
    // --resource and -n pick exactly the keys under that resource and namespace.
    let got = json_lines(&ok(&[
        "ls",
        &clean(),
        "--resource",
        "deployments.apps",
        "-n",
        "prod",
        "-o",
        "json",
    ]));
    let want: Vec<_> = all
        .iter()
        .filter(|r| {
            r["key"]
                .as_str()
                .unwrap()
                .starts_with("/registry/deployments/prod/")
        })
        .collect();
    assert!(!want.is_empty());
    assert_eq!(got.len(), want.len());
    assert!(
        got.iter()
            .all(|r| r["kind"] == "Deployment" && r["namespace"] == "prod")
    );
    let nodes = json_lines(&ok(&["ls", &clean(), "--resource", "nodes", "-o", "json"]));
    assert!(
        !nodes.is_empty()
            && nodes
                .iter()
                .all(|r| r["key"].as_str().unwrap().starts_with("/registry/minions/"))
    );
    // A label selector keeps exactly the objects whose decoded labels match.
    let pods = json_lines(&ok(&["ls", &clean(), "--resource", "pods", "-o", "json"]));
    let web = json_lines(&ok(&[
        "ls",
        &clean(),
        "--resource",
        "pods",
        "-l",
        "tier=web",
        "-o",
        "json",
    ]));
    let not_web = json_lines(&ok(&[
        "ls",
        &clean(),
        "--resource",
        "pods",
        "-l",
        "tier!=web",
        "-o",
        "json",
    ]));
    assert!(!web.is_empty() && !not_web.is_empty());
    assert_eq!(web.len() + not_web.len(), pods.len());
    for r in &web {
        let value = ok(&["get", &clean(), r["key"].as_str().unwrap()]);
        let d: serde_json::Value =
            serde_json::from_slice(&run_stdin(&["decode", "-"], &value)).unwrap();
        assert_eq!(d["metadata"]["labels"]["tier"], "web", "{}", r["key"]);
        assert_eq!(d["kind"], "Pod");
    }
    let (code, _, err) = run(&["ls", &clean(), "-l", "a in b"]);
    assert_eq!(code, 1);
    assert!(err.contains("expected ("), "{err}");
}

fn run_stdin(args: &[&str], input: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut c = reshift()
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(input).unwrap();
    let o = c.wait_with_output().unwrap();
    assert!(o.status.success());
    o.stdout
}

#[test]
fn inspect_counts_kinds_encodings_and_encryption() {
    let ins: serde_json::Value =
        serde_json::from_slice(&ok(&["inspect", &clean(), "-o", "json"])).unwrap();
    let dump = json_lines(&ok(&["dump", &clean()]));
    let values: Vec<Vec<u8>> = dump
        .iter()
        .map(|kv| STANDARD.decode(kv["value"].as_str().unwrap_or("")).unwrap())
        .collect();
    let n = |p: &[u8]| values.iter().filter(|v| v.starts_with(p)).count() as u64;
    assert_eq!(
        ins["encodings"]["protobuf"].as_u64().unwrap(),
        n(b"k8s\x00")
    );
    assert_eq!(
        ins["encodings"]["encrypted"].as_u64().unwrap(),
        n(b"k8s:enc:")
    );
    let enc: u64 = ins["encrypted"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(enc, n(b"k8s:enc:"));
    assert!(ins["encrypted"]["kms:v2:vault-kms"].as_u64().unwrap() >= 1);
    let pods = json_lines(&ok(&["ls", &clean(), "--resource", "pods", "-o", "json"]));
    assert_eq!(
        ins["kinds"]["v1 Pod"]["count"].as_u64().unwrap() as usize,
        pods.iter().filter(|p| p["kind"] == "Pod").count()
    );
    // An encrypted value decodes to its provider and key name, never to an object.
    let v = ok(&["get", &clean(), "/registry/secrets/prod/encrypted-2"]);
    let d: serde_json::Value = serde_json::from_slice(&run_stdin(&["decode", "-"], &v)).unwrap();
    assert_eq!(d["encoding"], "encrypted");
    assert_eq!(d["encrypted"]["provider"], "kms");
    assert_eq!(d["encrypted"]["keyName"], "vault-kms");
    assert!(d.get("metadata").is_none());
    // YAML output is the same document.
    let y = String::from_utf8(run_stdin(&["decode", "-", "-o", "yaml"], &v)).unwrap();
    assert!(y.contains("provider: kms"), "{y}");
}

/// `ls -o objects|yaml` and `get -o json|yaml` give every object in full, decoded from its
/// schema; encrypted values are named as such, never decoded.
#[test]
fn full_objects_from_ls_get_and_decode() {
    let rows = json_lines(&ok(&["ls", &clean(), "/registry/", "-o", "json"]));
    let objects = json_lines(&ok(&["ls", &clean(), "/registry/", "-o", "objects"]));
    assert_eq!(rows.len(), objects.len());
    let mut full = 0;
    for (r, o) in rows.iter().zip(&objects) {
        let key = r["key"].as_str().unwrap();
        if r["encoding"] == "raw" {
            assert_eq!(o["key"], key);
            assert_eq!(o["error"], "not a Kubernetes object", "{o}");
            continue;
        }
        if r["encoding"] == "encrypted" {
            assert_eq!(o["key"], key);
            assert!(o["error"].as_str().unwrap().contains("encrypted"), "{o}");
            let (code, _, err) = run(&["get", &clean(), key, "-o", "json"]);
            assert_eq!(code, 1);
            assert!(
                err.contains("encrypted") && err.lines().count() == 1,
                "{err}"
            );
            continue;
        }
        assert_eq!(o["kind"], r["kind"], "{key}");
        if !o["metadata"]["name"].is_null() {
            assert_eq!(o["metadata"]["name"], r["name"], "{key}");
        }
        if let Some(ns) = r["namespace"].as_str() {
            assert_eq!(o["metadata"]["namespace"], ns, "{key}");
        }
        full += 1;
        if full % 40 == 1 {
            let j: serde_json::Value =
                serde_json::from_slice(&ok(&["get", &clean(), key, "-o", "json"])).unwrap();
            assert_eq!(&j, o, "{key}");
            let y: serde_json::Value =
                serde_norway::from_slice(&ok(&["get", &clean(), key, "-o", "yaml"])).unwrap();
            assert_eq!(&y, o, "{key}");
        }
    }
    assert!(full > 100, "{full}");
    // YAML documents hold the same objects.
    let y = String::from_utf8(ok(&["ls", &clean(), "/registry/pods/", "-o", "yaml"])).unwrap();
    let docs: Vec<serde_json::Value> = y
        .split("---\n")
        .filter(|d| !d.trim().is_empty())
        .map(|d| serde_norway::from_str(d).unwrap())
        .collect();
    let pods = json_lines(&ok(&["ls", &clean(), "/registry/pods/", "-o", "objects"]));
    assert_eq!(docs, pods);
}

/// `decode` renders a stored value of any built-in kind exactly as its Kubernetes JSON.
#[test]
fn decode_renders_fixtures_in_full() {
    let rel =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/k8s-api-testdata/HEAD");
    for kind in [
        "core.v1.Pod",
        "apps.v1.StatefulSet",
        "batch.v1.Job",
        "core.v1.Secret",
    ] {
        let pb = rel.join(format!("{kind}.pb"));
        let want: serde_json::Value =
            serde_json::from_slice(&std::fs::read(rel.join(format!("{kind}.json"))).unwrap())
                .unwrap();
        let got: serde_json::Value =
            serde_json::from_slice(&ok(&["decode", pb.to_str().unwrap()])).unwrap();
        assert_eq!(got, want, "{kind}");
        let y: serde_json::Value =
            serde_norway::from_slice(&ok(&["decode", pb.to_str().unwrap(), "-o", "yaml"])).unwrap();
        assert_eq!(y, want, "{kind}");
    }
}
