//! `diff` (and `analyze`) on real data: testdata/clean as state A, and state B made by a
//! real etcd 3.4 restarted on a copy of it and changed with etcdctl. What changed is read
//! back from that etcd (`etcdctl get` before and after), never from reshift.

mod common;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::*;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;

struct State {
    b: PathBuf,
    /// The revision B starts at (A's latest).
    r0: i64,
    /// etcd's key → (value, mod revision) before and after the changes.
    before: BTreeMap<String, (Vec<u8>, i64)>,
    after: BTreeMap<String, (Vec<u8>, i64)>,
    /// A custom resource whose only change is metadata.generation (noise).
    noise_key: String,
    /// A custom resource whose only change is spec.size.
    size_key: String,
    /// A deployment given another deployment's value.
    deploy_key: String,
}

fn kvs(list: Vec<serde_json::Value>) -> BTreeMap<String, (Vec<u8>, i64)> {
    list.iter()
        .map(|kv| {
            let k = STANDARD.decode(kv["key"].as_str().unwrap()).unwrap();
            let v = STANDARD.decode(kv["value"].as_str().unwrap_or("")).unwrap();
            (
                String::from_utf8(k).unwrap(),
                (v, kv["mod_revision"].as_i64().unwrap()),
            )
        })
        .collect()
}

fn put(e: &Etcd, key: &str, value: &[u8]) {
    let mut c = e
        .ctl_cmd(&["put", key])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(value).unwrap();
    assert!(c.wait().unwrap().success(), "put {key}");
}

fn keys_of(kind: &str, before: &BTreeMap<String, (Vec<u8>, i64)>, part: &str) -> Vec<String> {
    let rows = json_lines(&ok(&["ls", &clean(), "-o", "json"]));
    rows.iter()
        .filter(|r| r["kind"] == kind && r["key"].as_str().unwrap().contains(part))
        .map(|r| r["key"].as_str().unwrap().to_string())
        .filter(|k| before.contains_key(k))
        .collect()
}

fn state() -> Option<&'static State> {
    static S: OnceLock<Option<State>> = OnceLock::new();
    S.get_or_init(|| {
        if !etcd_available("forensic") {
            return None;
        }
        let b = Path::new(env!("CARGO_TARGET_TMPDIR")).join("forensic-b");
        let _ = std::fs::remove_dir_all(&b);
        copy_tree(&testdata("clean"), &b);
        let e = Etcd::start(&b, "clean");
        let (r0, list) = e.get_all(None);
        let before = kvs(list);
        let pods = keys_of("Pod", &before, "/pods/");
        let deps = keys_of("Deployment", &before, "/deployments/");
        let cms = keys_of("ConfigMap", &before, "/configmaps/");
        let widgets = keys_of("Widget", &before, "/widgets/");
        let val = |k: &str| before[k].0.clone();
        // Removed: three pods and a configmap.
        for k in [&pods[0], &pods[1], &pods[2], &cms[0]] {
            e.ctl(&["del", k]);
        }
        // Changed: objects given another object's value of the same kind.
        put(&e, &pods[3], &val(&pods[4]));
        put(&e, &pods[5], &val(&pods[6]));
        put(&e, &deps[0], &val(&deps[1]));
        // Added: a copy of a pod under a new name, and a key that is no object.
        put(&e, &format!("{}-copy", pods[7]), &val(&pods[7]));
        put(&e, "/other/forensic", b"hello\n");
        // Changed bytes of a key that is no object.
        put(&e, "/other/plain", b"changed\n");
        // A custom resource changed in a noise field only, and one in spec.size.
        let mut w: serde_json::Value = serde_json::from_slice(&val(&widgets[0])).unwrap();
        let g = w["metadata"]["generation"].as_i64().unwrap_or(1);
        w["metadata"]["generation"] = (g + 1).into();
        put(&e, &widgets[0], w.to_string().as_bytes());
        let mut w: serde_json::Value = serde_json::from_slice(&val(&widgets[1])).unwrap();
        let s = w["spec"]["size"].as_i64().unwrap_or(0);
        w["spec"]["size"] = (s + 1000).into();
        put(&e, &widgets[1], w.to_string().as_bytes());
        let (_, list) = e.get_all(None);
        let after = kvs(list);
        drop(e);
        Some(State {
            b,
            r0,
            before,
            after,
            noise_key: widgets[0].clone(),
            size_key: widgets[1].clone(),
            deploy_key: deps[0].clone(),
        })
    })
    .as_ref()
}

