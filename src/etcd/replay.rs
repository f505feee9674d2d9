//! Replaying the raft log a db has not applied yet, as etcd 3.4 applies it, so that the
//! last writes of a member killed between backend commits are recovered.
//!
//! Applies, in index order, every entry after the db's consistent index: puts, range
//! deletes, txns (all compares of the chosen path evaluated against the state before the
//! txn; the whole txn refused when a put names a missing lease or ignores the value or lease
//! of a missing key), lease grants, revokes (deleting the attached keys in key order) and
//! checkpoints, and compactions. A write txn with any change takes the next main revision;
//! each change takes the next sub revision.
//!
//! Auth is applied as etcd's auth applier does it ([`super::authz`]): the auth store starts
//! from the db's auth buckets, auth entries change it (admin only), and each request is
//! checked against the user and auth revision in its header before it is applied; a
//! refused request changes nothing. Requests that do not touch the keyspace or the auth
//! store (alarms, v2 membership, conf changes) advance only the applied index.

use super::authz::{AuthStore, Caller, Rules, needs_admin};
use super::keyspace::{Keyspace, RevRecord};
use super::kv::KeyValueRef;
use super::lease::LeaseInfo;
use super::revision::Revision;
use crate::pb::etcdserverpb::{self as pb, compare, request_op};
use crate::wal::{EntryRef, Payload, RaftLog, decode_payload};
use bytes::Bytes;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// The current state of a key touched by the replay.
#[derive(Debug, Clone)]
struct Live {
    create: i64,
    modrev: i64,
    version: i64,
    lease: i64,
    value: Bytes,
}

/// What the replay produced: new revision records (each an encoded KeyValue it owns) and
/// what changed beside the keyspace.
#[derive(Debug, Default)]
pub struct Replayed {
    records: Vec<(Revision, bool, Vec<u8>)>,
    /// Compactions applied, in order.
    pub compactions: Vec<i64>,
    pub leases: Vec<LeaseInfo>,
    /// The auth store after the replay.
    pub auth: AuthStore,
    pub report: ReplayReport,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ReplayReport {
    /// The db's consistent index: entries up to it were already applied.
    pub db_applied_index: u64,
    /// The last entry applied by the replay (equal to `db_applied_index` when none).
    pub applied_index: u64,
    /// Entries applied (of any kind).
    pub entries_applied: u64,
    /// Entries after the last applied one that were left out (not committed).
    pub entries_left_out: u64,
    /// Requests etcd would have refused (no revision taken), auth refusals included.
    pub requests_refused: u64,
    /// Of those, the ones refused by the auth checks (permission denied, an old auth
    /// revision, a non-admin user, or an auth change etcd refuses).
    pub refused_by_auth: u64,
    /// Whose applier rules were followed where etcd 3.4 and 3.5 differ.
    pub rules: Option<Rules>,
    /// Auth after the replay: enabled, and the auth revision.
    pub auth_enabled: bool,
    pub auth_revision: u64,
    pub revision_before: i64,
    pub revision_after: i64,
}

/// Which entries count as committed: up to the hard state's commit index, or every entry
/// when the member is the cluster's only voter — on restart it commits its whole log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    HardState,
    WholeLog,
}

struct Applier<'k, 'a> {
    base: &'k Keyspace<'a>,
    /// Live base keys by lease, built on the first revoke.
    base_by_lease: Option<HashMap<i64, Vec<&'a [u8]>>>,
    overlay: BTreeMap<Vec<u8>, Option<Live>>,
    leases: HashMap<i64, LeaseInfo>,
    rev: i64,
    compact: i64,
    auth: AuthStore,
    rules: Rules,
    out: Replayed,
}

fn in_range(key: &[u8], start: &[u8], end: &[u8]) -> bool {
    if end.is_empty() {
        key == start
    } else if end == [0] {
        key >= start
    } else {
        key >= start && key < end
    }
}

