//! etcd's HashKV of a keyspace: the number `etcdctl endpoint hashkv` prints, computed from
//! the revision records offline. Reads the keyspace only; never opens or writes files.
//!
//! The algorithm (etcd 3.4 `mvcc/kvstore.go` `HashByRev`, 3.5+ `storage/mvcc/hash.go`):
//! CRC-32C over the bucket name `key`, then over each record of the `key` bucket in
//! revision order — its revision key (17 bytes, 18 with the tombstone mark) followed by
//! its stored `mvccpb.KeyValue` — for every record whose main revision is at most the
//! hashed revision. Records at or below the compact revision are hashed only when a
//! compaction at the hashed revision would keep them (the newest revision of a key that
//! is live there); when no key is live there, all of them are hashed.

use super::keyspace::Keyspace;
use super::revision::{Revision, encode_rev_key};
use crate::error::{Error, Result};
use serde::Serialize;
use std::collections::HashSet;

/// What `HashKV` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KvHash {
    pub hash: u32,
    /// The revision hashed up to.
    pub hash_revision: i64,
    /// The store's current revision.
    pub revision: i64,
    /// The compact revision as etcd holds it after opening the db (-1: never compacted).
    pub compact_revision: i64,
}

/// The compact revision etcd's store has once it has opened this db: the finished
/// compaction, or a scheduled one it resumes; -1 when there was none.
pub fn store_compact_revision(ks: &Keyspace<'_>) -> i64 {
    let m = &ks.meta;
    match (m.finished_compact_revision, m.scheduled_compact_revision) {
        (None, None) => -1,
        (f, s) => f.unwrap_or(-1).max(s.unwrap_or(-1)),
    }
}

/// HashKV at `at` (`None`: the current revision). Refused, as etcd refuses it, for a
/// revision below the compact revision or past the current one.
pub fn hash_kv(ks: &Keyspace<'_>, at: Option<i64>) -> Result<KvHash> {
    let compact = store_compact_revision(ks);
    let current = ks.revision;
    let rev = match at {
        None | Some(0) => current,
        Some(r) if r < 0 => return Err(Error::invalid(format!("revision {r} is negative"))),
        Some(r) if r > current => {
            return Err(Error::invalid(format!(
                "revision {r} is in the future: the current revision is {current}"
            )));
        }
        Some(r) if r < compact => {
            return Err(Error::invalid(format!(
                "revision {r} has been compacted: the compact revision is {compact}"
            )));
        }
        Some(r) => r,
    };
    // The revisions a compaction at `rev` keeps, among those at or below `compact` (the
    // only ones the filter looks at), and whether it keeps any at all.
    let mut keep_old: HashSet<Revision> = HashSet::new();
    let mut keep_any = false;
    let records = ks.records();
    {
        // Per key: the newest record at or below `rev`; kept when it is not a deletion.
        let mut newest: std::collections::HashMap<&[u8], (Revision, bool)> =
            std::collections::HashMap::new();
        for r in records.iter().take_while(|r| r.rev.main <= rev) {
            newest.insert(r.key, (r.rev, r.tombstone));
        }
        for (rv, tomb) in newest.into_values() {
            if !tomb {
                keep_any = true;
                if rv.main <= compact {
                    keep_old.insert(rv);
                }
            }
        }
    }
    let mut crc = crc32c::crc32c(super::schema::KEY);
    for r in records.iter().take_while(|r| r.rev.main <= rev) {
        if r.rev.main <= compact && keep_any && !keep_old.contains(&r.rev) {
            continue;
        }
        crc = crc32c::crc32c_append(crc, &encode_rev_key(r.rev, r.tombstone));
        crc = crc32c::crc32c_append(crc, r.kv);
    }
    Ok(KvHash {
        hash: crc,
        hash_revision: rev,
        revision: current,
        compact_revision: compact,
    })
}