/// What etcd says changed, key → change, without the noise-only key unless `all`.
fn expected(s: &State, all: bool) -> BTreeMap<String, &'static str> {
    let mut m = BTreeMap::new();
    for (k, (v, _)) in &s.before {
        match s.after.get(k) {
            None => {
                m.insert(k.clone(), "removed");
            }
            Some((w, _)) if w != v => {
                m.insert(k.clone(), "changed");
            }
            _ => {}
        }
    }
    for k in s.after.keys().filter(|k| !s.before.contains_key(*k)) {
        m.insert(k.clone(), "added");
    }
    if !all {
        m.remove(&s.noise_key);
    }
    m
}

fn run_diff(args: &[&str]) -> (i32, Vec<u8>, String) {
    let mut a = vec!["diff"];
    a.extend_from_slice(args);
    run(&a)
}

fn records(out: &[u8]) -> BTreeMap<String, serde_json::Value> {
    json_lines(out)
        .into_iter()
        .map(|r| (r["key"].as_str().unwrap().to_string(), r))
        .collect()
}

#[test]
fn diff_of_two_states_is_etcds_change_set() {
    let Some(s) = state() else { return };
    let b = s.b.to_str().unwrap();
    let (code, out, err) = run_diff(&[&clean(), b, "-o", "json"]);
    assert_eq!(code, 1, "{err}");
    let got = records(&out);
    let want = expected(s, false);
    let got_changes: BTreeMap<String, &str> = got
        .iter()
        .map(|(k, r)| (k.clone(), r["change"].as_str().unwrap()))
        .collect();
    assert_eq!(got_changes, want);
    assert!(want.len() >= 10, "{want:?}");
    // Revisions are etcd's.
    for (k, r) in &got {
        assert_eq!(
            r["old_mod_revision"].as_i64(),
            s.before.get(k).map(|x| x.1),
            "{k}"
        );
        assert_eq!(
            r["new_mod_revision"].as_i64(),
            s.after.get(k).map(|x| x.1),
            "{k}"
        );
    }
    // Objects are compared as objects, the rest as bytes; the changed field is named.
    assert_eq!(got[&s.size_key]["paths"], serde_json::json!(["spec.size"]));
    assert_eq!(got[&s.size_key]["compared"], "object");
    assert_eq!(got[&s.deploy_key]["resource"], "deployments.apps");
    assert!(
        got[&s.deploy_key]["paths"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "metadata.name")
    );
    assert_eq!(got["/other/plain"]["compared"], "bytes");
    assert_eq!(got["/other/forensic"]["change"], "added");
    // --stat counts per resource and namespace add up to the records.
    let mut tally: BTreeMap<(String, String), [u64; 3]> = BTreeMap::new();
    for r in got.values() {
        let slot = tally
            .entry((
                r["resource"].as_str().unwrap().into(),
                r["namespace"].as_str().unwrap_or("").into(),
            ))
            .or_default();
        slot[["added", "removed", "changed"]
            .iter()
            .position(|c| r["change"] == *c)
            .unwrap()] += 1;
    }
    let (code, out, _) = run_diff(&[&clean(), b, "--stat", "-o", "json"]);
    assert_eq!(code, 1);
    let stat: BTreeMap<(String, String), [u64; 3]> = json_lines(&out)
        .iter()
        .map(|r| {
            (
                (
                    r["resource"].as_str().unwrap().into(),
                    r["namespace"].as_str().unwrap_or("").into(),
                ),
                [
                    r["added"].as_u64().unwrap(),
                    r["removed"].as_u64().unwrap(),
                    r["changed"].as_u64().unwrap(),
                ],
            )
        })
        .collect();
    assert_eq!(stat, tally);
    // The noise-only change shows with --all-fields, as its one changed field.
    let (code, out, _) = run_diff(&[&clean(), b, "-o", "json", "--all-fields"]);
    assert_eq!(code, 1);
    let all = records(&out);
    let all_changes: BTreeMap<String, &str> = all
        .iter()
        .map(|(k, r)| (k.clone(), r["change"].as_str().unwrap()))
        .collect();
    assert_eq!(all_changes, expected(s, true));
    let mut noise: Vec<&str> = all[&s.noise_key]["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    noise.sort();
    assert_eq!(noise, ["metadata.generation", "metadata.resourceVersion"]);
    // Filters as ls has them.
    let (_, out, _) = run_diff(&[&clean(), b, "-o", "json", "--resource", "po"]);
    let pods = records(&out);
    let want_pods: Vec<&String> = want.keys().filter(|k| k.contains("/pods/")).collect();
    assert_eq!(pods.keys().collect::<Vec<_>>(), want_pods);
    let ns = got[&s.deploy_key]["namespace"].as_str().unwrap();
    let (_, out, _) = run_diff(&[&clean(), b, "-o", "json", "-n", ns, "--resource", "deploy"]);
    assert_eq!(
        records(&out).keys().collect::<Vec<_>>(),
        vec![&s.deploy_key]
    );
}

/// The new side of a unified diff with all context: context and added lines.
fn new_side(diff: &str) -> String {
    diff.lines()
        .skip(2)
        .filter(|l| !l.starts_with("@@") && !l.starts_with('-'))
        .map(|l| format!("{}\n", &l[1.min(l.len())..]))
        .collect()
}

#[test]
fn diff_prints_served_yaml_as_kubectl_does() {
    let Some(s) = state() else { return };
    let b = s.b.to_str().unwrap();
    let (code, out, err) = run_diff(&[
        &clean(),
        b,
        "--all-fields",
        "-U",
        "100000",
        "--resource",
        "deploy",
    ]);
    assert_eq!(code, 1, "{err}");
    let text = String::from_utf8(out).unwrap();
    let k = &s.deploy_key;
    let head = format!("--- a{k}\n+++ b{k}\n");
    assert!(text.starts_with(&head), "{text}");
    let body = &text[..text.find("\n\nRESOURCE").unwrap() + 1];
    // With every field, the new side is what `get -o yaml` prints for the object.
    let yaml = String::from_utf8(ok(&["get", b, k, "-o", "yaml"])).unwrap();
    assert_eq!(new_side(body), yaml);
    assert!(text.contains("\nRESOURCE"), "{text}");
    // An added object is all additions, a removed one all deletions.
    let (_, out, _) = run_diff(&[&clean(), b, "--resource", "pods"]);
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("--- /dev/null\n+++ b/registry/pods/"),
        "{text}"
    );
    assert!(text.contains("+++ /dev/null\n"), "{text}");
    // --stat prints the table alone.
    let (_, out, _) = run_diff(&[&clean(), b, "--stat"]);
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("RESOURCE"), "{text}");
    assert!(text.contains("(not an object)"), "{text}");
}

