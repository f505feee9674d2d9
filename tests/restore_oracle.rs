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

fn serve_member_dir(source: &std::path::Path) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("member-dir");
    let out = ok(&[
        "restore",
        source.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        "--name",
        "r1",
    ]);
    let made: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let (code, o, err) = run(&["check", data.to_str().unwrap()]);
    assert_eq!(code, 0, "{}{err}", String::from_utf8_lossy(&o));
    let want = json_lines(&ok(&["dump", source.to_str().unwrap()]));
    let ins: serde_json::Value =
        serde_json::from_slice(&ok(&["inspect", source.to_str().unwrap(), "-o", "json"])).unwrap();
    let etcd = Etcd::start(&data, "r1");
    let (rev, kvs) = etcd.get_all(None);
    assert_eq!(
        kvs, want,
        "etcd serves the source's keyspace from reshift's member dir"
    );
    assert_eq!(rev, ins["revision"].as_i64().unwrap());
    let status: serde_json::Value =
        serde_json::from_slice(&etcd.ctl(&["endpoint", "status", "-w", "json"])).unwrap();
    assert_eq!(
        format!(
            "{:x}",
            status[0]["Status"]["header"]["member_id"].as_u64().unwrap()
        ),
        made["member_id"].as_str().unwrap()
    );
    assert_eq!(
        format!(
            "{:x}",
            status[0]["Status"]["header"]["cluster_id"]
                .as_u64()
                .unwrap()
        ),
        made["cluster_id"].as_str().unwrap()
    );
    assert_eq!(
        status[0]["Status"]["header"]["revision"].as_i64().unwrap(),
        rev
    );
    etcd.ctl(&["put", "/reshift/after-restore", "yes"]);
    assert_eq!(
        etcd.get_all(None).0,
        rev + 1,
        "a put after start takes the next revision"
    );
}

#[test]
fn etcd_starts_from_reshifts_member_dirs() {
    if !etcd_available("etcd_starts_from_reshifts_member_dirs") {
        return;
    }
    serve_member_dir(&testdata("clean"));
    serve_member_dir(&testdata("killed"));
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("c.rsnap");
    ok(&[
        "snapshot",
        testdata("clean").to_str().unwrap(),
        "-o",
        snap.to_str().unwrap(),
    ]);
    serve_member_dir(&snap);
}

#[test]
fn restore_refuses_non_empty_targets_and_leaves_nothing_on_failure() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("busy");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("keep"), b"x").unwrap();
    let (code, _, err) = run(&[
        "restore",
        testdata("clean").to_str().unwrap(),
        "--data-dir",
        target.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("not empty"), "{err}");
    assert_eq!(std::fs::read(target.join("keep")).unwrap(), b"x");
    // A bad membership fails before anything is written.
    let t2 = dir.path().join("new");
    let (code, _, err) = run(&[
        "restore",
        testdata("clean").to_str().unwrap(),
        "--data-dir",
        t2.to_str().unwrap(),
        "--name",
        "x",
        "--initial-cluster",
        "y=http://a:2380",
    ]);
    assert_eq!(code, 1, "{err}");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
    let (code, _, _) = run(&["restore", testdata("clean").to_str().unwrap()]);
    assert_eq!(code, 2, "a target is required");
}

