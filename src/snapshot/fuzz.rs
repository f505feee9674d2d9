//! Fuzz body for the snapshot reader: any bytes opened, verified and read as a keyspace,
//! never a panic or an unbounded allocation.

/// Reads `data` as a snapshot file in every way reshift does.
pub fn fuzz_snapshot(data: &[u8]) {
    let name: crate::error::FileName = std::sync::Arc::from(std::path::Path::new("fuzz.rsnap"));
    let Ok(snap) = super::Snapshot::open(data, &name) else {
        return;
    };
    let _ = snap.verify();
    let _ = snap.extras();
    let _ = snap.get(b"/registry/pods/default/a", None);
    if let Ok(chunks) = snap.all_chunks() {
        if let Ok(ks) = super::open::keyspace(&snap, &chunks) {
            std::hint::black_box(ks.state(b"", None).map(|s| s.count()).ok());
        }
    }
}
