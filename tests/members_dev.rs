//! Members written by the real etcd 3.6.14 and 3.7.1 (`../shared/etcd-members-dev`, each
//! SIGKILLed right after its last acknowledged write), read by reshift and compared with
//! what the same etcd served after restarting on a copy (`results/<name>/`) and with the
//! generator's final state (`data/<name>.manifest.json`). And the commit rule's voters:
//! a learner added to such a member's conf state leaves it the sole voter; a second voter
//! does not.

mod common;
use base64::Engine;
use common::*;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

const MEMBERS: [&str; 4] = ["v36-kill", "v36-killsnap", "v37-kill", "v37-killsnap"];

/// Unpacks the tarball into a new temp dir; `None` (a loud skip) when it is not there.
fn unpack() -> Option<(tempfile::TempDir, PathBuf)> {
    let tarball = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/etcd-members-dev/etcd-3.6-3.7.tar.zst");
    if !tarball.is_file() {
        eprintln!(
            "\n!!!!!!!! SKIPPED members_dev: {} is not there !!!!!!!!\n",
            tarball.display()
        );
        return None;
    }
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg("zstd -q -d --long=27 -c \"$0\" | tar -x -C \"$1\"")
        .arg(&tarball)
        .arg(tmp.path())
        .status()
        .unwrap();
    assert!(status.success(), "unpacking {}", tarball.display());
    let root = tmp.path().to_path_buf();
    Some((tmp, root))
}

fn inspect(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&ok(&["inspect", dir.to_str().unwrap(), "-o", "json"])).unwrap()
}

fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