#[test]
fn filtered_restore_keeps_only_the_chosen_keys_with_their_revisions() {
    if !etcd_available("filtered_restore_keeps_only_the_chosen_keys_with_their_revisions") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let src = testdata("clean");
    ok(&[
        "restore",
        src.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        "-n",
        "prod",
        "--exclude",
        "/registry/pods/",
    ]);
    // The objects `ls -n prod` lists in the source, pods left out.
    let keys: Vec<String> = json_lines(&ok(&[
        "ls",
        src.to_str().unwrap(),
        "-n",
        "prod",
        "-o",
        "json",
    ]))
    .iter()
    .map(|r| r["key"].as_str().unwrap().to_string())
    .filter(|k| !k.starts_with("/registry/pods/"))
    .collect();
    assert!(keys.len() > 20, "{}", keys.len());
    let source: std::collections::HashMap<String, serde_json::Value> =
        json_lines(&ok(&["dump", src.to_str().unwrap()]))
            .into_iter()
            .map(|kv| {
                (
                    String::from_utf8(base64_decode(kv["key"].as_str().unwrap())).unwrap(),
                    kv,
                )
            })
            .collect();
    let etcd = Etcd::start(&data, "default");
    let (rev, kvs) = etcd.get_all(None);
    let got: Vec<String> = kvs
        .iter()
        .map(|kv| String::from_utf8(base64_decode(kv["key"].as_str().unwrap())).unwrap())
        .collect();
    assert_eq!(got, keys, "exactly the selected keys");
    for (k, kv) in got.iter().zip(&kvs) {
        assert!(
            source[k] == *kv,
            "{k}: value and revisions as in the source"
        );
    }
    // etcd derives its revision from the last revision kept: the highest among the kept keys'
    // revisions, deletions included (an excluded key's later writes are gone).
    let ins: serde_json::Value =
        serde_json::from_slice(&ok(&["inspect", src.to_str().unwrap(), "-o", "json"])).unwrap();
    let newest_kept = kvs
        .iter()
        .map(|kv| kv["mod_revision"].as_i64().unwrap())
        .max()
        .unwrap();
    assert!(
        rev >= newest_kept && rev <= ins["revision"].as_i64().unwrap(),
        "revision {rev}"
    );
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

#[test]
fn bump_revision_and_mark_compacted() {
    if !etcd_available("bump_revision_and_mark_compacted") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let src = testdata("clean");
    ok(&[
        "restore",
        src.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        "--bump-revision",
        "1000",
        "--mark-compacted",
    ]);
    let ins: serde_json::Value =
        serde_json::from_slice(&ok(&["inspect", src.to_str().unwrap(), "-o", "json"])).unwrap();
    let rev = ins["revision"].as_i64().unwrap();
    let want = json_lines(&ok(&["dump", src.to_str().unwrap()]));
    let etcd = Etcd::start(&data, "default");
    let (got_rev, kvs) = etcd.get_all(None);
    assert_eq!(got_rev, rev + 1000, "revision raised");
    assert!(kvs == want, "keys, values and their revisions unchanged");
    // Older revisions are compacted away: a watcher or cache must re-list.
    let o = std::process::Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args([
            "--endpoints",
            &etcd.endpoint,
            "get",
            "",
            "--prefix",
            &format!("--rev={}", rev),
        ])
        .output()
        .unwrap();
    assert!(
        !o.status.success() && String::from_utf8_lossy(&o.stderr).contains("compacted"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    etcd.ctl(&["put", "/reshift/after", "x"]);
    assert_eq!(etcd.get_all(None).0, rev + 1001);
}

/// The Go baseline built on etcd's own bbolt (../shared/tools/gobase), when built.
fn gobase() -> Option<std::path::PathBuf> {
    let p =
        std::path::PathBuf::from(std::env::var("GOBASE").unwrap_or_else(|_| "/tmp/gobase".into()));
    if p.exists() {
        return Some(p);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "gobase not built: .ci/run builds it with ../shared/tools/gobase/build.sh and sets GOBASE"
        );
    }
    eprintln!(
        "\n!!!!!!!! SKIPPED gobase check: build it with ../shared/tools/gobase/build.sh /tmp/gobase !!!!!!!!\n"
    );
    None
}

#[test]
fn etcds_go_bbolt_reads_every_db_the_writer_produces() {
    let Some(gobase) = gobase() else { return };
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("k.rsnap");
    ok(&[
        "snapshot",
        testdata("killed").to_str().unwrap(),
        "-o",
        snap.to_str().unwrap(),
        "--history",
    ]);
    for (i, src) in [testdata("clean"), testdata("killed"), snap]
        .iter()
        .enumerate()
    {
        let ins: serde_json::Value =
            serde_json::from_slice(&ok(&["inspect", src.to_str().unwrap(), "-o", "json"])).unwrap();
        let db_out = dir.path().join(format!("out-{i}.db"));
        let member = dir.path().join(format!("member-{i}"));
        ok(&[
            "restore",
            src.to_str().unwrap(),
            "--db-out",
            db_out.to_str().unwrap(),
        ]);
        ok(&[
            "restore",
            src.to_str().unwrap(),
            "--data-dir",
            member.to_str().unwrap(),
        ]);
        for db in [db_out, member.join("member/snap/db")] {
            let o = std::process::Command::new(&gobase)
                .arg("scan")
                .arg(&db)
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "gobase scan {}: {}",
                db.display(),
                String::from_utf8_lossy(&o.stderr)
            );
            let line = String::from_utf8_lossy(&o.stdout).to_string();
            let field = |name: &str| -> i64 {
                line.split_whitespace()
                    .find_map(|f| f.strip_prefix(&format!("{name}=")))
                    .unwrap()
                    .parse()
                    .unwrap()
            };
            assert_eq!(
                field("revisions"),
                ins["total_revisions"].as_i64().unwrap(),
                "{line}"
            );
            assert_eq!(field("live"), ins["live_keys"].as_i64().unwrap(), "{line}");
        }
    }
}

/// Every dir and file under `p`, `p` included, with its permission bits.
#[cfg(unix)]
fn modes(p: &std::path::Path) -> Vec<(std::path::PathBuf, bool, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    let mut stack = vec![p.to_path_buf()];
    while let Some(x) = stack.pop() {
        let md = std::fs::symlink_metadata(&x).unwrap();
        out.push((x.clone(), md.is_dir(), md.permissions().mode() & 0o7777));
        if md.is_dir() {
            for e in std::fs::read_dir(&x).unwrap() {
                stack.push(e.unwrap().path());
            }
        }
    }
    out.sort();
    out
}

#[cfg(unix)]
#[test]
fn restored_member_dirs_are_private_like_etcds() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("fresh");
    // An existing empty dir made with the usual 0755 is replaced by a private one.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::set_permissions(&empty, std::fs::Permissions::from_mode(0o755)).unwrap();
    let db_out = dir.path().join("out.db");
    let src = testdata("clean");
    for target in [&fresh, &empty] {
        ok(&[
            "restore",
            src.to_str().unwrap(),
            "--data-dir",
            target.to_str().unwrap(),
        ]);
        let m = modes(target);
        let (dirs, files): (Vec<_>, Vec<_>) = m.iter().partition(|(_, d, _)| *d);
        assert_eq!(dirs.len(), 4, "data dir, member, snap, wal: {m:?}");
        assert_eq!(files.len(), 2, "db and one WAL segment: {m:?}");
        for (p, is_dir, mode) in &m {
            let want = if *is_dir { 0o700 } else { 0o600 };
            assert_eq!(*mode, want, "{}: {mode:o}", p.display());
        }
    }
    ok(&[
        "restore",
        src.to_str().unwrap(),
        "--db-out",
        db_out.to_str().unwrap(),
    ]);
    assert_eq!(modes(&db_out)[0].2, 0o600);
}
