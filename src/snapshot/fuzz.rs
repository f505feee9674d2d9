//! Fuzz body for the snapshot reader: any bytes opened, verified and read as a keyspace,
//! never a panic or an unbounded allocation.

/// Reads `data` as a snapshot file in every way reshift does; and as a columnar chunk,
/// and as a chunk's record stream, which must survive the columnar transform unchanged.
pub fn fuzz_snapshot(data: &[u8]) {
    let _ = super::columns::decode(data, (data.len() as u64).saturating_mul(4));
    if let Some(enc) = super::columns::encode(data) {
        let back = super::columns::decode(&enc, data.len() as u64);
        assert_eq!(back.as_deref(), Ok(data), "columnar round trip");
    }
    let name: crate::error::FileName = std::sync::Arc::from(std::path::Path::new("fuzz.rsnap"));
    let Ok(snap) = super::Snapshot::open(data, &name) else {
        return;
    };
    let _ = snap.verify();
    let _ = snap.extras();
    let _ = snap.get(b"/registry/pods/default/a", None);
    let _ = snap.all_chunks_flat();
    // Restore as the CLI does, into memory: laid out from the heads, chunks decoded into
    // their places.
    if let Ok(Some(placed)) = crate::restore::placed::plan(&snap, 3, true) {
        if let Ok(extras) = snap.extras() {
            let out = std::io::Cursor::new(Vec::new());
            let keys = crate::restore::db::Keys::Sized(&placed.slots);
            if let Ok((out, holes)) =
                crate::restore::db::write_db(out, name.as_ref(), keys, &extras)
            {
                let mut db = out.into_inner();
                let _ = crate::restore::placed::fill_slice(&snap, &placed, &holes, &mut db);
            }
        }
    }
    if let Ok(chunks) = snap.all_chunks() {
        if let Ok(ks) = super::open::keyspace(&snap, &chunks) {
            std::hint::black_box(ks.state(b"", None).map(|s| s.count()).ok());
        }
    }
}
