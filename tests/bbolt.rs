//! The bbolt reader on real etcd files from testdata/, intact and damaged.

mod common;
use common::*;
use reshift::bbolt::{Db, MetaState, bucket_stats, check};
use reshift::source::{Source, SourceKind};
use std::path::Path;
use std::sync::Arc;

fn clean_db() -> Vec<u8> {
    std::fs::read(testdata("clean/member/snap/db")).unwrap()
}

/// Every (bucket path, key, value) of a db, walked with the cursor.
fn all_entries(db: &Db<'_>) -> Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    for b in db.root_bucket().iter() {
        let b = b.unwrap();
        assert!(b.is_bucket(), "etcd's root holds only buckets");
        let bucket = db.bucket(&[b.key]).unwrap().unwrap();
        for e in bucket.iter() {
            let e = e.unwrap();
            out.push((b.key.to_vec(), e.key.to_vec(), e.value.to_vec()));
        }
    }
    out
}

fn name() -> reshift::error::FileName {
    Arc::from(Path::new("test.db"))
}

#[test]
fn reads_etcd_buckets_and_passes_check() {
    let data = clean_db();
    let n = name();
    let db = Db::open(&data, &n).unwrap();
    let (in_use, metas) = db.metas();
    assert!(matches!(metas[0], MetaState::Valid(_)) && matches!(metas[1], MetaState::Valid(_)));
    assert!(in_use <= 1);
    assert_eq!(db.page_size(), 4096);
    let names: Vec<Vec<u8>> = db
        .root_bucket()
        .iter()
        .map(|e| e.unwrap().key.to_vec())
        .collect();
    for want in [
        "alarm",
        "auth",
        "authRoles",
        "authUsers",
        "cluster",
        "key",
        "lease",
        "members",
        "members_removed",
        "meta",
    ] {
        assert!(
            names.contains(&want.as_bytes().to_vec()),
            "bucket {want} missing: {names:?}"
        );
    }
    let report = check(&db);
    assert!(report.ok(), "{:?}", report.findings);
    // Every page below the high-water mark is accounted for: meta, reachable or free.
    assert_eq!(
        report.reachable_pages + report.free_pages + 2,
        report.high_water
    );
    let stats = bucket_stats(&db.root_bucket(), b"").unwrap();
    let key = stats.children.iter().find(|c| c.name == "key").unwrap();
    assert!(key.keys > 500, "many revisions expected, got {}", key.keys);
    assert!(
        key.overflow_pages > 0,
        "the bundled data has values larger than a page"
    );
    assert!(key.branch_pages > 0, "the key bucket is more than one leaf");
}

#[test]
fn cursor_seek_next_and_prefix_agree_with_a_full_walk() {
    let data = clean_db();
    let n = name();
    let db = Db::open(&data, &n).unwrap();
    let key = db.bucket(&[b"key"]).unwrap().unwrap();
    let all: Vec<_> = key.iter().map(|e| e.unwrap()).collect();
    assert!(all.windows(2).all(|w| w[0].key < w[1].key), "keys in order");
    // Leaves found by walking branches hold exactly the entries, in order.
    let from_leaves: Vec<_> = key
        .leaf_pages()
        .unwrap()
        .iter()
        .flat_map(|p| (0..p.len()).map(|i| p.leaf(i).unwrap()).collect::<Vec<_>>())
        .collect();
    assert_eq!(from_leaves, all);
    for (i, e) in all.iter().enumerate().step_by(97) {
        assert_eq!(key.get(e.key).unwrap(), Some(e.value));
        // Seeking a key just below an existing one lands on it.
        // The greatest key below this one that no entry can sit between.
        let mut below = e.key.to_vec();
        match below.last().copied() {
            Some(0) => {
                below.pop();
            }
            _ => {
                *below.last_mut().unwrap() -= 1;
                below.push(0xff);
            }
        }
        let got = key.from(&below).next().unwrap().unwrap();
        assert_eq!(got.key, e.key, "seek below entry {i}");
        // A prefix of one main revision yields its entries and no other.
        let p = &e.key[..8];
        let want: Vec<_> = all.iter().filter(|x| x.key.starts_with(p)).collect();
        let got: Vec<_> = key.prefix(p).map(|x| x.unwrap()).collect();
        assert_eq!(got.len(), want.len());
    }
    assert_eq!(key.get(b"no such key").unwrap(), None);
    assert!(key.from(&[0xff; 20]).next().is_none(), "seek past the end");
}

