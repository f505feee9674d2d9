//! Reads degrade per record: a damaged lease or member record is reported on stderr (one
//! line each, plus a count) and every key is still served; a meta layout without a
//! consistent index is refused rather than answered differently.

mod common;
use common::*;
use std::path::{Path, PathBuf};

fn offset(whole: &[u8], part: &[u8]) -> usize {
    part.as_ptr() as usize - whole.as_ptr() as usize
}

/// A copy of the clean member whose db has the first record of `bucket` changed by
/// `change(bytes, key offset, value offset)`.
fn damaged(
    tmp: &Path,
    bucket: &[u8],
    key: Option<&[u8]>,
    change: impl FnOnce(&mut [u8], usize, usize),
) -> PathBuf {
    let dir = tmp.join(String::from_utf8_lossy(bucket).as_ref());
    copy_tree(&testdata("clean"), &dir);
    let path = dir.join("member/snap/db");
    let mut b = std::fs::read(&path).unwrap();
    let (k, v) = {
        let name: reshift::error::FileName = std::sync::Arc::from(Path::new("db"));
        let db = reshift::bbolt::Db::open(&b, &name).unwrap();
        let bk = db.bucket(&[bucket]).unwrap().unwrap();
        let e = bk
            .iter()
            .map(Result::unwrap)
            .find(|e| key.is_none_or(|k| e.key == k))
            .unwrap();
        (offset(&b, e.key), offset(&b, e.value))
    };
    change(&mut b, k, v);
    std::fs::write(&path, &b).unwrap();
    dir
}

/// Every read command succeeds on `dir`, serves the same keys as the clean member, and
/// reports one skipped record mentioning `what`.
fn served_with_one_skipped(dir: &Path, what: &str) {
    let d = dir.to_str().unwrap();
    let clean_dump = ok(&["dump", &clean()]);
    let out_dir = tempfile::tempdir().unwrap();
    let snap = out_dir.path().join("s.rsnap");
    let restored = out_dir.path().join("restored");
    let runs: Vec<Vec<String>> = vec![
        vec!["dump".into(), d.into()],
        vec!["ls".into(), d.into()],
        vec!["inspect".into(), d.into()],
        vec![
            "snapshot".into(),
            d.into(),
            "-o".into(),
            snap.to_str().unwrap().into(),
        ],
        vec![
            "restore".into(),
            d.into(),
            "--data-dir".into(),
            restored.to_str().unwrap().into(),
        ],
    ];
    for args in &runs {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out, err) = run(&args);
        assert_eq!(code, 0, "{args:?}: {err}");
        let skipped: Vec<_> = err
            .lines()
            .filter(|l| l.contains("skipped a damaged record"))
            .collect();
        assert_eq!(skipped.len(), 1, "{args:?}: {err}");
        assert!(skipped[0].contains(what), "{args:?}: {err}");
        assert!(err.contains("1 damaged records skipped"), "{args:?}: {err}");
        if args[0] == "dump" {
            assert_eq!(out, clean_dump, "every key is served");
        }
    }
    // The snapshot holds every key too.
    assert_eq!(ok(&["dump", snap.to_str().unwrap()]), clean_dump);
}

#[test]
fn a_lease_that_does_not_decode_costs_only_that_lease() {
    let tmp = tempfile::tempdir().unwrap();
    // Field 1 with wire type 7 (no such type).
    let d = damaged(tmp.path(), b"lease", None, |b, _, v| b[v] = 0x0f);
    served_with_one_skipped(&d, "lease bucket");
    let (code, out, _) = run(&["check", d.to_str().unwrap()]);
    assert_eq!(code, 1, "{}", String::from_utf8_lossy(&out));
}

#[test]
fn a_lease_whose_key_and_value_disagree_costs_only_that_lease() {
    let tmp = tempfile::tempdir().unwrap();
    let d = damaged(tmp.path(), b"lease", None, |b, k, _| b[k + 7] ^= 0x01);
    served_with_one_skipped(&d, "lease bucket");
}

#[test]
fn member_json_that_does_not_parse_costs_only_that_member() {
    let tmp = tempfile::tempdir().unwrap();
    let d = damaged(tmp.path(), b"members", None, |b, _, v| b[v] = b'!');
    served_with_one_skipped(&d, "member JSON");
}

#[test]
fn a_misnamed_consistent_index_is_refused_not_replayed_again() {
    let tmp = tempfile::tempdir().unwrap();
    let d = damaged(tmp.path(), b"meta", Some(b"consistent_index"), |b, k, _| {
        b[k] ^= 0x20
    });
    let s = d.to_str().unwrap();
    for cmd in ["dump", "inspect", "ls"] {
        let (code, out, err) = run(&[cmd, s]);
        assert_eq!(code, 1, "{cmd}: {}", String::from_utf8_lossy(&out));
        assert!(err.contains("no consistent_index"), "{cmd}: {err}");
        assert!(err.contains("Consistent_index"), "{cmd}: {err}");
    }
    // The db alone is still readable, as it is.
    assert_eq!(
        ok(&["dump", "--no-wal", s]),
        ok(&["dump", "--no-wal", &clean()])
    );
}