impl<'a> Applier<'_, 'a> {
    fn get(&self, key: &[u8]) -> Option<Live> {
        if let Some(v) = self.overlay.get(key) {
            return v.clone();
        }
        let r = self.base.get(key, None).ok().flatten()?;
        let kv = r.kv();
        Some(Live {
            create: kv.create_revision,
            modrev: kv.mod_revision,
            version: kv.version,
            lease: kv.lease,
            value: Bytes::copy_from_slice(kv.value),
        })
    }

    /// Live keys matching `key`/`range_end` as etcd reads a range: `range_end` empty means
    /// the key alone, `"\0"` every key from `key` on.
    fn live_keys(&self, key: &[u8], range_end: &[u8]) -> Vec<(Vec<u8>, Live)> {
        if range_end.is_empty() {
            return self
                .get(key)
                .map(|l| (key.to_vec(), l))
                .into_iter()
                .collect();
        }
        let end = (range_end != [0]).then_some(range_end);
        let mut out: BTreeMap<Vec<u8>, Live> = BTreeMap::new();
        for r in self.base.live_range(key, end) {
            if !self.overlay.contains_key(r.key) {
                let kv = r.kv();
                out.insert(
                    r.key.to_vec(),
                    Live {
                        create: kv.create_revision,
                        modrev: kv.mod_revision,
                        version: kv.version,
                        lease: kv.lease,
                        value: Bytes::copy_from_slice(kv.value),
                    },
                );
            }
        }
        for (k, v) in self.overlay.range(key.to_vec()..) {
            if !in_range(k, key, range_end) {
                if end.is_some_and(|e| k.as_slice() >= e) {
                    break;
                }
                continue;
            }
            if let Some(l) = v {
                out.insert(k.clone(), l.clone());
            }
        }
        out.into_iter().collect()
    }

    fn compare_ok(&self, c: &pb::Compare) -> bool {
        use compare::TargetUnion as T;
        let kvs = self.live_keys(&c.key, &c.range_end);
        let check = |l: Option<&Live>| -> bool {
            let ord = match (&c.target_union, l) {
                (Some(T::Value(v)), Some(l)) => l.value.as_ref().cmp(v.as_ref()),
                (Some(T::Value(v)), None) => b"".as_slice().cmp(v.as_ref()),
                (u, l) => {
                    let have = match c.target {
                        0 => l.map_or(0, |l| l.version),
                        1 => l.map_or(0, |l| l.create),
                        2 => l.map_or(0, |l| l.modrev),
                        4 => l.map_or(0, |l| l.lease),
                        _ => 0,
                    };
                    let want = match u {
                        Some(T::Version(x))
                        | Some(T::CreateRevision(x))
                        | Some(T::ModRevision(x))
                        | Some(T::Lease(x)) => *x,
                        _ => 0,
                    };
                    have.cmp(&want)
                }
            };
            use std::cmp::Ordering::*;
            match c.result {
                0 => ord == Equal,
                1 => ord == Greater,
                2 => ord == Less,
                3 => ord != Equal,
                _ => false,
            }
        };
        if kvs.is_empty() {
            // A value compare on keys that do not exist always fails.
            return c.target != 3 && check(None);
        }
        kvs.iter().all(|(_, l)| check(Some(l)))
    }

    /// The ops a txn runs, its nested txns' compares evaluated now, before any write.
    fn txn_path<'t>(&self, t: &'t pb::TxnRequest, ops: &mut Vec<&'t pb::RequestOp>) {
        let branch = if t.compare.iter().all(|c| self.compare_ok(c)) {
            &t.success
        } else {
            &t.failure
        };
        for op in branch {
            match &op.request {
                Some(request_op::Request::RequestTxn(inner)) => self.txn_path(inner, ops),
                _ => ops.push(op),
            }
        }
    }

    /// Whether a put would be refused (missing lease, or ignoring fields of a missing key).
    fn put_refused(&self, p: &pb::PutRequest) -> bool {
        if p.lease != 0 && !p.ignore_lease && !self.leases.contains_key(&p.lease) {
            return true;
        }
        (p.ignore_value || p.ignore_lease) && self.get(&p.key).is_none()
    }

    fn put(&mut self, p: &pb::PutRequest, sub: &mut i64) {
        let rev = self.rev + 1;
        let old = self.get(&p.key);
        let value = if p.ignore_value {
            old.as_ref().map(|o| o.value.clone()).unwrap_or_default()
        } else {
            p.value.clone()
        };
        let lease = if p.ignore_lease {
            old.as_ref().map_or(0, |o| o.lease)
        } else {
            p.lease
        };
        let live = Live {
            create: old.as_ref().map_or(rev, |o| o.create),
            modrev: rev,
            version: old.as_ref().map_or(0, |o| o.version) + 1,
            lease,
            value,
        };
        let kv = KeyValueRef {
            key: &p.key,
            create_revision: live.create,
            mod_revision: rev,
            version: live.version,
            value: &live.value,
            lease,
        };
        self.out.records.push((
            Revision {
                main: rev,
                sub: *sub,
            },
            false,
            kv.encode(),
        ));
        *sub += 1;
        self.overlay.insert(p.key.to_vec(), Some(live));
    }

    fn delete(&mut self, key: &[u8], range_end: &[u8], sub: &mut i64) {
        let rev = self.rev + 1;
        for (k, _) in self.live_keys(key, range_end) {
            let kv = KeyValueRef {
                key: &k,
                ..Default::default()
            };
            self.out.records.push((
                Revision {
                    main: rev,
                    sub: *sub,
                },
                true,
                kv.encode(),
            ));
            *sub += 1;
            self.overlay.insert(k, None);
        }
    }

    /// Runs ops in one write txn; bumps the revision when anything changed.
    fn write(&mut self, ops: &[&pb::RequestOp]) {
        let mut sub = 0i64;
        for op in ops {
            match &op.request {
                Some(request_op::Request::RequestPut(p)) => self.put(p, &mut sub),
                Some(request_op::Request::RequestDeleteRange(d)) => {
                    self.delete(&d.key, &d.range_end, &mut sub)
                }
                _ => {}
            }
        }
        if sub > 0 {
            self.rev += 1;
        }
    }

    fn refuse_auth(&mut self) {
        self.out.report.requests_refused += 1;
        self.out.report.refused_by_auth += 1;
    }

    /// etcd's check of a put by `c` (3.5's `checkPutAuth`; 3.4 the same outside txns).
    fn put_permitted(&mut self, c: Caller<'_>, p: &pb::PutRequest) -> bool {
        self.auth.permitted(c, &p.key, b"", true).is_ok()
            && self.lease_keys_permitted(c, p.lease)
            && (!p.prev_kv || self.auth.permitted(c, &p.key, b"", false).is_ok())
    }

    fn delete_permitted(&self, c: Caller<'_>, d: &pb::DeleteRangeRequest) -> bool {
        (!d.prev_kv || self.auth.permitted(c, &d.key, &d.range_end, false).is_ok())
            && self.auth.permitted(c, &d.key, &d.range_end, true).is_ok()
    }

    /// Whether `c` may write every key attached to `lease` (none when there is no such
    /// lease): etcd's `checkLeasePuts`.
    fn lease_keys_permitted(&mut self, c: Caller<'_>, lease: i64) -> bool {
        if !self.auth.enabled || !self.leases.contains_key(&lease) {
            return true;
        }
        if self.rules == Rules::V35 && self.auth.admin(c).is_ok() {
            return true;
        }
        self.attached(lease)
            .iter()
            .all(|k| self.auth.permitted(c, k, b"", true).is_ok())
    }

    /// etcd's `checkTxnAuth`: every compare's range read, and the ops of both branches.
    fn txn_permitted(&mut self, c: Caller<'_>, t: &pb::TxnRequest) -> bool {
        if !self.auth.enabled {
            return true;
        }
        for cmp in &t.compare {
            if self
                .auth
                .permitted(c, &cmp.key, &cmp.range_end, false)
                .is_err()
            {
                return false;
            }
        }
        for op in t.success.iter().chain(&t.failure) {
            let ok = match &op.request {
                Some(request_op::Request::RequestRange(g)) => {
                    self.auth.permitted(c, &g.key, &g.range_end, false).is_ok()
                }
                Some(request_op::Request::RequestPut(p)) => match self.rules {
                    Rules::V34 => self.auth.permitted(c, &p.key, b"", true).is_ok(),
                    Rules::V35 => self.put_permitted(c, p),
                },
                Some(request_op::Request::RequestDeleteRange(d)) => self.delete_permitted(c, d),
                // 3.4 does not look into nested txns.
                Some(request_op::Request::RequestTxn(inner)) => match self.rules {
                    Rules::V34 => true,
                    Rules::V35 => self.txn_permitted(c, inner),
                },
                None => true,
            };
            if !ok {
                return false;
            }
        }
        true
    }

    fn apply(&mut self, r: &pb::InternalRaftRequest) {
        let caller = r
            .header
            .as_ref()
            .map(|h| Caller {
                user: &h.username,
                revision: h.auth_revision,
            })
            .unwrap_or_default();
        if needs_admin(r) {
            if self.auth.admin(caller).is_err() || self.auth.apply(r, self.rules).is_err() {
                self.refuse_auth();
            }
            return;
        }
        if self.auth.enabled {
            let permitted = if let Some(p) = &r.put {
                self.put_permitted(caller, p)
            } else if let Some(d) = &r.delete_range {
                self.delete_permitted(caller, d)
            } else if let Some(t) = &r.txn {
                self.txn_permitted(caller, t)
            } else if let Some(l) = &r.lease_revoke {
                self.lease_keys_permitted(caller, l.id)
            } else {
                true
            };
            if !permitted {
                self.refuse_auth();
                return;
            }
        }
        if let Some(p) = &r.put {
            if self.put_refused(p) {
                self.out.report.requests_refused += 1;
                return;
            }
            let op = pb::RequestOp {
                request: Some(request_op::Request::RequestPut(p.clone())),
            };
            self.write(&[&op]);
        } else if let Some(d) = &r.delete_range {
            let op = pb::RequestOp {
                request: Some(request_op::Request::RequestDeleteRange(d.clone())),
            };
            self.write(&[&op]);
        } else if let Some(t) = &r.txn {
            let mut ops = Vec::new();
            self.txn_path(t, &mut ops);
            let refused = ops.iter().any(|op| matches!(&op.request, Some(request_op::Request::RequestPut(p)) if self.put_refused(p)));
            if refused {
                self.out.report.requests_refused += 1;
                return;
            }
            self.write(&ops);
        } else if let Some(c) = &r.compaction {
            if c.revision <= self.compact || c.revision > self.rev {
                self.out.report.requests_refused += 1;
                return;
            }
            self.compact = c.revision;
            self.out.compactions.push(c.revision);
        } else if let Some(g) = &r.lease_grant {
            // etcd's MaxLeaseTTL.
            if g.id == 0 || g.ttl > 9_000_000_000 || self.leases.contains_key(&g.id) {
                self.out.report.requests_refused += 1;
                return;
            }
            self.leases.insert(
                g.id,
                LeaseInfo {
                    id: g.id,
                    ttl: g.ttl,
                    remaining_ttl: 0,
                },
            );
        } else if let Some(l) = &r.lease_revoke {
            if self.leases.remove(&l.id).is_none() {
                self.out.report.requests_refused += 1;
                return;
            }
            let attached: Vec<Vec<u8>> = self.attached(l.id);
            let rev = self.rev + 1;
            let mut sub = 0;
            for k in attached {
                let kv = KeyValueRef {
                    key: &k,
                    ..Default::default()
                };
                self.out
                    .records
                    .push((Revision { main: rev, sub }, true, kv.encode()));
                sub += 1;
                self.overlay.insert(k, None);
            }
            if sub > 0 {
                self.rev += 1;
            }
        } else if let Some(cp) = &r.lease_checkpoint {
            for c in &cp.checkpoints {
                if let Some(l) = self.leases.get_mut(&c.id) {
                    l.remaining_ttl = c.remaining_ttl;
                }
            }
        }
    }

    /// Live keys attached to `lease`, in key order.
    fn attached(&mut self, lease: i64) -> Vec<Vec<u8>> {
        let base = self.base;
        let by_lease = self.base_by_lease.get_or_insert_with(|| {
            let mut m: HashMap<i64, Vec<&'a [u8]>> = HashMap::new();
            for r in base.state(b"", None).into_iter().flatten() {
                let l = r.kv().lease;
                if l != 0 {
                    m.entry(l).or_default().push(r.key);
                }
            }
            m
        });
        let mut keys: Vec<Vec<u8>> = by_lease
            .get(&lease)
            .into_iter()
            .flatten()
            .filter(|k| !self.overlay.contains_key(**k))
            .map(|k| k.to_vec())
            .collect();
        keys.extend(
            self.overlay
                .iter()
                .filter(|(_, v)| v.as_ref().is_some_and(|l| l.lease == lease))
                .map(|(k, _)| k.clone()),
        );
        keys.sort();
        keys
    }
}