#[test]
fn diff_of_one_source_between_revisions() {
    let Some(s) = state() else { return };
    let b = s.b.to_str().unwrap();
    let r0 = s.r0.to_string();
    let (code, out, err) = run_diff(&[b, "--from-revision", &r0, "-o", "json"]);
    assert_eq!(code, 1, "{err}");
    let got: BTreeMap<String, String> = records(&out)
        .into_iter()
        .map(|(k, r)| (k, r["change"].as_str().unwrap().to_string()))
        .collect();
    let want: BTreeMap<String, String> = expected(s, false)
        .into_iter()
        .map(|(k, c)| (k, c.to_string()))
        .collect();
    assert_eq!(got, want);
    // Between revisions before any change: nothing.
    let (code, out, err) = run_diff(&[b, "--from-revision", "1000", "--to-revision", &r0]);
    assert_eq!(code, 1, "{err}");
    assert!(!out.is_empty());
    let (code, out, err) = run_diff(&[b, "--from-revision", &r0, "--to-revision", &r0]);
    assert_eq!((code, out.len()), (0, 0), "{err}");
}

#[test]
fn diff_of_a_source_with_itself_is_empty() {
    let (code, out, err) = run_diff(&[&clean(), &clean()]);
    assert_eq!((code, out.len()), (0, 0), "{err}");
    // The same state in another kind of source: a reshift snapshot of it.
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("clean.rsnap");
    ok(&["snapshot", &clean(), "-o", snap.to_str().unwrap()]);
    let (code, out, err) = run_diff(&[&clean(), snap.to_str().unwrap(), "--stat"]);
    assert_eq!((code, out.len()), (0, 0), "{err}");
    // Errors exit 2, as diff(1)'s do.
    let (code, _, err) = run_diff(&[&clean(), "/nonexistent/forensic"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run_diff(&[&clean()]);
    assert_eq!(code, 2, "{err}");
}

fn json_of(args: &[&str]) -> serde_json::Value {
    serde_json::from_slice(&ok(args)).unwrap()
}

#[test]
fn analyze_totals_equal_inspects() {
    let mut inputs = vec![clean()];
    if let Some(s) = state() {
        inputs.push(s.b.to_str().unwrap().to_string());
    }
    for input in &inputs {
        let ins = json_of(&["inspect", input, "-o", "json"]);
        let an = json_of(&["analyze", input, "-o", "json"]);
        assert_eq!(an["total"]["keys"], ins["live_keys"], "{input}");
        assert_eq!(an["total"]["revisions"], ins["total_revisions"], "{input}");
        let res = an["resources"].as_object().unwrap();
        let ires = ins["resources"].as_object().unwrap();
        for (name, u) in ires {
            assert_eq!(res[name]["keys"], u["count"], "{input} {name}");
            assert_eq!(res[name]["bytes"], u["bytes"], "{input} {name}");
        }
        for (name, u) in res {
            if !ires.contains_key(name) {
                assert_eq!(u["keys"], 0, "{input} {name}");
            }
        }
        let sum = |m: &serde_json::Value, f: &str| -> u64 {
            m.as_object()
                .unwrap()
                .values()
                .map(|u| u[f].as_u64().unwrap())
                .sum()
        };
        for f in ["keys", "bytes", "revisions", "revision_bytes"] {
            assert_eq!(sum(&an["resources"], f), an["total"][f].as_u64().unwrap());
            assert_eq!(sum(&an["namespaces"], f), an["total"][f].as_u64().unwrap());
        }
        assert_eq!(an["db"]["bytes"], ins["db_bytes"]);
        assert_eq!(an["db"]["in_use"], ins["db_bytes_in_use"]);
        // The largest live value is the largest value `ls` lists.
        let rows = json_lines(&ok(&["ls", input, "-o", "json"]));
        let max = rows
            .iter()
            .map(|r| r["value_size"].as_u64().unwrap())
            .max()
            .unwrap();
        assert_eq!(an["largest_live"][0]["value"], max);
        let table = String::from_utf8(ok(&["analyze", input])).unwrap();
        assert!(table.contains("RESOURCE") && table.contains('█'), "{table}");
    }
}

#[test]
fn analyze_compact_at_is_what_etcd_compaction_removes() {
    if !etcd_available("analyze_compact_at_is_what_etcd_compaction_removes") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("clean");
    copy_tree(&testdata("clean"), &d);
    let at: i64 = 1200;
    let before = json_of(&[
        "analyze",
        d.to_str().unwrap(),
        "--compact-at",
        &at.to_string(),
        "-o",
        "json",
    ]);
    let removed = before["compaction"]["revisions_removed"].as_u64().unwrap();
    assert!(removed > 0, "{before}");
    {
        let e = Etcd::start(&d, "clean");
        e.ctl(&["compact", &at.to_string(), "--physical"]);
        // Let the backend commit the compaction before etcd is killed.
        std::thread::sleep(std::time::Duration::from_millis(1500));
    }
    let after = json_of(&["inspect", d.to_str().unwrap(), "--no-wal", "-o", "json"]);
    assert_eq!(after["compact_revision"], at);
    assert_eq!(
        after["total_revisions"].as_u64().unwrap(),
        before["total"]["revisions"].as_u64().unwrap() - removed
    );
}

/// The stored object with what export strips removed, by the rules the issue lists.
fn stripped(mut v: serde_json::Value, exported_uids: &[String]) -> serde_json::Value {
    let o = v.as_object_mut().unwrap();
    o.remove("status");
    let m = o["metadata"].as_object_mut().unwrap();
    for f in [
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "generation",
        "managedFields",
        "selfLink",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ] {
        m.remove(f);
    }
    if let Some(serde_json::Value::Array(refs)) = m.get_mut("ownerReferences") {
        refs.retain(|r| !exported_uids.iter().any(|u| r["uid"] == *u.as_str()));
        if refs.is_empty() {
            m.remove("ownerReferences");
        }
    }
    let kind = v["kind"].as_str().unwrap().to_string();
    let spec = v.get_mut("spec").and_then(|s| s.as_object_mut());
    if let Some(spec) = spec {
        if kind == "Service" && spec.get("clusterIP") != Some(&"None".into()) {
            spec.remove("clusterIP");
            spec.remove("clusterIPs");
        }
        if kind == "Pod" {
            spec.remove("nodeName");
        }
    }
    v
}

/// Every object's Namespace (when among `docs`) comes before it, and so does its CRD.
fn assert_namespaces_and_crds_first(docs: &[serde_json::Value]) {
    let mut namespaced = 0;
    for (i, d) in docs.iter().enumerate() {
        if let Some(ns) = d["metadata"]["namespace"].as_str() {
            if let Some(j) = docs
                .iter()
                .position(|n| n["kind"] == "Namespace" && n["metadata"]["name"] == ns)
            {
                assert!(j < i, "{ns} after {}", d["metadata"]["name"]);
                namespaced += 1;
            }
        }
        let av = d["apiVersion"].as_str().unwrap();
        if let Some((group, _)) = av.split_once('/').filter(|(g, _)| g.contains('.')) {
            if let Some(j) = docs.iter().position(|n| {
                n["kind"] == "CustomResourceDefinition"
                    && n["spec"]["group"] == group
                    && n["spec"]["names"]["kind"] == d["kind"]
            }) {
                assert!(j < i);
            }
        }
    }
    assert!(namespaced > 0, "no object whose namespace is exported");
}

/// The files under `dir` in filepath.Walk's order: each dir's entries sorted by name.
fn walk_lexically(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort_by(|a, b| {
        use std::os::unix::ffi::OsStrExt;
        a.file_name()
            .unwrap()
            .as_bytes()
            .cmp(b.file_name().unwrap().as_bytes())
    });
    for e in entries {
        if e.is_dir() {
            walk_lexically(&e, out);
        } else {
            out.push(e);
        }
    }
}

/// What export strips from the allocated fields of claims, volumes and jobs, by the rules
/// of README's export section, applied to a stored object.
fn stripped_allocations(mut v: serde_json::Value) -> serde_json::Value {
    let kind = v["kind"].as_str().unwrap_or("").to_string();
    let o = v.as_object_mut().unwrap();
    o.remove("status");
    if let Some(m) = o.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        for f in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "generation",
            "managedFields",
            "selfLink",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ] {
            m.remove(f);
        }
        let server_set: &[&str] = match kind.as_str() {
            "PersistentVolumeClaim" => &[
                "pv.kubernetes.io/bind-completed",
                "pv.kubernetes.io/bound-by-controller",
                "volume.beta.kubernetes.io/storage-provisioner",
                "volume.kubernetes.io/storage-provisioner",
                "volume.kubernetes.io/selected-node",
            ],
            "PersistentVolume" => &["pv.kubernetes.io/bound-by-controller"],
            _ => &[],
        };
        if let Some(a) = m.get_mut("annotations").and_then(|a| a.as_object_mut()) {
            a.retain(|k, _| !server_set.contains(&k.as_str()));
            if a.is_empty() {
                m.remove("annotations");
            }
        }
    }
    let Some(spec) = o.get_mut("spec").and_then(|s| s.as_object_mut()) else {
        return v;
    };
    match kind.as_str() {
        "PersistentVolumeClaim" => {
            spec.remove("volumeName");
        }
        "PersistentVolume" => {
            if let Some(c) = spec.get_mut("claimRef").and_then(|c| c.as_object_mut()) {
                c.remove("uid");
                c.remove("resourceVersion");
                if c.is_empty() {
                    spec.remove("claimRef");
                }
            }
        }
        "Job" if spec.get("manualSelector") != Some(&true.into()) => {
            spec.remove("selector");
            let labels = spec
                .get_mut("template")
                .and_then(|t| t.get_mut("metadata"))
                .and_then(|m| m.as_object_mut());
            if let Some(tm) = labels {
                if let Some(l) = tm.get_mut("labels").and_then(|l| l.as_object_mut()) {
                    l.remove("controller-uid");
                    l.remove("batch.kubernetes.io/controller-uid");
                    if l.is_empty() {
                        tm.remove("labels");
                    }
                }
            }
        }
        _ => {}
    }
    v
}

