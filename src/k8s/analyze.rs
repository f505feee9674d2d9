//! What fills a keyspace: live keys and value bytes, kept revisions and their bytes, per
//! resource (grouped as [`crate::etcd::inspect::resource_of`] groups them, so totals match
//! `inspect`) and per namespace; the largest objects live and over their kept revisions;
//! the keys with the most revisions; what a compaction at a revision would remove; and the
//! share of events and leases. One pass over the keyspace in key order; it never decodes a
//! value and never writes.

use super::key::parse_key;
use crate::error::Result;
use crate::etcd::Keyspace;
use crate::etcd::inspect::resource_of;
use crate::etcd::keyspace::RevRecord;
use serde::Serialize;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

/// Bytes a revision takes in the `key` bucket: its 17-byte revision key and its encoded
/// KeyValue.
pub const REV_KEY_BYTES: u64 = 17;

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Usage {
    /// Live keys.
    pub keys: u64,
    /// Value bytes of the live keys.
    pub bytes: u64,
    /// Revisions kept (deletions included).
    pub revisions: u64,
    /// Bytes of the kept revisions in the `key` bucket (revision key plus KeyValue).
    pub revision_bytes: u64,
}

impl Usage {
    fn add(&mut self, o: &Usage) {
        self.keys += o.keys;
        self.bytes += o.bytes;
        self.revisions += o.revisions;
        self.revision_bytes += o.revision_bytes;
    }
}

/// One key and its figures.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct KeyFigure {
    /// What it is ranked by: live value bytes, bytes over its revisions, or revisions.
    pub value: u64,
    /// The key, printable.
    pub key: String,
}

/// What compacting at a revision would remove.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Compaction {
    pub revision: i64,
    pub revisions_removed: u64,
    pub bytes_removed: u64,
    pub keys_gone: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    pub revision: i64,
    pub compact_revision: i64,
    pub total: Usage,
    /// Per resource, as `inspect` names them (`pods`, `example.com/widgets`, `/other`).
    pub resources: BTreeMap<String, Usage>,
    /// Per namespace of object keys; `(cluster)` for cluster-scoped objects, `(none)` for
    /// keys that are no object keys.
    pub namespaces: BTreeMap<String, Usage>,
    pub largest_live: Vec<KeyFigure>,
    pub largest_history: Vec<KeyFigure>,
    pub most_revisions: Vec<KeyFigure>,
    pub compaction: Option<Compaction>,
    /// Events' and leases' usage (coordination leases and the apiserver's masterleases).
    pub events: Usage,
    pub leases: Usage,
    /// The db file's space (none for a reshift snapshot).
    pub db: Option<DbSpace>,
}

/// A db file's size, what of it is in use, and what is free (what a defragmentation
/// would give back).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DbSpace {
    pub bytes: u64,
    pub in_use: u64,
    pub free: u64,
    pub free_pages: u64,
    pub page_size: u64,
}

/// The space of `db`, a file of `bytes` bytes.
pub fn db_space(db: &crate::bbolt::Db<'_>, bytes: u64) -> Result<DbSpace> {
    let in_use = crate::etcd::inspect::db_bytes_in_use(db)?;
    let page_size = db.page_size() as u64;
    let free = bytes.saturating_sub(in_use);
    Ok(DbSpace {
        bytes,
        in_use,
        free,
        free_pages: free / page_size.max(1),
        page_size,
    })
}

/// Keeps the `n` largest figures seen.
struct Top {
    n: usize,
    heap: BinaryHeap<Reverse<(u64, Vec<u8>)>>,
}

impl Top {
    fn new(n: usize) -> Top {
        Top {
            n,
            heap: BinaryHeap::with_capacity(n + 1),
        }
    }

    fn offer(&mut self, value: u64, key: &[u8]) {
        if self.n == 0 {
            return;
        }
        if self.heap.len() == self.n {
            match self.heap.peek() {
                Some(Reverse((v, _))) if *v >= value => return,
                _ => {}
            }
        }
        self.heap.push(Reverse((value, key.to_vec())));
        if self.heap.len() > self.n {
            self.heap.pop();
        }
    }

    fn into_figures(self) -> Vec<KeyFigure> {
        let mut v: Vec<KeyFigure> = self
            .heap
            .into_iter()
            .map(|Reverse((value, key))| KeyFigure {
                value,
                key: crate::display::printable(&key).into_owned(),
            })
            .collect();
        v.sort_by(|a, b| b.value.cmp(&a.value).then_with(|| a.key.cmp(&b.key)));
        v
    }
}

