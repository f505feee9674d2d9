//! Oracle for WAL replay: a member SIGKILLed with a long backend batch interval, read by
//! reshift without etcd, equals what etcd serves after restarting on a copy of it.

mod common;
use common::*;

fn dump(args: &[&str]) -> Vec<serde_json::Value> {
    let (code, out, err) = run(args);
    assert_eq!(code, 0, "{args:?}: {err}");
    json_lines(&out)
}

#[test]
fn killed_member_replay_equals_restarted_etcd() {
    if !etcd_available("killed_member_replay_equals_restarted_etcd") {
        return;
    }
    let src = testdata("killed");
    let s = src.to_str().unwrap();
    let before = tree_digest(&src);
    let ins: serde_json::Value = {
        let (code, out, err) = run(&["inspect", s, "-o", "json"]);
        assert_eq!(code, 0, "{err}");
        serde_json::from_slice(&out).unwrap()
    };
    let replay = &ins["wal"]["replay"];
    assert!(
        replay["entries_applied"].as_u64().unwrap() > 1000,
        "{replay}"
    );
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(testdata("expected/killed.json")).unwrap()).unwrap();
    assert_eq!(
        ins["revision"], expected["last_acked_revision"],
        "every acknowledged write is replayed"
    );
    let ours = dump(&["dump", s]);
    let db_alone = dump(&["dump", "--no-wal", s]);
    assert_eq!(
        db_alone,
        dump(&["dump", src.join("member/snap/db").to_str().unwrap()]),
        "--no-wal reads the db alone"
    );
    assert!(db_alone.len() < ours.len());
    let rev = ins["revision"].as_i64().unwrap();
    let samples = [rev - 1000, rev - 333, rev - 1];
    let ours_at: Vec<_> = samples
        .iter()
        .map(|r| dump(&["dump", s, &format!("--revision={r}")]))
        .collect();

    let (_guard, copy) = copy_to_temp(&src);
    let etcd = Etcd::start(&copy, "killed");
    let (header, kvs) = etcd.get_all(None);
    assert_eq!(header, rev);
    assert_eq!(ours, kvs, "latest state after replay");
    for (r, o) in samples.iter().zip(&ours_at) {
        assert_eq!(o, &etcd.get_all(Some(*r)).1, "state at revision {r}");
    }
    // Every acknowledged write of the burst is there at its revision (library API).
    let source = reshift::source::Source::open(&src).unwrap();
    let db = source.db().unwrap();
    let (base, wal) = reshift::etcd::open::keyspace_and_wal(&source, &db, true).unwrap();
    let wal = wal.unwrap();
    let ks = base.with_replay(&wal.replayed);
    let mut checked = 0;
    for op in expected["burst"].as_array().unwrap() {
        let at = op["revision"].as_i64().unwrap();
        match op["op"].as_str().unwrap() {
            "put" => {
                let key = op["key"].as_str().unwrap().as_bytes();
                let r = ks
                    .get(key, Some(at))
                    .unwrap()
                    .unwrap_or_else(|| panic!("{op}"));
                assert_eq!(r.kv().mod_revision, at, "{op}");
            }
            "delete" => {
                let key = op["key"].as_str().unwrap().as_bytes();
                assert!(ks.get(key, Some(at)).unwrap().is_none(), "{op}");
                assert!(ks.get(key, Some(at - 1)).unwrap().is_some(), "{op}");
            }
            _ => continue,
        }
        checked += 1;
    }
    assert!(checked > 1000, "{checked} acknowledged writes checked");
    drop(etcd);
    assert_eq!(before, tree_digest(&src), "testdata untouched");
}
