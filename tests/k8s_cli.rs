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
