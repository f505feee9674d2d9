//! Oracle: what reshift reads from a data dir equals what a real etcd 3.4 serves from a
//! copy of it — latest state and the state at several revisions.

mod common;
use common::*;

fn reshift_dump(path: &std::path::Path, rev: Option<i64>) -> Vec<serde_json::Value> {
    let mut args = vec!["dump".to_string(), path.to_str().unwrap().to_string()];
    if let Some(r) = rev {
        args.push(format!("--revision={r}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    json_lines(&out)
}

fn inspect(path: &std::path::Path) -> serde_json::Value {
    let (code, out, err) = run(&["inspect", "-o", "json", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn dump_equals_what_etcd_serves_at_every_sampled_revision() {
    if !etcd_available("dump_equals_what_etcd_serves_at_every_sampled_revision") {
        return;
    }
    let src = testdata("clean");
    let before = tree_digest(&src);
    let ins = inspect(&src);
    let (rev, compact) = (
        ins["revision"].as_i64().unwrap(),
        ins["compact_revision"].as_i64().unwrap(),
    );
    assert!(compact > 0, "the bundled data was compacted");
    let ours_latest = reshift_dump(&src, None);
    let mut samples = vec![compact, compact + (rev - compact) / 3, rev - 7, rev];
    samples.dedup();
    let ours_at: Vec<_> = samples
        .iter()
        .map(|&r| reshift_dump(&src, Some(r)))
        .collect();

    let (_guard, copy) = copy_to_temp(&src);
    let etcd = Etcd::start(&copy, &member_name(&src));
    let (header_rev, kvs) = etcd.get_all(None);
    assert_eq!(header_rev, rev, "inspect's revision is etcd's");
    assert_eq!(ours_latest.len(), kvs.len());
    assert_eq!(ours_latest, kvs, "latest state");
    for (r, ours) in samples.iter().zip(&ours_at) {
        let (_, kvs) = etcd.get_all(Some(*r));
        assert_eq!(ours, &kvs, "state at revision {r}");
    }
    // Leases and members as etcd reports them.
    let leases: serde_json::Value =
        serde_json::from_slice(&etcd.ctl(&["lease", "list", "-w", "json"])).unwrap();
    let mut theirs: Vec<i64> = leases["leases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_i64().unwrap())
        .collect();
    let mut ours: Vec<i64> = ins["leases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_i64().unwrap())
        .collect();
    theirs.sort();
    ours.sort();
    assert!(!ours.is_empty(), "the bundled data keeps a live lease");
    assert_eq!(ours, theirs, "leases");
    for l in ins["leases"].as_array().unwrap() {
        let ttl: serde_json::Value = serde_json::from_slice(&etcd.ctl(&[
            "lease",
            "timetolive",
            l["id_hex"].as_str().unwrap(),
            "--keys",
            "-w",
            "json",
        ]))
        .unwrap();
        assert_eq!(
            ttl["granted-ttl"].as_i64(),
            l["ttl"].as_i64(),
            "granted TTL of {}",
            l["id_hex"]
        );
        let keys = ttl["keys"].as_array().map_or(0, Vec::len) as u64;
        assert_eq!(
            keys,
            l["keys"].as_u64().unwrap(),
            "keys attached to {}",
            l["id_hex"]
        );
    }
    let members: serde_json::Value =
        serde_json::from_slice(&etcd.ctl(&["member", "list", "-w", "json"])).unwrap();
    let m = &members["members"][0];
    let ours_m = &ins["cluster"]["members"][0];
    assert_eq!(m["name"], ours_m["name"]);
    assert_eq!(
        format!("{:x}", m["ID"].as_u64().unwrap()),
        ours_m["id"].as_str().unwrap()
    );
    // Below the compaction both refuse.
    let (code, _, err) = run(&[
        "dump",
        src.to_str().unwrap(),
        &format!("--revision={}", compact - 1),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("compacted"), "{err}");
    drop(etcd);
    assert_eq!(before, tree_digest(&src), "testdata untouched");
}

/// The member name a data dir was created with, read from its `members` bucket.
fn member_name(dir: &std::path::Path) -> String {
    let (code, out, err) = run(&["bbolt", "dump", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    for v in json_lines(&out) {
        if v["bucket"] == hex("members") {
            let value = unhex(v["value"].as_str().unwrap());
            let m: serde_json::Value = serde_json::from_slice(&value).unwrap();
            return m["name"].as_str().unwrap().to_string();
        }
    }
    panic!("no member in {}", dir.display());
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
