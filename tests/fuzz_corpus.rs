//! Runs every fuzz target's body over its checked-in corpus (`fuzz/corpus/<target>/`).

use std::path::Path;

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let p = e.unwrap().path();
            (p.display().to_string(), std::fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "empty corpus for {target}");
    out
}

#[test]
fn bbolt_corpus() {
    for (name, data) in corpus("bbolt") {
        eprintln!("{name}");
        reshift::bbolt::fuzz::fuzz_db(&data);
    }
}

#[test]
fn wal_records_corpus() {
    for (name, data) in corpus("wal_records") {
        eprintln!("{name}");
        reshift::wal::fuzz::fuzz_wal_records(&data);
    }
}

#[test]
fn raft_request_corpus() {
    for (name, data) in corpus("raft_request") {
        eprintln!("{name}");
        reshift::wal::fuzz::fuzz_raft_request(&data);
    }
}

#[test]
fn k8s_value_corpus() {
    for (name, data) in corpus("k8s_value") {
        eprintln!("{name}");
        reshift::k8s::fuzz::fuzz_k8s_value(&data);
    }
}

#[test]
fn snapshot_corpus() {
    for (name, data) in corpus("snapshot") {
        eprintln!("{name}");
        reshift::snapshot::fuzz::fuzz_snapshot(&data);
    }
}

#[test]
fn encryption_corpus() {
    for (name, data) in corpus("encryption") {
        eprintln!("{name}");
        reshift::k8s::fuzz::fuzz_encrypted_value(&data);
    }
}
