//! Oracle for replaying a WAL with auth enabled: a real etcd 3.4 and 3.5 get users, roles
//! and permissions, then (with a 10-hour backend batch interval, so everything after
//! `auth enable`'s forced commit is WAL-only) writes by a user limited to a prefix, inside
//! (applied) and outside (refused: permission denied) it, interleaved with auth changes,
//! admin requests by a non-admin, lease revokes, and a txn whose rules differ between 3.4
//! and 3.5; then SIGKILL. reshift's replay must give exactly the keyspace and revision the
//! same etcd serves after restarting on a copy.

mod common;
use common::*;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;

const ROOT: &str = "root:rootpw";
const ALICE: &str = "alice:alicepw";
const BOB: &str = "bob:bobpw";

/// The lease ID etcdctl printed (`lease 694d7a5fd9b1c80b granted with TTL(600s)`).
fn lease_id(out: &str) -> String {
    out.split_whitespace().nth(1).unwrap().to_string()
}

fn txn(e: &Etcd, user: &str, script: &str) -> (bool, String) {
    let mut c = e.ctl_cmd(&["--user", user, "txn"]);
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
    )
}

struct Tally {
    allowed: u32,
    denied: u32,
}

fn scenario(bin: Option<&Path>, v35: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("auth");
    let mut e = Etcd::start_with(
        bin,
        &data,
        "auth",
        &[
            "--backend-batch-interval",
            "10h",
            "--backend-batch-limit",
            "100000000",
            "--snapshot-count",
            "1000000",
        ],
    );
    for args in [
        &["user", "add", ROOT][..],
        &["user", "grant-role", "root", "root"],
        &["role", "add", "app"],
        &[
            "role",
            "grant-permission",
            "app",
            "readwrite",
            "/app/",
            "--prefix",
        ],
        &["user", "add", ALICE],
        &["user", "grant-role", "alice", "app"],
        &["put", "/pre", "before auth"],
        &["auth", "enable"],
    ] {
        e.ctl(args);
    }
    let mut t = Tally {
        allowed: 0,
        denied: 0,
    };
    let mut put = |user: &str, key: &str, extra: &[&str], want: bool| {
        let mut args = vec!["--user", user, "put", key, "v"];
        args.extend(extra);
        let (done, _, err) = e.ctl_try(&args);
        assert_eq!(done, want, "put {key} as {user}: {err}");
        if done {
            t.allowed += 1;
        } else {
            assert!(err.contains("permission denied"), "{err}");
            t.denied += 1;
        }
    };
    // Leases first: etcd 3.5 commits the backend when it revokes one, so what follows
    // stays WAL-only.
    // Alice may revoke a lease whose keys she may write, not one holding root's key.
    let mine = lease_id(&String::from_utf8_lossy(
        &e.ctl(&["--user", ROOT, "lease", "grant", "600"]),
    ));
    let roots = lease_id(&String::from_utf8_lossy(
        &e.ctl(&["--user", ROOT, "lease", "grant", "600"]),
    ));
    put(ROOT, "/app/a/leased", &["--lease", &mine], true);
    put(ROOT, "/root/leased", &["--lease", &roots], true);
    let (done, _, err) = e.ctl_try(&["--user", ALICE, "lease", "revoke", &mine]);
    assert!(done, "{err}");
    let (done, _, _) = e.ctl_try(&["--user", ALICE, "lease", "revoke", &roots]);
    assert!(!done);
    // Attaching root's lease to a key of hers: refused outside a txn by both; inside a txn
    // etcd 3.4 checks the key alone (applied), 3.5 the lease's keys too (refused).
    put(ALICE, "/app/a/put-lease", &["--lease", &roots], false);
    let (done, out) = txn(
        &e,
        ALICE,
        &format!("\nput /app/a/txn-lease v --lease={roots}\n\n\n"),
    );
    assert_eq!(done, !v35, "{out}");
    // Inside and outside alice's prefix, interleaved, with root's writes between.
    for i in 0..5 {
        put(ALICE, &format!("/app/k{i}"), &[], true);
        put(ALICE, &format!("/other/k{i}"), &[], false);
        put(ROOT, &format!("/root/k{i}"), &[], true);
    }
    let (done, out) = txn(&e, ALICE, "\nput /app/t1 a\n\nput /app/t2 b\n\n");
    assert!(done, "{out}");
    // A txn is refused whole when either branch writes outside the prefix.
    let (done, out) = txn(&e, ALICE, "\nput /app/t3 a\n\nput /other/t4 b\n\n");
    assert!(!done && out.contains("permission denied"), "{out}");
    let (done, _, err) = e.ctl_try(&["--user", ALICE, "del", "/app/k0"]);
    assert!(done, "{err}");
    let (done, _, _) = e.ctl_try(&["--user", ALICE, "del", "/root/", "--prefix"]);
    assert!(!done);
    // A non-admin's auth change is refused; root's later changes that rely on it are refused too.
    let (done, _, _) = e.ctl_try(&["--user", ALICE, "role", "add", "evil"]);
    assert!(!done);
    let _ = e.ctl_try(&[
        "--user",
        ROOT,
        "role",
        "grant-permission",
        "evil",
        "readwrite",
        "/evil/",
        "--prefix",
    ]);
    let _ = e.ctl_try(&["--user", ROOT, "user", "grant-role", "alice", "evil"]);
    put(ALICE, "/evil/1", &[], false);
    // Root cannot be deleted while auth is on.
    let (done, _, _) = e.ctl_try(&["--user", ROOT, "user", "delete", "root"]);
    assert!(!done);
    // Narrowing alice's permission (two auth revisions) changes what she may write.
    for args in [
        &["role", "revoke-permission", "app", "/app/", "--prefix"][..],
        &[
            "role",
            "grant-permission",
            "app",
            "readwrite",
            "/app/a/",
            "--prefix",
        ],
    ] {
        let mut a = vec!["--user", ROOT];
        a.extend(args);
        e.ctl(&a);
    }
    put(ALICE, "/app/k9", &[], false);
    put(ALICE, "/app/a/1", &[], true);
    // A user added in the WAL only.
    for args in [
        &["user", "add", BOB][..],
        &["role", "add", "bobs"],
        &[
            "role",
            "grant-permission",
            "bobs",
            "write",
            "/bob/",
            "--prefix",
        ],
        &["user", "grant-role", "bob", "bobs"],
    ] {
        let mut a = vec!["--user", ROOT];
        a.extend(args);
        e.ctl(&a);
    }
    put(BOB, "/bob/1", &[], true);
    put(BOB, "/app/a/2", &[], false);
    // Bounded churn: alice writes while root bumps the auth revision; a put checked at an
    // auth revision older than the one current when it is applied is refused ("revision
    // in header is old"), and a 3.5 client retries it.
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..12 {
                let _ = e.ctl_try(&[
                    "--user",
                    ROOT,
                    "role",
                    "grant-permission",
                    "bobs",
                    "read",
                    &format!("/churn/{i}"),
                ]);
            }
        });
        for i in 0..12 {
            let _ = e.ctl_try(&["--user", ALICE, "put", &format!("/app/a/s{i}"), "v"]);
        }
    });
    put(ALICE, "/app/a/last", &[], true);
    let (served_rev, _) = e.get_all_as(Some(ROOT), None);
    e.kill();
    eprintln!("v35={v35}: {} puts allowed, {} denied", t.allowed, t.denied);

    // reshift, offline.
    let d = data.to_str().unwrap();
    let ins: serde_json::Value =
        serde_json::from_slice(&ok(&["inspect", d, "-o", "json"])).unwrap();
    let rep = &ins["wal"]["replay"];
    assert_eq!(ins["revision"], served_rev, "{rep}");
    assert_eq!(
        rep["rules"],
        if v35 { "V35" } else { "V34" },
        "the applier's version"
    );
    assert!(rep["refused_by_auth"].as_u64().unwrap() >= 10, "{rep}");
    assert_eq!(rep["auth_enabled"], true);
    let ours = json_lines(&ok(&["dump", d]));
    let db_alone = json_lines(&ok(&["dump", "--no-wal", d]));
    assert!(
        !db_alone.iter().any(|kv| kv["key"] == "/app/k1"),
        "the writes after auth enable are WAL-only"
    );

    // The same etcd, restarted on a copy.
    let (_g, copy) = copy_to_temp(&data);
    let e = Etcd::start_as(bin, &copy, "auth", &[], Some(ROOT));
    let (rev, kvs) = e.get_all_as(Some(ROOT), None);
    assert_eq!(rev, served_rev);
    assert_eq!(ours, kvs, "keyspace after replay");
    assert_eq!(ins["revision"], rev);
    if v35 {
        let (done, out, _) = e.ctl_try(&["--user", ROOT, "auth", "status", "-w", "json"]);
        assert!(done);
        let st: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(rep["auth_revision"], st["authRevision"], "{out}");
    }
}

#[test]
fn auth_replay_equals_restarted_etcd_34() {
    if !etcd_available("auth_replay_equals_restarted_etcd_34") {
        return;
    }
    scenario(None, false);
}

#[test]
fn auth_replay_equals_restarted_etcd_35() {
    let Some(bin) = etcd35("auth_replay_equals_restarted_etcd_35") else {
        return;
    };
    scenario(Some(&bin), true);
}
