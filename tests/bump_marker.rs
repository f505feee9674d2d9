//! The marker `etcdutl snapshot restore --bump-revision N --mark-compacted` (etcd 3.5.10+)
//! writes: a `key`-bucket record at the raised revision (sub 0) whose value is empty — a
//! KeyValue of nothing, i.e. the empty key — and `scheduledCompactRev` at that revision.
//! reshift counts it towards the revision, never as a key, as etcd serves it.

mod common;
use common::*;

/// testdata/clean's db with the marker written exactly as etcdutl writes it; returns the
/// raised revision.
fn marked_db(out: &std::path::Path, by: i64) -> i64 {
    use reshift::etcd::{Keyspace, RevRecord, Revision};
    let source = reshift::source::Source::open(&testdata("clean")).unwrap();
    let db = source.db().unwrap();
    let ks = Keyspace::build(&db).unwrap();
    let raised = ks.revision + by;
    let mut records = ks.records().to_vec();
    records.push(RevRecord {
        rev: Revision {
            main: raised,
            sub: 0,
        },
        tombstone: false,
        key: b"",
        kv: b"",
    });
    let mut meta = ks.meta.clone();
    meta.scheduled_compact_revision = Some(raised);
    let marked = Keyspace::from_records(records, meta);
    let leases = reshift::etcd::lease::read_leases(&db).unwrap();
    let extras = reshift::snapshot::extras::from_db(&db, &marked, &leases).unwrap();
    reshift::restore::db::write_db_file(
        out,
        reshift::restore::db::Source::Keyspace(&marked),
        &extras,
        false,
    )
    .unwrap();
    raised
}

#[test]
fn etcdutls_bump_marker_is_not_a_key() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("marked.db");
    let raised = marked_db(&db, 1000);
    let d = db.to_str().unwrap();
    // The marker is really there, as etcdutl leaves it: 17-byte key, empty value.
    let raw = json_lines(&ok(&["bbolt", "dump", d]));
    let key_hex: String = format!("{raised:016x}5f0000000000000000");
    assert!(
        raw.iter()
            .any(|v| v["key"] == key_hex.as_str() && v["value"] == ""),
        "no marker row {key_hex}"
    );
    let clean = clean();
    let ins: serde_json::Value =
        serde_json::from_slice(&ok(&["inspect", d, "-o", "json"])).unwrap();
    let orig: serde_json::Value =
        serde_json::from_slice(&ok(&["inspect", &clean, "--no-wal", "-o", "json"])).unwrap();
    assert_eq!(ins["revision"], raised);
    assert_eq!(
        ins["live_keys"], orig["live_keys"],
        "the marker is not a key"
    );
    assert_eq!(
        json_lines(&ok(&["dump", d])),
        json_lines(&ok(&["dump", &clean, "--no-wal"]))
    );
    let (code, out, _) = run(&["get", d, ""]);
    assert!(code != 0 || out.is_empty(), "the empty key is nothing");
    assert!(
        ok(&["history", d, ""])
            .iter()
            .filter(|&&c| c == b'\n')
            .count()
            <= 1
    );

    // etcd serves the same: restored by etcdctl, started, listed.
    if !etcd_available("etcdutls_bump_marker_is_not_a_key") {
        return;
    }
    let data = tmp.path().join("member");
    let o = std::process::Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args([
            "snapshot",
            "restore",
            d,
            "--data-dir",
            data.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let etcd = Etcd::start(&data, "default");
    let (rev, kvs) = etcd.get_all(None);
    assert_eq!(rev, raised);
    assert_eq!(kvs, json_lines(&ok(&["dump", d])));
    // And the hash: etcd counts the marker as the empty key's one live revision, kept by
    // the compaction at the raised revision it runs when it opens the db.
    let v: serde_json::Value =
        serde_json::from_slice(&etcd.ctl(&["endpoint", "hashkv", "-w", "json"])).unwrap();
    let ours: serde_json::Value = serde_json::from_slice(&ok(&["hash", d, "-o", "json"])).unwrap();
    assert_eq!(ours["hash"], v[0]["HashKV"]["hash"], "{ours} {v}");
    assert_eq!(ours["compact_revision"], v[0]["HashKV"]["compact_revision"]);
}

/// The real thing: etcd 3.5's `etcdctl snapshot save` of a member, restored by `etcdutl
/// snapshot restore --bump-revision --mark-compacted`, started, given a few writes (WAL-only:
/// 10-hour backend batch interval) and SIGKILLed; reshift reads it as the restarted etcd
/// serves it: revision, compact revision, keys.
#[test]
fn etcdutl_bump_restore_then_writes_equals_restarted_etcd() {
    let Some(bin) = etcd35("etcdutl_bump_restore_then_writes_equals_restarted_etcd") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let first = tmp.path().join("first");
    let e = Etcd::start_with(Some(&bin), &first, "first", &[]);
    for i in 0..20 {
        e.ctl(&["put", &format!("/k/{i:02}"), &format!("v{i}")]);
    }
    e.ctl(&["del", "/k/05"]);
    let snap = tmp.path().join("snap.db");
    e.ctl(&["snapshot", "save", snap.to_str().unwrap()]);
    let (snap_rev, _) = e.get_all(None);
    drop(e);
    let data = tmp.path().join("bumped");
    let o = std::process::Command::new(bin.join("etcdutl"))
        .args(["snapshot", "restore", snap.to_str().unwrap(), "--data-dir"])
        .arg(&data)
        .args(["--bump-revision", "1000", "--mark-compacted"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut e = Etcd::start_with(
        Some(&bin),
        &data,
        "default",
        &[
            "--backend-batch-interval",
            "10h",
            "--backend-batch-limit",
            "100000000",
        ],
    );
    for i in 0..5 {
        e.ctl(&["put", &format!("/after/{i}"), "x"]);
    }
    e.ctl(&["del", "/k/00"]);
    let (served, _) = e.get_all(None);
    assert_eq!(served, snap_rev + 1000 + 6, "the bump, then six writes");
    e.kill();

    let d = data.to_str().unwrap();
    let ins: serde_json::Value =
        serde_json::from_slice(&ok(&["inspect", d, "-o", "json"])).unwrap();
    let ours = json_lines(&ok(&["dump", d]));
    let hash: serde_json::Value = serde_json::from_slice(&ok(&["hash", d, "-o", "json"])).unwrap();
    let (_g, copy) = copy_to_temp(&data);
    let e = Etcd::start_with(Some(&bin), &copy, "default", &[]);
    let (rev, kvs) = e.get_all(None);
    assert_eq!(ins["revision"], rev);
    assert_eq!(ins["revision"], served);
    assert_eq!(ins["live_keys"].as_u64().unwrap() as usize, kvs.len());
    assert_eq!(ours, kvs);
    let v: serde_json::Value =
        serde_json::from_slice(&e.ctl(&["endpoint", "hashkv", "-w", "json"])).unwrap();
    assert_eq!(
        ins["compact_revision"], v[0]["HashKV"]["compact_revision"],
        "{v}"
    );
    assert_eq!(hash["compact_revision"], v[0]["HashKV"]["compact_revision"]);
    assert_eq!(hash["hash"], v[0]["HashKV"]["hash"], "{hash} {v}");
    // Below the marked compaction there is nothing to read, for either.
    let (code, _, _) = run(&["dump", d, &format!("--revision={}", snap_rev)]);
    let (etcd_ok, _, _) = e.ctl_try(&["get", "", "--prefix", &format!("--rev={snap_rev}")]);
    assert_eq!(code == 0, etcd_ok);
}
