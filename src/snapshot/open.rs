//! A snapshot as the read commands see it: its records as a keyspace.

use super::reader::Snapshot;
use crate::error::{Error, Result};
use crate::etcd::KeyValueRef;
use crate::etcd::keyspace::{Keyspace, RevRecord};
use crate::etcd::meta::EtcdMeta;

/// Builds a keyspace over `chunks` (the snapshot's decompressed chunks, which the
/// keyspace borrows).
pub fn keyspace<'c, C: AsRef<[u8]>>(snap: &Snapshot<'_>, chunks: &'c [C]) -> Result<Keyspace<'c>> {
    let mut records = Vec::new();
    for (i, raw) in chunks.iter().enumerate() {
        chunk_records(snap, i, raw.as_ref(), &mut records)?;
    }
    // The keyspace wants revision order; the file keeps key order.
    records.sort_unstable_by_key(|r| r.rev);
    let mut ks = Keyspace::from_records(records, meta(snap));
    ks.revision = ks
        .revision
        .max(snap.facts.at_revision.unwrap_or(snap.facts.revision));
    Ok(ks)
}

/// Appends the records of chunk `i` (decompressed in `raw`) with their keys.
pub fn chunk_records<'c>(
    snap: &Snapshot<'_>,
    i: usize,
    raw: &'c [u8],
    out: &mut Vec<RevRecord<'c>>,
) -> Result<()> {
    for r in snap.records_of(i, raw)? {
        let key = KeyValueRef::decode(r.kv)
            .map_err(|e| {
                Error::corrupt(
                    snap.file,
                    snap.index[i].offset,
                    format!("chunk {i}: KeyValue: {e}"),
                )
            })?
            .key;
        out.push(RevRecord {
            rev: r.rev,
            tombstone: r.tombstone,
            key,
            kv: r.kv,
        });
    }
    Ok(())
}

/// What a snapshot's header says of the store: applied index, term, and the compaction a
/// keyspace of its records has (a latest-state snapshot holds no revision before the one
/// it was taken at).
pub fn meta(snap: &Snapshot<'_>) -> EtcdMeta {
    let f = &snap.facts;
    EtcdMeta {
        consistent_index: f.consistent_index,
        term: f.term,
        finished_compact_revision: Some(if f.mode == "history" {
            f.compact_revision
        } else {
            f.at_revision.unwrap_or(f.revision)
        })
        .filter(|&c| c > 0),
        ..Default::default()
    }
}