/// Applies the entries of `log` after the db's consistent index to `base`, with the db's
/// leases and auth store, following `rules`.
pub fn replay(
    base: &Keyspace<'_>,
    leases: Vec<LeaseInfo>,
    auth: AuthStore,
    rules: Rules,
    log: &RaftLog,
    commit: Commit,
) -> Replayed {
    let applied = base.meta.consistent_index.unwrap_or(0);
    let limit = match commit {
        Commit::HardState => log.hard_state.commit,
        Commit::WholeLog => log.last_index().unwrap_or(0).max(log.hard_state.commit),
    };
    let mut a = Applier {
        base,
        base_by_lease: None,
        overlay: BTreeMap::new(),
        leases: leases.into_iter().map(|l| (l.id, l)).collect(),
        rev: base.revision,
        compact: base.compact_revision,
        auth,
        rules,
        out: Replayed::default(),
    };
    a.out.report.rules = Some(rules);
    a.out.report.db_applied_index = applied;
    a.out.report.applied_index = applied;
    a.out.report.revision_before = base.revision;
    let tail: &[EntryRef] = log.after(applied);
    for e in tail {
        if e.index > limit {
            a.out.report.entries_left_out += 1;
            continue;
        }
        if let Payload::V3(r) = decode_payload(e.etype, &e.data) {
            a.apply(&r);
        }
        a.out.report.entries_applied += 1;
        a.out.report.applied_index = e.index;
    }
    a.out.report.revision_after = a.rev;
    a.out.report.auth_enabled = a.auth.enabled;
    a.out.report.auth_revision = a.auth.revision;
    a.out.auth = a.auth;
    let mut leases: Vec<LeaseInfo> = a.leases.into_values().collect();
    leases.sort_by_key(|l| l.id);
    a.out.leases = leases;
    a.out
}