#[test]
fn etcdctl_snapshot_file_is_verified_and_reads_like_its_db() {
    let src = Source::open(&testdata("snapshot.db")).unwrap();
    assert_eq!(src.kind, SourceKind::EtcdctlSnapshot);
    let db = src.db().unwrap();
    assert!(check(&db).ok());
    assert!(db.bucket(&[b"key"]).unwrap().is_some());
    // A flipped byte anywhere makes the trailer check fail.
    let (_g, copy) = copy_to_temp(&testdata("snapshot.db"));
    let mut bytes = std::fs::read(&copy).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&copy, &bytes).unwrap();
    let err = Source::open(&copy)
        .err()
        .expect("damaged snapshot must fail");
    assert!(err.to_string().contains("sha256"), "{err}");
}

#[test]
fn data_dir_member_dir_and_db_file_resolve_to_the_same_db() {
    let a = Source::open(&testdata("clean")).unwrap();
    let b = Source::open(&testdata("clean/member")).unwrap();
    let c = Source::open(&testdata("clean/member/snap/db")).unwrap();
    assert_eq!(a.kind, SourceKind::DataDir);
    assert_eq!(b.kind, SourceKind::MemberDir);
    assert_eq!(c.kind, SourceKind::DbFile);
    assert!(a.wal_dir.is_some() && b.wal_dir.is_some());
    let (ea, eb, ec) = (
        all_entries(&a.db().unwrap()),
        all_entries(&b.db().unwrap()),
        all_entries(&c.db().unwrap()),
    );
    assert_eq!(ea, eb);
    assert_eq!(ea, ec);
}

#[test]
fn zeroed_meta_page_loses_nothing() {
    let data = clean_db();
    let n = name();
    let intact = Db::open(&data, &n).unwrap();
    let want = all_entries(&intact);
    let (current, metas) = intact.metas();
    let roots: Vec<u64> = metas
        .iter()
        .map(|m| match m {
            MetaState::Valid(m) => m.root,
            MetaState::Invalid(f) => panic!("intact meta invalid: {f}"),
        })
        .collect();
    // etcd's last commit on a clean stop changes nothing, so both metas hold the same tree.
    assert_eq!(
        roots[0], roots[1],
        "a cleanly stopped etcd leaves both metas on one root"
    );
    for page in 0..2usize {
        let mut d = data.clone();
        d[page * 4096..(page + 1) * 4096].fill(0);
        let db = Db::open(&d, &n).unwrap();
        let (in_use, metas) = db.metas();
        assert_eq!(usize::from(in_use), 1 - page, "the other meta is used");
        assert!(matches!(metas[page], MetaState::Invalid(_)));
        let report = check(&db);
        assert!(
            report
                .findings
                .iter()
                .any(|f| f.what.contains(&format!("meta page {page}"))),
            "{:?}",
            report.findings
        );
        assert_eq!(
            all_entries(&db),
            want,
            "zeroed meta {page} (in use: {current})"
        );
    }
    let mut both = data.clone();
    both[..8192].fill(0);
    let err = Db::open(&both, &n).unwrap_err().to_string();
    assert!(
        err.contains("meta page 0") && err.contains("meta page 1"),
        "{err}"
    );
}