#[test]
fn export_strips_allocated_fields_of_objects_the_kubernetes_codecs_stored() {
    let dev = served_dev();
    let data = dev.join("data");
    let data = data.to_str().unwrap();
    let stored = json_lines(&ok(&["ls", data, "-o", "objects", "--as-stored"]));
    let out = ok(&["export", data, "-o", "-", "--include-owned"]);
    let text = String::from_utf8_lossy(&out).into_owned();
    let mut seen = BTreeMap::<&str, usize>::new();
    let mut removed = BTreeMap::<&str, usize>::new();
    for doc in text.split("---\n").filter(|d| !d.is_empty()) {
        let kind = ["PersistentVolumeClaim", "PersistentVolume", "Job"]
            .into_iter()
            .find(|k| doc.lines().any(|l| l == format!("kind: {k}")));
        let Some(kind) = kind else { continue };
        // Objects filled with hostile strings may have no YAML serde_norway reads.
        let Ok(d) = serde_norway::from_str::<serde_json::Value>(doc) else {
            continue;
        };
        let s = stored
            .iter()
            .find(|s| {
                s["kind"] == d["kind"]
                    && s["metadata"]["name"] == d["metadata"]["name"]
                    && s["metadata"]["namespace"] == d["metadata"]["namespace"]
            })
            .unwrap_or_else(|| panic!("no stored object for {d}"));
        // Owner references are kept or dropped by the rule the other export test checks.
        let mut want = stripped_allocations(s.clone());
        let mut got = d.clone();
        want["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("ownerReferences");
        got["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("ownerReferences");
        assert_eq!(got, want, "{kind}");
        *seen.entry(kind).or_default() += 1;
        let had = match kind {
            "PersistentVolumeClaim" => s["spec"].get("volumeName").is_some(),
            "PersistentVolume" => s["spec"]["claimRef"].get("uid").is_some(),
            _ => s["spec"].get("selector").is_some() && s["spec"]["manualSelector"] != true,
        };
        if had {
            *removed.entry(kind).or_default() += 1;
        }
    }
    // Each rule had something to remove.
    for k in ["PersistentVolumeClaim", "PersistentVolume", "Job"] {
        assert!(
            removed.get(k).copied().unwrap_or(0) > 0,
            "{k}: {seen:?} {removed:?}"
        );
    }
}

fn docs(stream: &[u8]) -> Vec<serde_json::Value> {
    let text = String::from_utf8(stream.to_vec()).unwrap();
    text.split("---\n")
        .filter(|d| !d.is_empty())
        .map(|d| serde_norway::from_str(d).unwrap())
        .collect()
}

#[test]
fn export_strips_server_fields_and_nothing_else_in_apply_order() {
    let stored: Vec<serde_json::Value> =
        json_lines(&ok(&["ls", &clean(), "-o", "objects", "--as-stored"]))
            .into_iter()
            .filter(|o| o.get("kind").is_some())
            .collect();
    let find = |d: &serde_json::Value| {
        stored
            .iter()
            .find(|s| {
                s["kind"] == d["kind"]
                    && s["metadata"]["name"] == d["metadata"]["name"]
                    && s["metadata"]["namespace"] == d["metadata"]["namespace"]
            })
            .unwrap_or_else(|| panic!("no stored object for {d}"))
            .clone()
    };
    for (flags, secrets, owned) in [
        (vec![], false, false),
        (vec!["--include-secrets", "--include-owned"], true, true),
    ] {
        let mut args = vec!["export", "-o", "-"];
        let c = clean();
        args.push(&c);
        args.extend(flags.iter().copied());
        let out = ok(&args);
        let docs = docs(&out);
        assert!(docs.len() > 50, "{}", docs.len());
        let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds.contains(&"Secret"), secrets);
        assert_eq!(
            kinds.contains(&"Pod"),
            owned,
            "pods are owned by replica sets"
        );
        assert_eq!(kinds.contains(&"Event"), owned);
        assert_eq!(kinds.contains(&"Lease"), owned);
        assert!(kinds.contains(&"Namespace") && kinds.contains(&"Service"));
        let uids: Vec<String> = docs
            .iter()
            .map(|d| {
                find(d)["metadata"]["uid"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .collect();
        // Each manifest is the stored object less exactly the stripped fields.
        for d in &docs {
            assert_eq!(*d, stripped(find(d), &uids));
            assert!(d.get("status").is_none());
            assert!(d["metadata"].get("uid").is_none());
        }
        // Apply order: every object's namespace (when exported) comes before it, and so
        // does its CRD.
        assert_namespaces_and_crds_first(&docs);
        let first_ns = kinds.iter().position(|k| *k == "Namespace").unwrap();
        assert_eq!(first_ns, 0);
    }
    // The same manifests as a tree of 0600 files.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m");
    let (code, _, err) = run(&["export", &clean(), "-o", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("left out"), "{err}");
    let stream = docs(&ok(&["export", &clean(), "-o", "-"]));
    let mut files = Vec::new();
    let mut stack = vec![out.clone()];
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).unwrap() {
            let e = e.unwrap().path();
            if e.is_dir() {
                stack.push(e);
            } else {
                files.push(e);
            }
        }
    }
    assert_eq!(files.len(), stream.len());
    // `kubectl apply -R -f DIR` applies the files in the order Go's filepath.Walk visits
    // them: each dir's entries by their bytes. Every object's Namespace and CRD come first.
    let mut walked = Vec::new();
    walk_lexically(&out, &mut walked);
    let walked: Vec<serde_json::Value> = walked
        .iter()
        .map(|f| serde_norway::from_str(&std::fs::read_to_string(f).unwrap()).unwrap())
        .collect();
    assert_eq!(walked.len(), files.len());
    assert_namespaces_and_crds_first(&walked);
    for f in &files {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(f).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let d: serde_json::Value =
            serde_norway::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        assert!(stream.contains(&d), "{}", f.display());
        let rel = f.strip_prefix(&out).unwrap();
        let first = rel.iter().next().unwrap().to_str().unwrap();
        match d["metadata"]["namespace"].as_str() {
            Some(ns) => assert_eq!(first, ns),
            None => assert_eq!(first, "_cluster"),
        }
        assert_eq!(
            rel.file_name().unwrap().to_str().unwrap(),
            format!("{}.yaml", d["metadata"]["name"].as_str().unwrap())
        );
    }
    // Never over the input.
    let (code, _, _) = run(&["export", &clean(), "-o", &format!("{}/member/out", clean())]);
    assert_eq!(code, 1);
}

#[test]
fn restore_at_a_revision_serves_what_etcd_served_then() {
    if !etcd_available("restore_at_a_revision_serves_what_etcd_served_then") {
        return;
    }
    let at = 1200;
    let dir = tempfile::tempdir().unwrap();
    // The oracle: a real etcd on a copy of the member, read at that revision.
    let copy = dir.path().join("copy");
    copy_tree(&testdata("clean"), &copy);
    let want = {
        let e = Etcd::start(&copy, "clean");
        e.get_all(Some(at)).1
    };
    let data = dir.path().join("restored");
    let (code, out, err) = run(&[
        "restore",
        &clean(),
        "--revision",
        &at.to_string(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("--bump-revision"),
        "a Kubernetes keyspace: {err}"
    );
    let said: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(said["revision"], at);
    let e = Etcd::start(&data, "default");
    let (rev, got) = e.get_all(None);
    assert_eq!(rev, at);
    let strip = |v: &[serde_json::Value]| -> Vec<(String, String, i64, i64, i64)> {
        v.iter()
            .map(|kv| {
                (
                    kv["key"].as_str().unwrap().to_string(),
                    kv["value"].as_str().unwrap_or("").to_string(),
                    kv["create_revision"].as_i64().unwrap(),
                    kv["mod_revision"].as_i64().unwrap(),
                    kv["version"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    assert!(!want.is_empty());
    assert_eq!(strip(&got), strip(&want));
    // A revision the source no longer holds is refused.
    let (code, _, err) = run(&[
        "restore",
        &clean(),
        "--revision",
        "100",
        "--db-out",
        dir.path().join("x.db").to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("compacted"), "{err}");
}
