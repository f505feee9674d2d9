//! Restore oracle: `reshift restore --db-out` files are accepted by `etcdctl snapshot
//! restore` (hash checked), and etcd started from the result serves the source's keyspace
//! — keys, values, create and mod revisions, versions — and takes new writes.

mod common;
use common::*;
use std::process::Command;

fn restore_and_serve(source: &std::path::Path, extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("out.db");
    let mut args = vec![
        "restore",
        source.to_str().unwrap(),
        "--db-out",
        db.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    ok(&args);
    let (code, out, err) = run(&["check", db.to_str().unwrap()]);
    assert_eq!(code, 0, "{}{err}", String::from_utf8_lossy(&out));
    let data = dir.path().join("data");
    let o = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args([
            "snapshot",
            "restore",
            db.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "etcdctl snapshot restore refused it: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let want = json_lines(&ok(&["dump", source.to_str().unwrap()]));
    let ins: serde_json::Value =
        serde_json::from_slice(&ok(&["inspect", source.to_str().unwrap(), "-o", "json"])).unwrap();
    let etcd = Etcd::start(&data, "default");
    let (rev, kvs) = etcd.get_all(None);
    assert_eq!(kvs, want, "etcd serves the source's keyspace");
    assert_eq!(rev, ins["revision"].as_i64().unwrap(), "and its revision");
    etcd.ctl(&["put", "/reshift/after-restore", "yes"]);
    let (rev2, _) = etcd.get_all(None);
    assert_eq!(rev2, rev + 1, "a put after start takes the next revision");
}

#[test]
fn etcd_serves_what_was_restored() {
    if !etcd_available("etcd_serves_what_was_restored") {
        return;
    }
    // A cleanly stopped member, a killed one (its WAL replayed into the restore), and a
    // reshift snapshot of the killed one.
    restore_and_serve(&testdata("clean"), &[]);
    restore_and_serve(&testdata("killed"), &[]);
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("k.rsnap");
    ok(&[
        "snapshot",
        testdata("killed").to_str().unwrap(),
        "-o",
        snap.to_str().unwrap(),
        "--history",
    ]);
    restore_and_serve(&snap, &[]);
}
