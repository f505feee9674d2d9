//! Oracles for replay rules beyond plain writes, each against the same real etcd (3.4 and
//! 3.5) restarted on a copy of the killed member:
//! - a member with a learner (added, never started) is still the sole voter, so its whole
//!   log counts;
//! - lease checkpoints (`--experimental-enable-lease-checkpoint`) in the WAL set the
//!   remaining TTL etcd resumes each lease with (testdata/lease-ckpt-3.x, made by
//!   testdata/make_lease_checkpoint.py: etcd checkpoints only 5 minutes after a grant).

mod common;
use common::*;
use std::path::Path;

const BATCH: [&str; 6] = [
    "--backend-batch-interval",
    "10h",
    "--backend-batch-limit",
    "100000000",
    "--snapshot-count",
    "1000000",
];

fn inspect(d: &str) -> serde_json::Value {
    serde_json::from_slice(&ok(&["inspect", d, "-o", "json"])).unwrap()
}

fn learner(bin: Option<&Path>) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("learn");
    let mut e = Etcd::start_with(bin, &data, "learn", &BATCH);
    e.ctl(&["put", "/before", "x"]);
    e.ctl(&[
        "member",
        "add",
        "x",
        "--learner",
        "--peer-urls",
        "http://127.0.0.1:1",
    ]);
    let mut last = 0;
    for i in 0..40 {
        let out = e.ctl(&["put", &format!("/k/{i:03}"), &"v".repeat(i), "-w", "json"]);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        last = v["header"]["revision"].as_i64().unwrap();
    }
    e.kill();
    let d = data.to_str().unwrap();
    let ins = inspect(d);
    let wal = &ins["wal"];
    assert_eq!(
        wal["conf_state"]["learners"].as_array().map(Vec::len),
        Some(1),
        "{wal}"
    );
    assert_eq!(wal["commit_rule"], "whole log (sole voter)", "{wal}");
    assert_eq!(ins["revision"], last, "every acknowledged write");
    eprintln!(
        "learner: hard state commit {}, last index {}",
        wal["hard_state"]["commit"], wal["last_index"]
    );
    let ours = json_lines(&ok(&["dump", d]));
    let (_g, copy) = copy_to_temp(&data);
    let e = Etcd::start_with(bin, &copy, "learn", &[]);
    let (rev, kvs) = e.get_all(None);
    assert_eq!(ins["revision"], rev);
    assert_eq!(ours, kvs);
}

#[test]
fn learner_member_replay_equals_restarted_etcd_34() {
    if etcd_available("learner_member_replay_equals_restarted_etcd_34") {
        learner(None);
    }
}

#[test]
fn learner_member_replay_equals_restarted_etcd_35() {
    if let Some(bin) = etcd35("learner_member_replay_equals_restarted_etcd_35") {
        learner(Some(&bin));
    }
}

fn lease_checkpoints(bin: Option<&Path>, tag: &str) {
    let src = testdata(tag);
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(testdata(&format!("{tag}.json"))).unwrap()).unwrap();
    let s = src.to_str().unwrap();
    let ins = inspect(s);
    let db_alone: serde_json::Value =
        serde_json::from_slice(&ok(&["inspect", s, "--no-wal", "-o", "json"])).unwrap();
    let lease = |ins: &serde_json::Value, id: &serde_json::Value| -> Option<serde_json::Value> {
        ins["leases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["id"] == *id)
            .cloned()
    };
    let (a, b, c) = (
        &expected["lease_a"],
        &expected["lease_b"],
        &expected["lease_c"],
    );
    // The checkpoints are in the WAL only.
    assert!(
        lease(&db_alone, a).is_none_or(|l| l["remaining_ttl"] == 0),
        "{db_alone}"
    );
    let la = lease(&ins, a).expect("lease A");
    let ra = la["remaining_ttl"].as_i64().unwrap();
    assert!(ra > 0 && ra < 3600, "lease A checkpointed: {la}");
    let lb = lease(&ins, b).expect("lease B");
    assert_eq!(lb["remaining_ttl"], 0, "renewal cleared B's checkpoint");
    assert!(lease(&ins, c).is_none(), "C expired and was revoked");
    assert_eq!(ins["revision"], expected["last_revision"]);

    // etcd resumes each lease from its checkpoint (plus the election timeout it extends
    // leases by when it becomes leader, minus the seconds since).
    let (_g, copy) = copy_to_temp(&src);
    let e = Etcd::start_with(bin, &copy, "ckpt", &["--logger", "zap"]);
    let ttl = |id: &serde_json::Value| -> i64 {
        let hex = format!("{:x}", id.as_i64().unwrap());
        let v: serde_json::Value =
            serde_json::from_slice(&e.ctl(&["lease", "timetolive", &hex, "-w", "json"])).unwrap();
        v["ttl"].as_i64().unwrap()
    };
    let ta = ttl(a);
    assert!(
        (ra - 15..=ra + 1).contains(&ta),
        "etcd resumes lease A at {ta}s, reshift says {ra}s remained"
    );
    let tb = ttl(b);
    assert!(tb > 3600 - 15, "lease B resumes with its whole TTL: {tb}");
    let (rev, kvs) = e.get_all(None);
    assert_eq!(ins["revision"], rev);
    assert_eq!(json_lines(&ok(&["dump", s])), kvs);
}

#[test]
fn lease_checkpoint_replay_equals_restarted_etcd_34() {
    if etcd_available("lease_checkpoint_replay_equals_restarted_etcd_34") {
        lease_checkpoints(None, "lease-ckpt-3.4");
    }
}

#[test]
fn lease_checkpoint_replay_equals_restarted_etcd_35() {
    if let Some(bin) = etcd35("lease_checkpoint_replay_equals_restarted_etcd_35") {
        lease_checkpoints(Some(&bin), "lease-ckpt-3.5");
    }
}
