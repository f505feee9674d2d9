//! `check` verifies etcd's schema on top of bbolt's structure: copies of the bundled clean
//! member, each with one record rewritten in place, are each reported as damaged with the
//! finding that names what a read or etcd's start would fail on.

mod common;
use common::*;
use std::path::{Path, PathBuf};

/// Byte offsets into the clean db of the records the cases rewrite.
struct Places {
    /// A KeyValue value (not the first of its leaf) whose next revision has another main.
    kv_value: usize,
    kv_len: usize,
    /// The revision key of that record.
    rev_key: usize,
    lease_key: usize,
    member_value: usize,
    consistent_index_key: usize,
}

fn offset(whole: &[u8], part: &[u8]) -> usize {
    part.as_ptr() as usize - whole.as_ptr() as usize
}

fn places(b: &[u8]) -> Places {
    let name: reshift::error::FileName = std::sync::Arc::from(Path::new("db"));
    let db = reshift::bbolt::Db::open(b, &name).unwrap();
    let key = db.bucket(&[b"key"]).unwrap().unwrap();
    let entries: Vec<_> = key.iter().map(Result::unwrap).collect();
    let i = (1..entries.len() - 1)
        .find(|&i| {
            entries[i].key.len() == 17
                && entries[i].key[..8] != entries[i + 1].key[..8]
                && entries[i].key[..8] != entries[i - 1].key[..8]
                && !entries[i].value.is_empty()
        })
        .unwrap();
    let lease = db.bucket(&[b"lease"]).unwrap().unwrap();
    let lease_key = offset(b, lease.iter().next().unwrap().unwrap().key);
    let members = db.bucket(&[b"members"]).unwrap().unwrap();
    let member_value = offset(b, members.iter().next().unwrap().unwrap().value);
    let meta = db.bucket(&[b"meta"]).unwrap().unwrap();
    let ci = meta
        .iter()
        .map(Result::unwrap)
        .find(|e| e.key == b"consistent_index")
        .unwrap();
    Places {
        kv_value: offset(b, entries[i].value),
        kv_len: entries[i].value.len(),
        rev_key: offset(b, entries[i].key),
        lease_key,
        member_value,
        consistent_index_key: offset(b, ci.key),
    }
}

/// A copy of the clean member with `change` applied to its db bytes.
fn damaged(tmp: &Path, name: &str, change: impl FnOnce(&mut Vec<u8>, &Places)) -> PathBuf {
    let dir = tmp.join(name);
    copy_tree(&testdata("clean"), &dir);
    let db = dir.join("member/snap/db");
    let mut b = std::fs::read(&db).unwrap();
    let p = places(&b);
    change(&mut b, &p);
    std::fs::write(&db, &b).unwrap();
    dir
}

/// Runs `check` and asserts it finds damage naming `expect`.
fn finds(dir: &Path, expect: &str) -> String {
    let (code, out, err) = run(&["check", dir.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&out).into_owned();
    assert_eq!(code, 1, "{dir:?}: exit {code}: {out}{err}");
    assert!(out.contains("damage found"), "{dir:?}: {out}");
    assert!(
        out.contains(expect),
        "{dir:?}: expected {expect:?} in:\n{out}"
    );
    out
}

#[test]
fn clean_member_is_intact() {
    let (code, out, err) = run(&["check", &clean()]);
    let out = String::from_utf8_lossy(&out);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("intact"), "{out}");
}

#[test]
fn a_keyvalue_that_is_not_protobuf_is_a_finding() {
    let tmp = tempfile::tempdir().unwrap();
    // Field 1 with wire type 7 (no such type) as the value's first byte.
    let d = damaged(tmp.path(), "kv", |b, p| b[p.kv_value] = 0x0f);
    finds(&d, "does not decode");
}

#[test]
fn a_revision_key_of_the_wrong_shape_is_a_finding() {
    let tmp = tempfile::tempdir().unwrap();
    let d = damaged(tmp.path(), "revkey", |b, p| b[p.rev_key + 8] = b'`');
    finds(&d, "byte 8 of a revision key");
}

#[test]
fn a_mod_revision_other_than_the_key_revision_is_a_finding() {
    let tmp = tempfile::tempdir().unwrap();
    let d = damaged(tmp.path(), "modrev", |b, p| {
        let v = &b[p.kv_value..p.kv_value + p.kv_len];
        // Field 3 (mod_revision) varint: tag 0x18. Find it past the key field.
        let klen = v[1] as usize;
        let at = 2 + klen;
        assert_eq!(v[at], 0x10, "create_revision follows the key");
        let mut i = at + 1;
        while v[i] & 0x80 != 0 {
            i += 1;
        }
        assert_eq!(v[i + 1], 0x18, "mod_revision follows create_revision");
        b[p.kv_value + i + 2] ^= 0x01;
    });
    finds(&d, "says its mod revision is");
}

#[test]
fn a_lease_whose_key_and_value_disagree_is_a_finding() {
    let tmp = tempfile::tempdir().unwrap();
    let d = damaged(tmp.path(), "lease", |b, p| b[p.lease_key + 7] ^= 0x01);
    finds(&d, "lease bucket");
}

#[test]
fn member_json_that_does_not_parse_is_a_finding() {
    let tmp = tempfile::tempdir().unwrap();
    let d = damaged(tmp.path(), "member", |b, p| b[p.member_value] = b'!');
    finds(&d, "JSON does not parse");
}

#[test]
fn a_misnamed_consistent_index_is_a_finding() {
    let tmp = tempfile::tempdir().unwrap();
    // One bit: 'c' becomes 'C' (the key keeps its place in the sorted leaf).
    let d = damaged(tmp.path(), "meta", |b, p| b[p.consistent_index_key] ^= 0x20);
    let out = finds(&d, "unknown key Consistent_index");
    assert!(out.contains("no consistent_index"), "{out}");
}

#[test]
fn a_zero_byte_wal_segment_is_a_finding() {
    let tmp = tempfile::tempdir().unwrap();
    let d = damaged(tmp.path(), "wal0", |_, _| {});
    let wal = std::fs::read_dir(d.join("member/wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "wal"))
        .unwrap();
    std::fs::File::create(&wal).unwrap();
    let out = finds(&d, "a 0-byte WAL segment");
    assert!(out.contains("the WAL holds no entries"), "{out}");
}

#[test]
fn a_db_from_another_member_is_a_finding() {
    let tmp = tempfile::tempdir().unwrap();
    let d = damaged(tmp.path(), "other", |_, _| {});
    std::fs::copy(testdata("killed/member/snap/db"), d.join("member/snap/db")).unwrap();
    finds(&d, "comes from another member");
}
