//! The keyspace model: every revision in the `key` bucket, indexed by key, holding the
//! locations of keys and values (slices of the map), never copies of them.
//!
//! Built in one pass over the bucket's leaf pages, decoded on all cores. Answers the
//! latest state, the state at any revision not below the compaction, and the history
//! of each key, in etcd's key order.

use super::kv::KeyValueRef;
use super::meta::{EtcdMeta, read_meta};
use super::revision::{Revision, parse_rev_key};
use super::schema;
use crate::bbolt::{Db, Page};
use crate::error::{Error, Result};
use rayon::prelude::*;

/// One revision of one key: where its record lives and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevRecord<'a> {
    pub rev: Revision,
    pub tombstone: bool,
    /// The user key (a slice of `kv`).
    pub key: &'a [u8],
    /// The encoded mvccpb.KeyValue.
    pub kv: &'a [u8],
}

impl<'a> RevRecord<'a> {
    /// The decoded KeyValue. Records are validated when the keyspace is built.
    pub fn kv(&self) -> KeyValueRef<'a> {
        KeyValueRef::decode(self.kv).unwrap_or_default()
    }
}

pub struct Keyspace<'a> {
    /// Every revision, in revision order.
    records: Vec<RevRecord<'a>>,
    /// Indices into `records`, ordered by key and, within a key, by revision.
    by_key: Vec<u32>,
    /// The store's current revision, as etcd computes it when it opens the db.
    pub revision: i64,
    /// The revision compacted at (0 when never compacted).
    pub compact_revision: i64,
    pub meta: EtcdMeta,
}

/// Leaves decoded per parallel task: large enough to amortize, small enough to balance.
const LEAVES_PER_TASK: usize = 64;

fn decode_leaf<'a>(db: &Db<'a>, page: &Page<'a>, out: &mut Vec<RevRecord<'a>>) -> Result<()> {
    for i in 0..page.len() {
        let e = page.leaf(i).map_err(|f| db.page_fault(page, f))?;
        if e.is_bucket() {
            return Err(db.fault_at(db.offset_of(e.key), "nested bucket inside the key bucket"));
        }
        let rk = parse_rev_key(e.key).map_err(|w| {
            db.fault_at(
                db.offset_of(e.key),
                format!("key bucket: {w} (found {} bytes)", e.key.len()),
            )
        })?;
        let kv = KeyValueRef::decode(e.value).map_err(|w| {
            db.fault_at(
                db.offset_of(e.value) + w.offset as u64,
                format!("KeyValue at revision {}: {}", rk.rev, w.what),
            )
        })?;
        out.push(RevRecord {
            rev: rk.rev,
            tombstone: rk.tombstone,
            key: kv.key,
            kv: e.value,
        });
    }
    Ok(())
}

impl<'a> Keyspace<'a> {
    /// Reads the `key` and `meta` buckets of `db`.
    pub fn build(db: &Db<'a>) -> Result<Keyspace<'a>> {
        let meta = read_meta(db)?;
        let leaves = match db.bucket(&[schema::KEY])? {
            Some(b) => b.leaf_pages()?,
            None => Vec::new(),
        };
        let chunks: Vec<Vec<RevRecord<'a>>> = leaves
            .par_chunks(LEAVES_PER_TASK)
            .map(|leaves| {
                let mut out = Vec::with_capacity(leaves.iter().map(|p| p.len()).sum());
                for p in leaves {
                    decode_leaf(db, p, &mut out)?;
                }
                Ok(out)
            })
            .collect::<Result<_>>()?;
        let mut records = Vec::with_capacity(chunks.iter().map(Vec::len).sum());
        for c in chunks {
            records.extend(c);
        }
        if records.len() > u32::MAX as usize {
            return Err(Error::invalid("more than 4 billion revisions"));
        }
        if let Some(w) = records.windows(2).position(|w| w[0].rev >= w[1].rev) {
            return Err(db.fault_at(
                db.offset_of(records[w + 1].kv),
                format!(
                    "key bucket out of order: revision {} follows {}",
                    records[w + 1].rev,
                    records[w].rev
                ),
            ));
        }
        Ok(Self::from_records(records, meta))
    }

    /// Indexes records given in revision order.
    pub fn from_records(records: Vec<RevRecord<'a>>, meta: EtcdMeta) -> Keyspace<'a> {
        let mut by_key: Vec<u32> = (0..records.len() as u32).collect();
        // Stable: within a key, revision order is kept.
        by_key.par_sort_by(|&a, &b| records[a as usize].key.cmp(records[b as usize].key));
        let compact_revision = meta.compact_revision();
        let last = records.last().map_or(1, |r| r.rev.main);
        Keyspace {
            revision: last.max(compact_revision).max(1),
            compact_revision,
            records,
            by_key,
            meta,
        }
    }

    /// Every revision record, in revision order.
    pub fn records(&self) -> &[RevRecord<'a>] {
        &self.records
    }

    /// Checks that the state at `rev` can be answered, as etcd would.
    pub fn check_revision(&self, rev: i64) -> Result<()> {
        if rev > self.revision {
            return Err(Error::invalid(format!(
                "revision {rev} is in the future: the current revision is {}",
                self.revision
            )));
        }
        if rev < self.compact_revision {
            return Err(Error::invalid(format!(
                "revision {rev} has been compacted: the oldest revision available is {}",
                self.compact_revision
            )));
        }
        Ok(())
    }

    /// Runs of `by_key` (one per key) whose key starts with `prefix`, in key order.
    fn runs<'s>(&'s self, prefix: &'s [u8]) -> impl Iterator<Item = &'s [u32]> + 's {
        let start = self
            .by_key
            .partition_point(|&i| self.records[i as usize].key < prefix);
        let rest = &self.by_key[start..];
        let end = rest.partition_point(|&i| self.records[i as usize].key.starts_with(prefix));
        rest[..end].chunk_by(|&a, &b| self.records[a as usize].key == self.records[b as usize].key)
    }

    /// Live keys under `prefix` at revision `at` (`None`: the latest state), in key order.
    pub fn state<'s>(
        &'s self,
        prefix: &'s [u8],
        at: Option<i64>,
    ) -> Result<impl Iterator<Item = RevRecord<'a>> + 's> {
        if let Some(r) = at {
            self.check_revision(r)?;
        }
        let at = at.unwrap_or(i64::MAX);
        Ok(self.runs(prefix).filter_map(move |run| {
            let n = run.partition_point(|&i| self.records[i as usize].rev.main <= at);
            let r = self.records[run[n.checked_sub(1)?] as usize];
            (!r.tombstone).then_some(r)
        }))
    }

    /// The record of `key` at `at` (latest when `None`), if the key is live there.
    pub fn get(&self, key: &[u8], at: Option<i64>) -> Result<Option<RevRecord<'a>>> {
        Ok(self.state(key, at)?.find(|r| r.key == key))
    }

    /// Every revision of `key` still in the db, oldest first, tombstones included.
    pub fn history<'s>(&'s self, key: &'s [u8]) -> impl Iterator<Item = RevRecord<'a>> + 's {
        self.runs(key)
            .find(|run| self.records[run[0] as usize].key == key)
            .into_iter()
            .flatten()
            .map(|&i| self.records[i as usize])
    }

    /// Number of revisions held.
    pub fn total_revisions(&self) -> usize {
        self.records.len()
    }
}