/// Analyzes `ks` under the apiserver prefix `prefix`, listing the `top` largest of each
/// ranking; with `compact_at`, also what compacting there would remove (an error when the
/// revision is not in `compact revision ..= revision`).
pub fn analyze(
    ks: &Keyspace<'_>,
    prefix: &str,
    top: usize,
    compact_at: Option<i64>,
) -> Result<Analysis> {
    if let Some(r) = compact_at {
        ks.check_revision(r)?;
    }
    let mut a = Analysis {
        revision: ks.revision,
        compact_revision: ks.compact_revision,
        total: Usage::default(),
        resources: BTreeMap::new(),
        namespaces: BTreeMap::new(),
        largest_live: Vec::new(),
        largest_history: Vec::new(),
        most_revisions: Vec::new(),
        compaction: compact_at.map(|revision| Compaction {
            revision,
            revisions_removed: 0,
            bytes_removed: 0,
            keys_gone: 0,
        }),
        events: Usage::default(),
        leases: Usage::default(),
        db: None,
    };
    let (mut live_top, mut hist_top, mut revs_top) = (Top::new(top), Top::new(top), Top::new(top));
    let mut run: Vec<RevRecord<'_>> = Vec::new();
    let mut flush = |run: &[RevRecord<'_>], a: &mut Analysis| {
        let Some(last) = run.last() else { return };
        let key = last.key;
        let mut u = Usage {
            revisions: run.len() as u64,
            revision_bytes: run.iter().map(|r| REV_KEY_BYTES + r.kv.len() as u64).sum(),
            ..Usage::default()
        };
        if !last.tombstone {
            u.keys = 1;
            u.bytes = last.kv().value.len() as u64;
            live_top.offer(u.bytes, key);
        }
        hist_top.offer(u.revision_bytes, key);
        revs_top.offer(u.revisions, key);
        if let Some(c) = &mut a.compaction {
            // etcd keeps every revision above the compaction and the newest at or below it,
            // unless that one is a deletion.
            let at_or_below = run.partition_point(|r| r.rev.main <= c.revision);
            if at_or_below > 0 {
                let newest = &run[at_or_below - 1];
                let removed = if newest.tombstone {
                    &run[..at_or_below]
                } else {
                    &run[..at_or_below - 1]
                };
                c.revisions_removed += removed.len() as u64;
                c.bytes_removed += removed
                    .iter()
                    .map(|r| REV_KEY_BYTES + r.kv.len() as u64)
                    .sum::<u64>();
                c.keys_gone += u64::from(newest.tombstone && at_or_below == run.len());
            }
        }
        a.total.add(&u);
        let resource = String::from_utf8_lossy(resource_of(key));
        let parsed = std::str::from_utf8(key)
            .ok()
            .and_then(|k| parse_key(k, prefix));
        let namespace = match &parsed {
            Some(k) => k.namespace.unwrap_or("(cluster)"),
            None => "(none)",
        };
        if let Some(k) = &parsed {
            match (k.group, k.resource) {
                ("", "events") | ("events.k8s.io", "events") => a.events.add(&u),
                ("coordination.k8s.io", "leases") | (_, "masterleases") => a.leases.add(&u),
                ("", "leases") => a.leases.add(&u),
                _ => {}
            }
        }
        match a.resources.get_mut(resource.as_ref()) {
            Some(x) => x.add(&u),
            None => {
                a.resources.insert(resource.into_owned(), u.clone());
            }
        }
        match a.namespaces.get_mut(namespace) {
            Some(x) => x.add(&u),
            None => {
                a.namespaces.insert(namespace.to_string(), u);
            }
        }
    };
    for r in ks.all_by_key(b"") {
        if run.last().is_some_and(|l| l.key != r.key) {
            flush(&run, &mut a);
            run.clear();
        }
        run.push(r);
    }
    flush(&run, &mut a);
    // Records of the empty key (revision markers) belong to no key but are revisions.
    let markers = ks.total_revisions() as u64 - a.total.revisions;
    if markers > 0 {
        let u = Usage {
            revisions: markers,
            revision_bytes: ks
                .records()
                .iter()
                .filter(|r| r.key.is_empty())
                .map(|r| REV_KEY_BYTES + r.kv.len() as u64)
                .sum(),
            ..Usage::default()
        };
        a.total.add(&u);
        a.resources
            .entry("(revision markers)".into())
            .or_default()
            .add(&u);
    }
    a.largest_live = live_top.into_figures();
    a.largest_history = hist_top.into_figures();
    a.most_revisions = revs_top.into_figures();
    Ok(a)
}
