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
use crate::bbolt::{Db, LeafElem, Page};
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
    /// Where each key's run starts in `by_key`, plus a final `by_key.len()`.
    run_starts: Vec<u32>,
    /// The store's current revision, as etcd computes it when it opens the db.
    pub revision: i64,
    /// The revision compacted at (0 when never compacted).
    pub compact_revision: i64,
    pub meta: EtcdMeta,
}

/// The first `i` in `0..n` for which `pred` is false (`pred` must be true, then false).
fn partition(n: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Leaves decoded per parallel task: large enough to amortize, small enough to balance.
const LEAVES_PER_TASK: usize = 64;

fn decode_leaf<'a>(db: &Db<'a>, page: &Page<'a>, out: &mut Vec<RevRecord<'a>>) -> Result<()> {
    for i in 0..page.len() {
        let e = page.leaf(i).map_err(|f| db.page_fault(page, f))?;
        out.push(decode_entry(db, &e)?);
    }
    Ok(())
}

/// One entry of the key bucket as a record; a fault names the entry's offset in the db.
fn decode_entry<'a>(db: &Db<'a>, e: &LeafElem<'a>) -> Result<RevRecord<'a>> {
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
    Ok(RevRecord {
        rev: rk.rev,
        tombstone: rk.tombstone,
        key: kv.key,
        kv: e.value,
    })
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

    /// The keyspace of only the records after revision `after` — what changed since a
    /// state at `after` — read by seeking the `key` bucket (ordered by revision) to
    /// `after + 1` and walking the leaves from there, instead of decoding every leaf. Its
    /// revision, compaction and meta are the whole db's, as [`Keyspace::build`] gives them;
    /// its history holds nothing at or before `after`. `None` when the bucket is missing,
    /// or its last record cannot be found without a scan (the caller builds the whole
    /// keyspace then).
    pub fn build_after(db: &Db<'a>, after: i64) -> Result<Option<Keyspace<'a>>> {
        let meta = read_meta(db)?;
        let Some(bucket) = db.bucket(&[schema::KEY])? else {
            return Ok(None);
        };
        let Some(last) = bucket.cursor().last()? else {
            return Ok(None);
        };
        let last = parse_rev_key(last.key).map_err(|w| {
            db.fault_at(
                db.offset_of(last.key),
                format!("key bucket: {w} (found {} bytes)", last.key.len()),
            )
        })?;
        let from = super::revision::encode_rev_key(
            Revision {
                main: after.saturating_add(1),
                sub: 0,
            },
            false,
        );
        let mut records: Vec<RevRecord<'a>> = Vec::new();
        let mut cursor = bucket.cursor();
        let mut at = cursor.seek(&from)?;
        while let Some(e) = at {
            at = cursor.next_entry()?;
            let r = decode_entry(db, &e)?;
            if let Some(prev) = records.last().filter(|p| p.rev >= r.rev) {
                return Err(db.fault_at(
                    db.offset_of(e.value),
                    format!(
                        "key bucket out of order: revision {} follows {}",
                        r.rev, prev.rev
                    ),
                ));
            }
            records.push(r);
            if records.len() > u32::MAX as usize {
                return Err(Error::invalid("more than 4 billion revisions"));
            }
        }
        let mut ks = Self::from_records(records, meta);
        ks.revision = ks.revision.max(last.rev.main);
        Ok(Some(ks))
    }

    /// Indexes records given in revision order.
    pub fn from_records(records: Vec<RevRecord<'a>>, meta: EtcdMeta) -> Keyspace<'a> {
        // Keys are scattered over the map; sorting by comparing them in place costs a cache
        // miss per comparison. Copy them once, in map order, into one buffer and sort there.
        let mut arena = Vec::with_capacity(records.iter().map(|r| r.key.len()).sum());
        let mut starts = Vec::with_capacity(records.len() + 1);
        for r in &records {
            starts.push(arena.len());
            arena.extend_from_slice(r.key);
        }
        starts.push(arena.len());
        let key = |i: u32| &arena[starts[i as usize]..starts[i as usize + 1]];
        // Records of the empty key are never keys: no client can name it (etcd refuses an
        // empty key, and every range starts at "\0" or later). They are revision markers —
        // `etcdutl snapshot restore --bump-revision` writes one at the raised revision
        // (an empty value, so a KeyValue of nothing), reshift's own restore a deletion —
        // and count only towards the revision and the records.
        let mut by_key: Vec<u32> = (0..records.len() as u32)
            .filter(|&i| !records[i as usize].key.is_empty())
            .collect();
        // Ties broken by index keep each key's revisions in revision order.
        by_key.par_sort_unstable_by(|&a, &b| key(a).cmp(key(b)).then(a.cmp(&b)));
        let mut run_starts: Vec<u32> = Vec::new();
        for (i, w) in by_key.iter().enumerate() {
            if i == 0 || key(by_key[i - 1]) != key(*w) {
                run_starts.push(i as u32);
            }
        }
        run_starts.push(by_key.len() as u32);
        drop(arena);
        let compact_revision = meta.compact_revision();
        let last = records.last().map_or(1, |r| r.rev.main);
        Keyspace {
            revision: last.max(compact_revision).max(1),
            compact_revision,
            records,
            by_key,
            run_starts,
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

    /// The key of run `r`.
    fn run_key(&self, r: usize) -> &'a [u8] {
        self.records[self.by_key[self.run_starts[r] as usize] as usize].key
    }

    /// Runs of `by_key` (one per key) whose key starts with `prefix`, in key order.
    fn runs<'s>(&'s self, prefix: &'s [u8]) -> impl Iterator<Item = &'s [u32]> + 's {
        let n = self.run_starts.len() - 1;
        let lo = partition(n, |r| self.run_key(r) < prefix);
        let hi = lo + partition(n - lo, |r| self.run_key(lo + r).starts_with(prefix));
        (lo..hi).map(move |r| {
            &self.by_key[self.run_starts[r] as usize..self.run_starts[r + 1] as usize]
        })
    }

    /// Live keys in `[start, end)` (`end` `None`: to the last key) at the latest revision,
    /// in key order.
    pub fn live_range<'s>(
        &'s self,
        start: &'s [u8],
        end: Option<&'s [u8]>,
    ) -> impl Iterator<Item = RevRecord<'a>> + 's {
        let n = self.run_starts.len() - 1;
        let lo = partition(n, |r| self.run_key(r) < start);
        let hi = match end {
            Some(e) => partition(n, |r| self.run_key(r) < e),
            None => n,
        };
        (lo..hi.max(lo)).filter_map(move |r| {
            let last = self.by_key[self.run_starts[r + 1] as usize - 1];
            let rec = self.records[last as usize];
            (!rec.tombstone).then_some(rec)
        })
    }

    /// Takes the records out, for building a new keyspace from them.
    pub fn into_records(self) -> (Vec<RevRecord<'a>>, EtcdMeta) {
        (self.records, self.meta)
    }

    /// Every record whose key starts with `prefix`, ordered by key and, within a key, by
    /// revision (tombstones included).
    pub fn all_by_key<'s>(&'s self, prefix: &'s [u8]) -> impl Iterator<Item = RevRecord<'a>> + 's {
        self.runs(prefix)
            .flatten()
            .map(|&i| self.records[i as usize])
    }

    /// Number of distinct keys with any revision in the db.
    pub fn distinct_keys(&self) -> usize {
        self.run_starts.len() - 1
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

    /// [`Keyspace::state`] from the first key after `after` (all of them when `None`): a
    /// paged reader seeks to where the last page ended instead of walking up to it.
    pub fn state_after<'s>(
        &'s self,
        prefix: &'s [u8],
        after: Option<&'s [u8]>,
        at: Option<i64>,
    ) -> Result<impl Iterator<Item = RevRecord<'a>> + 's> {
        if let Some(r) = at {
            self.check_revision(r)?;
        }
        let at = at.unwrap_or(i64::MAX);
        let n = self.run_starts.len() - 1;
        let mut lo = partition(n, |r| self.run_key(r) < prefix);
        if let Some(a) = after {
            lo = lo.max(partition(n, |r| self.run_key(r) <= a));
        }
        let hi = lo + partition(n - lo, |r| self.run_key(lo + r).starts_with(prefix));
        Ok((lo..hi).filter_map(move |r| {
            let run = &self.by_key[self.run_starts[r] as usize..self.run_starts[r + 1] as usize];
            let k = run.partition_point(|&i| self.records[i as usize].rev.main <= at);
            let rec = self.records[run[k.checked_sub(1)?] as usize];
            (!rec.tombstone).then_some(rec)
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
