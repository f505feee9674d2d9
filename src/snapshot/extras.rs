//! The extras a snapshot keeps: every entry of every bucket but `key`, as the db holds
//! them, except what a WAL replay changed — leases and the meta bucket's applied index and
//! compaction marks.

use crate::bbolt::Db;
use crate::error::Result;
use crate::etcd::keyspace::Keyspace;
use crate::etcd::lease::LeaseInfo;
use crate::etcd::revision::{Revision, encode_rev_key};
use crate::etcd::schema;
use crate::pb::leasepb;
use prost::Message;

pub type Entry = (Vec<u8>, Vec<u8>, Vec<u8>);

/// Extras from a db; `leases` (after replay) replace the lease bucket, and the keyspace's
/// meta replaces the applied index and compaction marks.
pub fn from_db(db: &Db<'_>, ks: &Keyspace<'_>, leases: &[LeaseInfo]) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    for b in db.root_bucket().iter() {
        let b = b?;
        if !b.is_bucket() || b.key == schema::KEY || b.key == schema::LEASE {
            continue;
        }
        let bucket = db.bucket(&[b.key])?.expect("listed bucket");
        for e in bucket.iter() {
            let e = e?;
            if e.is_bucket() {
                continue;
            }
            out.push((b.key.to_vec(), e.key.to_vec(), e.value.to_vec()));
        }
    }
    override_from(&mut out, ks, leases);
    Ok(out)
}

/// Applies the keyspace's meta and `leases` to `entries`.
pub fn override_from(entries: &mut Vec<Entry>, ks: &Keyspace<'_>, leases: &[LeaseInfo]) {
    entries.retain(|(b, _, _)| b != schema::LEASE);
    for l in leases {
        let v = leasepb::Lease {
            id: l.id,
            ttl: l.ttl,
            remaining_ttl: l.remaining_ttl,
        }
        .encode_to_vec();
        entries.push((schema::LEASE.to_vec(), l.id.to_be_bytes().to_vec(), v));
    }
    let mut set = |key: &[u8], value: Vec<u8>| match entries
        .iter_mut()
        .find(|(b, k, _)| b == schema::META && k == key)
    {
        Some(e) => e.2 = value,
        None => entries.push((schema::META.to_vec(), key.to_vec(), value)),
    };
    if let Some(ci) = ks.meta.consistent_index {
        set(schema::CONSISTENT_INDEX, ci.to_be_bytes().to_vec());
    }
    if ks.compact_revision > 0 {
        let rk = encode_rev_key(
            Revision {
                main: ks.compact_revision,
                sub: 0,
            },
            false,
        );
        set(schema::FINISHED_COMPACT, rk.clone());
        set(schema::SCHEDULED_COMPACT, rk);
    }
    // A compaction scheduled past the finished one (restore --mark-compacted): etcd runs it
    // when it opens the db.
    if let Some(s) = ks
        .meta
        .scheduled_compact_revision
        .filter(|&s| s > ks.compact_revision)
    {
        set(
            schema::SCHEDULED_COMPACT,
            encode_rev_key(Revision { main: s, sub: 0 }, false),
        );
    }
    entries.sort();
}