#[test]
fn damaged_files_give_errors_not_panics() {
    let data = clean_db();
    let n = name();
    // Empty, random, truncated.
    assert!(Db::open(&[], &n).unwrap_err().to_string().contains("empty"));
    let mut x: u64 = 0x9e3779b97f4a7c15;
    let random: Vec<u8> = (0..64 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    assert!(Db::open(&random, &n).is_err());
    for cut in [100, 4096, 8192 + 100, data.len() / 2, data.len() - 4096] {
        let d = &data[..cut];
        match Db::open(d, &n) {
            Err(e) => assert!(!e.to_string().is_empty()),
            Ok(db) => {
                // Some page lies past the end: the check names it, walks fail cleanly.
                let r = check(&db);
                assert!(!r.ok(), "truncated to {cut} must be reported");
                let _ = reshift::etcd::Keyspace::build(&db);
            }
        }
    }
    // Scribble over every branch and leaf page of the key bucket, one at a time for a
    // sample, and read everything: errors or findings, never a panic.
    let db = Db::open(&data, &n).unwrap();
    let pages: Vec<u64> = db
        .bucket(&[b"key"])
        .unwrap()
        .unwrap()
        .leaf_pages()
        .unwrap()
        .iter()
        .filter_map(|p| match p.id {
            reshift::bbolt::PageId::File(id) => Some(id),
            _ => None,
        })
        .collect();
    for &id in pages.iter().step_by(pages.len() / 7 + 1) {
        for scribble in [0x00u8, 0xff, 0x5a] {
            let mut d = data.clone();
            let off = id as usize * 4096;
            for (i, b) in d[off + 8..off + 200].iter_mut().enumerate() {
                *b = scribble.wrapping_add(i as u8);
            }
            let db = Db::open(&d, &n).unwrap();
            let r = check(&db);
            assert!(!r.ok(), "scribbled page {id} must be found");
            assert!(
                r.findings
                    .iter()
                    .any(|f| f.page == Some(id) || f.what.contains(&format!("page {id}"))),
                "finding names page {id}: {:?}",
                &r.findings[..r.findings.len().min(3)]
            );
            let _ = reshift::etcd::Keyspace::build(&db);
            fuzz_like(&d);
        }
    }
}

fn fuzz_like(d: &[u8]) {
    reshift::bbolt::fuzz::fuzz_db(d);
}

#[test]
fn cli_errors_are_one_line_and_inputs_untouched() {
    let before = tree_digest(&testdata("clean"));
    let (code, out, _) = run(&["inspect", testdata("clean").to_str().unwrap(), "-o", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    for f in [
        "revision",
        "compact_revision",
        "consistent_index",
        "live_keys",
        "total_revisions",
        "db_bytes",
        "resources",
    ] {
        assert!(v.get(f).is_some(), "inspect json lacks {f}");
    }
    let (code, _, _) = run(&["check", testdata("clean").to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(
        before,
        tree_digest(&testdata("clean")),
        "inputs were modified"
    );
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    for bad in [
        empty.to_str().unwrap(),
        dir.path().to_str().unwrap(),
        "/nonexistent/path",
    ] {
        let (code, out, err) = run(&["inspect", bad]);
        assert_eq!(code, 1, "{bad}");
        assert!(out.is_empty());
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert!(err.starts_with("reshift: "), "{err}");
    }
    let (code, _, _) = run(&["inspect"]);
    assert_eq!(code, 2, "usage error");
}

/// Small dbs written by Go bbolt at three page sizes (`benches/gobolt -make`), kept as
/// fuzz seeds: nested, inline and overflowing entries read back exactly.
#[test]
fn any_page_size_nested_inline_and_overflow() {
    for ps in [1024usize, 4096, 16384] {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join(format!("fuzz/corpus/bbolt/gobolt-ps{ps}.db"));
        let data = std::fs::read(&path).unwrap();
        let n = name();
        let db = Db::open(&data, &n).unwrap();
        assert_eq!(db.page_size(), ps);
        let r = check(&db);
        assert!(
            r.ok() && r.freelist_stored && r.free_pages > 0,
            "{ps}: {:?}",
            r.findings
        );
        let big = db.bucket(&[b"big"]).unwrap().unwrap();
        let keys = big.prefix(b"key-").count();
        assert_eq!(keys, 200, "300 written, every third deleted");
        assert_eq!(big.get(b"key-00001").unwrap(), Some(&b"v1;v1;"[..]));
        assert_eq!(big.get(b"key-00003").unwrap(), None);
        assert_eq!(big.get(b"overflow").unwrap().unwrap().len(), 3 * ps + 17);
        let deep = db
            .bucket(&[b"big", b"nested", b"inline-child"])
            .unwrap()
            .unwrap();
        assert!(deep.is_inline());
        assert_eq!(deep.get(b"deep").unwrap(), Some(&b"value"[..]));
        assert!(db.bucket(&[b"small"]).unwrap().unwrap().is_inline());
        assert_eq!(db.bucket(&[b"empty"]).unwrap().unwrap().iter().count(), 0);
        let s = bucket_stats(&db.root_bucket(), b"").unwrap();
        assert_eq!(s.total_keys(), 204);
    }
}