impl<'a> Keyspace<'a> {
    /// The keyspace with `r`'s records added and its compactions applied.
    pub fn with_replay<'x>(self, r: &'x Replayed) -> Keyspace<'x>
    where
        'a: 'x,
    {
        if r.records.is_empty() && r.compactions.is_empty() {
            // Nothing to index again: the records stay as they are.
            let mut ks = self;
            if r.report.applied_index > ks.meta.consistent_index.unwrap_or(0) {
                ks.meta.consistent_index = Some(r.report.applied_index);
            }
            ks.revision = ks.revision.max(r.report.revision_after);
            return ks;
        }
        let (mut records, mut meta) = self.into_records();
        records.extend(r.records.iter().map(|(rev, tomb, kv)| {
            let key = KeyValueRef::decode(kv).map(|k| k.key).unwrap_or_default();
            RevRecord {
                rev: *rev,
                tombstone: *tomb,
                key,
                kv,
            }
        }));
        if let Some(&c) = r.compactions.last() {
            records = compact(records, c);
            meta.finished_compact_revision = Some(c);
            meta.scheduled_compact_revision = Some(c);
        }
        if r.report.applied_index > meta.consistent_index.unwrap_or(0) {
            meta.consistent_index = Some(r.report.applied_index);
        }
        let mut ks = Keyspace::from_records(records, meta);
        ks.revision = ks.revision.max(r.report.revision_after);
        ks
    }
}

/// Drops revisions at or below `at`, keeping for each key its last such revision unless it
/// is a deletion — what etcd's compaction leaves.
pub fn compact(records: Vec<RevRecord<'_>>, at: i64) -> Vec<RevRecord<'_>> {
    let mut keep_last: HashMap<&[u8], usize> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        if r.rev.main <= at {
            keep_last.insert(r.key, i);
        }
    }
    records
        .iter()
        .enumerate()
        .filter(|(i, r)| r.rev.main > at || (keep_last.get(r.key) == Some(i) && !r.tombstone))
        .map(|(_, r)| *r)
        .collect()
}
