//! A summary of a db: revisions, compaction, raft position, sizes per bucket and per
//! Kubernetes resource.

use super::auth::{AuthInfo, read_auth};
use super::buckets::Buckets;
use super::cluster::{ClusterInfo, read_cluster};
use super::keyspace::{Keyspace, RevRecord};
use super::lease::LeaseInfo;
use super::open::WalSummary;
use crate::bbolt::{BucketStats, Db, bucket_stats};
use crate::error::Result;
use crate::k8s::object::describe_kind;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Usage {
    pub count: u64,
    pub bytes: u64,
}

impl Usage {
    fn add(&mut self, u: &Usage) {
        self.count += u.count;
        self.bytes += u.bytes;
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    pub revision: i64,
    pub compact_revision: i64,
    pub consistent_index: Option<u64>,
    pub term: Option<u64>,
    /// The db's schema version (`meta/storageVersion`, etcd 3.6+).
    pub storage_version: Option<String>,
    pub live_keys: u64,
    pub total_revisions: u64,
    /// Bytes of the db file (without any snapshot hash trailer).
    pub db_bytes: u64,
    /// Bytes of pages in use (meta, bucket trees, stored freelist): the file's size up to
    /// its high-water mark less its free pages, as etcd's `dbSizeInUse` counts.
    pub db_bytes_in_use: u64,
    pub page_size: usize,
    pub buckets: Vec<BucketStats>,
    /// Live keys and value bytes per resource (see [`resource_of`]).
    pub resources: BTreeMap<String, Usage>,
    /// Live keys and value bytes per namespace, and per resource within it, for the keys
    /// the apiserver's layout gives a namespace (see [`crate::k8s::key::parse_key`]).
    pub namespaces: BTreeMap<String, NamespaceUsage>,
    pub leases: Vec<LeaseUsage>,
    pub cluster: ClusterInfo,
    pub auth: AuthInfo,
    /// The WAL and its replay; absent for a bare db or with `--no-wal`.
    pub wal: Option<WalSummary>,
    /// Live Kubernetes objects and value bytes per `apiVersion kind`.
    pub kinds: BTreeMap<String, Usage>,
    /// Live values encrypted at rest, per `provider:version:key name`.
    pub encrypted: BTreeMap<String, u64>,
    /// Live values by encoding: protobuf, json, encrypted, raw.
    pub encodings: BTreeMap<&'static str, u64>,
    /// Values whose envelope or metadata does not decode.
    pub undecodable: u64,
    /// With an encryption config: per `provider:version:key name`, how many of the live
    /// encrypted values decrypt, and why the others do not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decryption: Option<BTreeMap<String, crate::k8s::encryption::Tally>>,
    /// Set when etcd is running on the member: how its db was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<crate::live::Live>,
}

/// One namespace's live keys: totals, and per resource (named as in
/// [`Inspection::resources`]).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct NamespaceUsage {
    pub count: u64,
    pub bytes: u64,
    pub resources: BTreeMap<String, Usage>,
}

/// A lease and the live keys attached to it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LeaseUsage {
    pub id: i64,
    /// The ID as etcdctl prints it.
    pub id_hex: String,
    pub ttl: i64,
    pub remaining_ttl: i64,
    pub keys: u64,
}

/// The resource part of a key: for `/registry/...` keys, the apiserver's resource without
/// the prefix (with its group when stored under one, and `services/specs`-style
/// sub-resources); otherwise the first path segment.
pub fn resource_of(key: &[u8]) -> &[u8] {
    let Some(rest) = key.strip_prefix(b"/registry/") else {
        let end = key[1.min(key.len())..]
            .iter()
            .position(|&c| c == b'/')
            .map_or(key.len(), |p| p + 1.min(key.len()));
        return &key[..end];
    };
    let base = key.len() - rest.len();
    let mut segs = rest.split(|&c| c == b'/');
    let first = segs.next().unwrap_or_default();
    let mut len = first.len();
    if first.contains(&b'.') || first == b"services" {
        if let Some(s) = segs.next() {
            len += 1 + s.len();
        }
    }
    &key[base..base + len]
}

