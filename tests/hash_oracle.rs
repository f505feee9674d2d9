//! Oracle for `reshift hash`: etcd's HashKV computed offline equals what
//! `etcdctl endpoint hashkv` prints for a live member, at the current revision and at
//! older ones, with and without a compaction.

mod common;
use common::*;

/// `etcdctl endpoint hashkv [--rev N] -w json` as (hash, compact revision, header revision).
fn etcd_hash(etcd: &Etcd, rev: i64) -> (u64, i64, i64) {
    let r = format!("--rev={rev}");
    let v: serde_json::Value =
        serde_json::from_slice(&etcd.ctl(&["endpoint", "hashkv", &r, "-w", "json"])).unwrap();
    let h = &v[0]["HashKV"];
    (
        h["hash"].as_u64().unwrap_or(0),
        h["compact_revision"].as_i64().unwrap_or(0),
        h["header"]["revision"].as_i64().unwrap(),
    )
}

fn reshift_hash(path: &std::path::Path, rev: i64) -> serde_json::Value {
    let r = format!("--revision={rev}");
    serde_json::from_slice(&ok(&["hash", path.to_str().unwrap(), &r, "-o", "json"])).unwrap()
}

fn put(etcd: &Etcd, k: &str, v: &str) -> i64 {
    etcd.ctl(&["put", k, v]);
    etcd.get_all(None).0
}

#[test]
fn hash_equals_etcds_hashkv_with_a_compaction() {
    if !etcd_available("hash_equals_etcds_hashkv_with_a_compaction") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    let etcd = Etcd::start(&dir, "m");
    let mut checks: Vec<(i64, (u64, i64, i64))> = Vec::new();
    for k in ["a", "b", "c", "d", "e"] {
        put(&etcd, &format!("/k/{k}"), "one");
    }
    put(&etcd, "/k/a", "two");
    etcd.ctl(&["del", "/k/b"]);
    let lease = String::from_utf8(etcd.ctl(&["lease", "grant", "600"])).unwrap();
    let id = lease.split_whitespace().nth(1).unwrap().to_string();
    etcd.ctl(&["put", "/k/leased", "x", &format!("--lease={id}")]);
    let before_compact = put(&etcd, "/k/d", "two");
    // Never compacted yet: etcd hashes every revision (no longer answerable once the
    // compaction below has run; the bundled killed member covers that case).
    let uncompacted = etcd_hash(&etcd, before_compact);
    assert!(uncompacted.1 <= 0, "{uncompacted:?}");
    etcd.ctl(&["compact", &before_compact.to_string(), "--physical"]);
    // After it: kept revisions of keys untouched since, overwritten, deleted, re-created.
    let r1 = put(&etcd, "/k/a", "three");
    etcd.ctl(&["del", "/k/c"]);
    put(&etcd, "/k/b", "again");
    let r2 = put(&etcd, "/k/f", "one");
    etcd.ctl(&["del", "/k/d", "--prefix"]);
    put(&etcd, "/k/g", "one");
    let last = put(&etcd, "/k/g", "two");
    for r in [before_compact + 1, r1, r2, r2 + 1, last] {
        checks.push((r, etcd_hash(&etcd, r)));
    }
    let current = etcd_hash(&etcd, 0);
    assert_eq!(current.2, last);
    // The member is killed (its WAL is replayed), then read by reshift.
    drop(etcd);
    let ours = reshift_hash(&dir, 0);
    assert_eq!(ours["hash"].as_u64().unwrap(), current.0, "{ours}");
    assert_eq!(ours["compact_revision"], before_compact);
    assert_eq!(ours["revision"], last);
    for (r, (h, c, _)) in &checks {
        assert_eq!(*c, before_compact);
        let ours = reshift_hash(&dir, *r);
        assert_eq!(
            ours["hash"].as_u64().unwrap(),
            *h,
            "at revision {r}: {ours}"
        );
        assert_eq!(ours["hash_revision"], *r);
    }
    // Below the compaction or past the current revision: refused, as etcd refuses.
    let (code, _, err) = run(&["hash", dir.to_str().unwrap(), "--revision=2"]);
    assert_eq!(code, 1, "{err}");
    let (code, _, _) = run(&[
        "hash",
        dir.to_str().unwrap(),
        &format!("--revision={}", last + 1),
    ]);
    assert_eq!(code, 1);
}

#[test]
fn hash_equals_etcds_hashkv_on_the_bundled_members() {
    if !etcd_available("hash_equals_etcds_hashkv_on_the_bundled_members") {
        return;
    }
    // A cleanly stopped member and a killed one (its WAL replayed by both sides); etcd
    // runs on a copy, reshift reads the original.
    for (name, member) in [("clean", "clean"), ("killed", "killed")] {
        let src = testdata(name);
        let (_g, copy) = copy_to_temp(&src);
        let etcd = Etcd::start(&copy, member);
        let (h, _, rev) = etcd_hash(&etcd, 0);
        let ours = reshift_hash(&src, 0);
        assert_eq!(ours["hash"].as_u64().unwrap(), h, "{name}: {ours}");
        assert_eq!(ours["revision"], rev, "{name}");
        let older = rev - 7;
        let (h, _, _) = etcd_hash(&etcd, older);
        assert_eq!(
            reshift_hash(&src, older)["hash"].as_u64().unwrap(),
            h,
            "{name} at {older}"
        );
    }
}