#[test]
fn members_of_etcd_3_6_and_3_7_read_as_restarted_etcd_serves_them() {
    let Some((_tmp, root)) = unpack() else { return };
    for name in MEMBERS {
        let dir = root.join("data").join(name);
        let status = read_json(&root.join(format!("results/{name}/oracle-status.json")));
        let manifest = read_json(&root.join(format!("data/{name}.manifest.json")));
        let served = status[0]["Status"]["header"]["revision"].as_i64().unwrap();
        assert_eq!(served, manifest["revision"].as_i64().unwrap(), "{name}");
        let ins = inspect(&dir);
        assert_eq!(
            ins["revision"].as_i64().unwrap(),
            served,
            "{name}: revision"
        );
        // The generator also writes two keys the apiserver keeps beside objects and leaves
        // them out of its manifest.
        const UNRECORDED: [&str; 2] = [
            "/registry/masterleases/10.0.0.1",
            "/registry/ranges/serviceips",
        ];
        let keys = manifest["keys"].as_u64().unwrap();
        assert_eq!(
            ins["live_keys"].as_u64().unwrap(),
            keys + 2,
            "{name}: live keys"
        );
        assert_eq!(ins["compact_revision"], manifest["compacted"], "{name}");
        assert_eq!(
            ins["wal"]["commit_rule"], "whole log (sole voter)",
            "{name}: {}",
            ins["wal"]["conf_state"]
        );
        // The storage version etcd served after restart, where the db already holds it
        // (written with the first snapshot: the killsnap members).
        if name.ends_with("killsnap") {
            assert_eq!(
                ins["storage_version"], status[0]["Status"]["storageVersion"],
                "{name}"
            );
        }
        let want = manifest["sha256"].as_object().unwrap();
        let dump = json_lines(&ok(&["dump", dir.to_str().unwrap()]));
        assert_eq!(dump.len(), want.len() + 2, "{name}: keys dumped");
        let b64 = base64::engine::general_purpose::STANDARD;
        for kv in &dump {
            let key = String::from_utf8(b64.decode(kv["key"].as_str().unwrap()).unwrap()).unwrap();
            let value = b64.decode(kv["value"].as_str().unwrap_or("")).unwrap();
            if UNRECORDED.contains(&key.as_str()) {
                continue;
            }
            let got = hex(&Sha256::digest(&value));
            assert_eq!(
                want.get(&key).and_then(|v| v.as_str()),
                Some(got.as_str()),
                "{name}: {key}"
            );
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Rewrites `dir`'s db with `f` applied to its other buckets' entries (the key bucket and
/// everything else kept as they are), without the sha256 trailer of `--db-out`.
fn rewrite_db(dir: &Path, f: impl FnOnce(&mut Vec<reshift::snapshot::extras::Entry>)) {
    let db_path = dir.join("member/snap/db");
    let new_path = dir.join("member/snap/db.new");
    {
        let source = reshift::source::Source::open(dir).unwrap();
        let db = source.db().unwrap();
        let ks = reshift::etcd::Keyspace::build(&db).unwrap();
        let leases = reshift::etcd::lease::read_leases(&db).unwrap();
        let mut extras = reshift::snapshot::extras::from_db(&db, &ks, &leases).unwrap();
        f(&mut extras);
        extras.sort();
        let file = std::fs::File::create(&new_path).unwrap();
        let file = reshift::restore::db::write_db_into(
            file,
            &new_path,
            reshift::restore::db::Source::Keyspace(&ks),
            &extras,
        )
        .unwrap();
        file.sync_all().unwrap();
    }
    std::fs::rename(&new_path, &db_path).unwrap();
}

fn set(extras: &mut Vec<reshift::snapshot::extras::Entry>, bucket: &[u8], key: &[u8], v: &[u8]) {
    extras.retain(|(b, k, _)| !(b == bucket && k == key));
    extras.push((bucket.to_vec(), key.to_vec(), v.to_vec()));
}

#[test]
fn learners_do_not_count_as_voters() {
    let Some((_tmp, root)) = unpack() else { return };
    let dir = root.join("data/v36-kill");
    let want = inspect(&dir);
    let me = want["wal"]["metadata"]["node_id"].as_u64().unwrap();
    assert_eq!(want["revision"], 4652);
    let other: u64 = 0x1234_5678_9abc_def0;
    let member = |id: u64, learner: bool| {
        serde_json::json!({"id": id, "peerURLs": ["http://127.0.0.1:1"], "isLearner": learner})
            .to_string()
            .into_bytes()
    };
    // A learner in the db's conf state and members: still the sole voter, whole log.
    rewrite_db(&dir, |e| {
        let cs = format!(r#"{{"voters":[{me}],"learners":[{other}],"auto_leave":false}}"#);
        set(e, b"meta", b"confState", cs.as_bytes());
        set(
            e,
            b"members",
            format!("{other:x}").as_bytes(),
            &member(other, true),
        );
        set(e, b"meta", b"storageVersion", b"3.6.0");
        set(
            e,
            b"cluster",
            b"downgrade",
            br#"{"target-version":"3.5.0","enabled":true}"#,
        );
    });
    let ins = inspect(&dir);
    // inspect shows the membership, storage version and downgrade from the db.
    assert_eq!(ins["storage_version"], "3.6.0");
    assert_eq!(
        ins["cluster"]["downgrade"],
        r#"{"target-version":"3.5.0","enabled":true}"#
    );
    let table = String::from_utf8(ok(&["inspect", dir.to_str().unwrap()])).unwrap();
    assert!(
        table.contains("members            1 voters, 1 learners"),
        "{table}"
    );
    assert!(table.contains("storage version    3.6.0"), "{table}");
    assert!(table.contains(&format!("{other:x}  (learner)")), "{table}");
    assert_eq!(
        ins["wal"]["conf_state"]["learners"],
        serde_json::json!([other])
    );
    assert_eq!(ins["wal"]["commit_rule"], "whole log (sole voter)");
    assert_eq!(
        ins["revision"], want["revision"],
        "every acknowledged write"
    );
    assert_eq!(ins["live_keys"], want["live_keys"]);
    // Promoted to a voter: two voters, so only the hard state's commit index counts —
    // which etcd 3.6 leaves one entry behind the last.
    rewrite_db(&dir, |e| {
        let cs = format!(r#"{{"voters":[{me},{other}],"auto_leave":false}}"#);
        set(e, b"meta", b"confState", cs.as_bytes());
        set(
            e,
            b"members",
            format!("{other:x}").as_bytes(),
            &member(other, false),
        );
    });
    let ins = inspect(&dir);
    assert_eq!(ins["wal"]["commit_rule"], "hard state commit index");
    assert!(
        ins["revision"].as_i64().unwrap() < 4652,
        "{}",
        ins["wal"]["hard_state"]
    );
}