/// What one pass over the live keys counts; each core counts a run of keys, then the
/// tallies are merged.
#[derive(Default)]
struct Tally {
    live: u64,
    resources: BTreeMap<String, Usage>,
    namespaces: BTreeMap<String, NamespaceUsage>,
    attached: std::collections::HashMap<i64, u64>,
    kinds: BTreeMap<String, Usage>,
    encrypted: BTreeMap<String, u64>,
    encodings: BTreeMap<&'static str, u64>,
    undecodable: u64,
}

impl Tally {
    /// Counts `keys` (a run of the keyspace in key order, so a resource's and a namespace's
    /// keys come together and each run is merged into the maps once).
    fn count(keys: &[RevRecord<'_>]) -> Tally {
        let mut t = Tally::default();
        let mut current: Option<(&[u8], Usage)> = None;
        let mut current_ns: Option<(&[u8], &str, Usage)> = None;
        let mut name = String::new();
        for r in keys {
            let (key, kv) = (r.key, r.kv());
            let (value, lease) = (kv.value, kv.lease);
            t.live += 1;
            let res = resource_of(key);
            let vlen = value.len() as u64;
            if lease != 0 {
                *t.attached.entry(lease).or_default() += 1;
            }
            let o = describe_kind(key, value, crate::k8s::DEFAULT_PREFIX);
            *t.encodings.entry(o.encoding).or_insert(0) += 1;
            t.undecodable += u64::from(o.error.is_some());
            if let Some(e) = &o.encrypted {
                *t.encrypted
                    .entry(format!("{}:{}:{}", e.provider, e.version, e.key_name))
                    .or_insert(0) += 1;
            }
            if !o.kind.is_empty() {
                // Most objects share a few kinds: look the name up before allocating it.
                name.clear();
                name.push_str(&o.api_version);
                name.push(' ');
                name.push_str(&o.kind);
                let u = match t.kinds.get_mut(name.as_str()) {
                    Some(u) => u,
                    None => t.kinds.entry(name.clone()).or_default(),
                };
                u.add(&Usage {
                    count: 1,
                    bytes: o.value_bytes as u64,
                });
            }
            let one = Usage {
                count: 1,
                bytes: vlen,
            };
            if let Some(ns) = o.namespace {
                match &mut current_ns {
                    Some((rn, n, u)) if *rn == res && *n == ns => u.add(&one),
                    _ => {
                        if let Some((rn, n, u)) = current_ns.replace((res, ns, one.clone())) {
                            merge_namespace(&mut t.namespaces, n, rn, u);
                        }
                    }
                }
            }
            match &mut current {
                Some((name, u)) if *name == res => u.add(&one),
                _ => {
                    if let Some((name, u)) = current.replace((res, one)) {
                        merge(&mut t.resources, name, u);
                    }
                }
            }
        }
        if let Some((name, u)) = current {
            merge(&mut t.resources, name, u);
        }
        if let Some((rn, n, u)) = current_ns {
            merge_namespace(&mut t.namespaces, n, rn, u);
        }
        t
    }

    fn merge(mut self, b: Tally) -> Tally {
        self.live += b.live;
        for (k, v) in b.resources {
            self.resources.entry(k).or_default().add(&v);
        }
        for (k, v) in b.namespaces {
            let e = self.namespaces.entry(k).or_default();
            e.count += v.count;
            e.bytes += v.bytes;
            for (r, u) in v.resources {
                e.resources.entry(r).or_default().add(&u);
            }
        }
        for (k, v) in b.attached {
            *self.attached.entry(k).or_default() += v;
        }
        for (k, v) in b.kinds {
            self.kinds.entry(k).or_default().add(&v);
        }
        for (k, v) in b.encrypted {
            *self.encrypted.entry(k).or_insert(0) += v;
        }
        for (k, v) in b.encodings {
            *self.encodings.entry(k).or_insert(0) += v;
        }
        self.undecodable += b.undecodable;
        self
    }
}

/// Every live key counted on all cores: per resource and namespace, leases, and the
/// kinds, encryption and encodings of the values.
fn tally(ks: &Keyspace<'_>) -> Result<Tally> {
    // The records only: their KeyValues are decoded on the cores that count them.
    let keys: Vec<RevRecord<'_>> = ks.state(b"", None)?.collect();
    // Runs long enough that merging the maps is rare, short enough to share the cores.
    Ok(keys
        .par_chunks(2048)
        .map(Tally::count)
        .reduce(Tally::default, Tally::merge))
}

pub fn inspect(
    db: Option<&Db<'_>>,
    buckets: &impl Buckets,
    ks: &Keyspace<'_>,
    db_bytes: u64,
    leases: Vec<LeaseInfo>,
    wal: Option<WalSummary>,
) -> Result<Inspection> {
    let (root, t) = rayon::join(
        || match db {
            Some(db) => bucket_stats(&db.root_bucket(), b""),
            None => Ok(BucketStats::default()),
        },
        || tally(ks),
    );
    let (root, t) = (root?, t?);
    Ok(Inspection {
        revision: ks.revision,
        compact_revision: ks.compact_revision,
        consistent_index: ks.meta.consistent_index,
        term: ks.meta.term,
        storage_version: ks.meta.storage_version.clone(),
        live_keys: t.live,
        total_revisions: ks.total_revisions() as u64,
        db_bytes,
        db_bytes_in_use: match db {
            Some(db) => in_use_bytes(db, &root)?,
            None => 0,
        },
        page_size: db.map_or(0, |d| d.page_size()),
        buckets: root.children,
        resources: t.resources,
        namespaces: t.namespaces,
        leases: leases
            .into_iter()
            .map(|l| LeaseUsage {
                id: l.id,
                id_hex: format!("{:x}", l.id),
                ttl: l.ttl,
                remaining_ttl: l.remaining_ttl,
                keys: t.attached.get(&l.id).copied().unwrap_or(0),
            })
            .collect(),
        cluster: read_cluster(buckets)?,
        auth: read_auth(buckets)?,
        wal,
        kinds: t.kinds,
        encrypted: t.encrypted,
        encodings: t.encodings,
        undecodable: t.undecodable,
        decryption: None,
        live: None,
    })
}

/// Bytes of the db's pages in use, as [`Inspection::db_bytes_in_use`] counts them.
pub fn db_bytes_in_use(db: &Db<'_>) -> Result<u64> {
    in_use_bytes(db, &bucket_stats(&db.root_bucket(), b"")?)
}

fn in_use_bytes(db: &Db<'_>, root: &BucketStats) -> Result<u64> {
    fn allocated(s: &BucketStats) -> u64 {
        s.bytes_allocated + s.children.iter().map(allocated).sum::<u64>()
    }
    let ps = db.page_size() as u64;
    let freelist = if db.meta().has_freelist() {
        (u64::from(db.page(db.meta().freelist)?.overflow) + 1) * ps
    } else {
        0
    };
    Ok(2 * ps + allocated(root) + freelist)
}

fn merge(m: &mut BTreeMap<String, Usage>, name: &[u8], u: Usage) {
    let e = m
        .entry(String::from_utf8_lossy(name).into_owned())
        .or_default();
    e.add(&u);
}

fn merge_namespace(m: &mut BTreeMap<String, NamespaceUsage>, ns: &str, res: &[u8], u: Usage) {
    let e = match m.get_mut(ns) {
        Some(e) => e,
        None => m.entry(ns.to_string()).or_default(),
    };
    e.count += u.count;
    e.bytes += u.bytes;
    merge(&mut e.resources, res, u);
}

#[cfg(test)]
mod tests {
    use super::resource_of;

    #[test]
    fn resources() {
        assert_eq!(resource_of(b"/registry/pods/ns/a"), b"pods");
        assert_eq!(
            resource_of(b"/registry/services/specs/ns/a"),
            b"services/specs"
        );
        assert_eq!(
            resource_of(b"/registry/example.com/widgets/ns/a"),
            b"example.com/widgets"
        );
        assert_eq!(resource_of(b"/other/plain"), b"/other");
        assert_eq!(resource_of(b"plain"), b"plain");
        assert_eq!(resource_of(b""), b"");
    }
}
