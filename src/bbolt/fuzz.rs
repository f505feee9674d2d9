//! Fuzz body for the bbolt reader: any bytes, read as a database, must give values or
//! errors — never a panic, a hang or an unbounded allocation. `fuzz/` runs it under
//! libFuzzer; `cargo test` runs it over `fuzz/corpus/bbolt/`.

use super::{Db, bucket_stats, check};
use std::path::Path;
use std::sync::Arc;

/// Reads `data` as a bbolt file in every way reshift does.
pub fn fuzz_db(data: &[u8]) {
    let name: crate::error::FileName = Arc::from(Path::new("fuzz-input"));
    let Ok(db) = Db::open(data, &name) else {
        return;
    };
    let _ = check(&db);
    let root = db.root_bucket();
    // Each page is visited at most once, so no walk yields more entries than the file
    // holds leaf elements (16 bytes each, at least): a shared subtree must be an error,
    // never a walk that multiplies.
    let most = (data.len() / 16) as u64 + 1;
    if let Ok(s) = bucket_stats(&root, b"") {
        assert!(
            s.total_keys() <= most,
            "stats counted {} keys",
            s.total_keys()
        );
    }
    // Walk every bucket and entry, bounded so a pathological input cannot run long.
    let mut seen = 0usize;
    for e in root.iter().take(10_000) {
        let Ok(e) = e else { break };
        if let Ok(Some(b)) = root.bucket(e.key) {
            let mut mine = 0u64;
            for x in b.iter() {
                seen += 1;
                mine += 1;
                assert!(
                    mine <= most,
                    "a bucket walk yielded more entries than the file holds"
                );
                if x.is_err() {
                    break;
                }
            }
            let _ = b.leaf_pages();
            let _ = b.get(b"\x00\x00\x00\x00\x00\x00\x00\x01_\x00\x00\x00\x00\x00\x00\x00\x00");
        }
    }
    std::hint::black_box(seen);
}
