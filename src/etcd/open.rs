//! Opening an input the way every read command sees it: the db's keyspace with the WAL's
//! unapplied entries replayed on top (for data and member dirs), or the db alone.

use super::cluster::read_cluster;
use super::conf::{ConfState, conf_state};
use super::keyspace::Keyspace;
use super::lease::{LeaseInfo, read_leases};
use super::replay::{Commit, ReplayReport, Replayed, replay};
use crate::bbolt::Db;
use crate::error::Result;
use crate::source::Source;
use crate::wal::{Ending, HardState, Wal, read_log};
use serde::Serialize;

/// What the WAL held and what replaying it did.
#[derive(Debug, Clone, Serialize)]
pub struct WalSummary {
    pub dir: String,
    pub segments: Vec<String>,
    pub first_index: Option<u64>,
    pub last_index: Option<u64>,
    pub hard_state: HardState,
    pub records: u64,
    pub ending: Ending,
    /// The member's node and cluster ids, from the WAL's metadata record.
    pub metadata: Option<crate::wal::log::Metadata>,
    /// Which entries were treated as committed.
    pub commit_rule: &'static str,
    /// The voters and learners the member restarts with, which decide the commit rule.
    pub conf_state: ConfState,
    pub replay: ReplayReport,
}

/// The replay's output, kept alive while a keyspace borrows it.
pub struct WalState {
    pub summary: WalSummary,
    pub replayed: Replayed,
}

/// The db's keyspace and the WAL of `src` (when it has one and `use_wal`) replayed onto it:
/// the WAL is read (framing, checksums, entries) on one core while the keyspace is built
/// on the others; only the replay needs both. The caller then calls
/// [`Keyspace::with_replay`] with the replay, which the keyspace borrows.
pub fn keyspace_and_wal<'a>(
    src: &Source,
    db: &Db<'a>,
    use_wal: bool,
) -> Result<(Keyspace<'a>, Option<WalState>)> {
    let (base, log) = rayon::join(|| Keyspace::build(db), || read_wal_log(src, use_wal));
    let base = base?;
    let wal = replay_wal(src, db, &base, log)?;
    Ok((base, wal))
}

/// What changed in `src` after revision `after`, with its WAL replayed: a keyspace of only
/// the db's records after `after` ([`Keyspace::build_after`]), which any read of changes
/// since `after` sees as it would see the whole keyspace — or `None` when that cannot be
/// known without the whole keyspace: the db was compacted past `after` (which deletions the
/// compaction removed needs every key), its applied index is unknown, or the WAL holds a
/// request the db has not applied (a replay reads the keys it touches). The caller then
/// uses [`keyspace_and_wal`].
pub fn changes_and_wal<'a>(
    src: &Source,
    db: &Db<'a>,
    after: i64,
    use_wal: bool,
) -> Result<Option<(Keyspace<'a>, Option<WalState>)>> {
    let (changes, log) = rayon::join(
        || Keyspace::build_after(db, after),
        || read_wal_log(src, use_wal),
    );
    let Some(changes) = changes? else {
        return Ok(None);
    };
    let Some(applied) = changes.meta.consistent_index else {
        return Ok(None);
    };
    if changes.compact_revision > after {
        return Ok(None);
    }
    if let Some(WalLog {
        read: Ok((_, l)), ..
    }) = &log
    {
        // Only v3 requests change the keyspace (an undecodable entry is left to the
        // whole replay to report); the rest — empty entries, v2 requests such as a
        // member publishing its attributes at start, membership changes — do not.
        let request = l.after(applied).iter().any(|e| {
            matches!(
                crate::wal::request::decode_payload(e.etype, &e.data),
                crate::wal::request::Payload::V3(_) | crate::wal::request::Payload::Undecodable(_)
            )
        });
        if request {
            return Ok(None);
        }
    }
    // Nothing the replay applies reads the keyspace: it only moves the applied index.
    let wal = replay_wal(src, db, &changes, log)?;
    Ok(Some((changes, wal)))
}

/// A WAL's records, read before the db's keyspace is known (it needs neither), so that
/// the two can be read side by side. Opening errors are kept for [`replay_wal`], which
/// reports a db it cannot replay onto first.
struct WalLog {
    dir: std::path::PathBuf,
    read: Result<(Wal, crate::wal::RaftLog)>,
}

/// Reads the WAL of `src`, when it has one and `use_wal`.
fn read_wal_log(src: &Source, use_wal: bool) -> Option<WalLog> {
    let dir = src.wal_dir.as_ref().filter(|_| use_wal)?;
    let read = Wal::open(dir).map(|wal| {
        let mut log = read_log(&wal);
        if src.live.is_some() {
            log.ending = crate::live::wal_tail(log.ending, &wal);
        }
        (wal, log)
    });
    Some(WalLog {
        dir: dir.clone(),
        read,
    })
}

/// Replays a WAL read by [`read_wal_log`] onto `base`.
fn replay_wal(
    src: &Source,
    db: &Db<'_>,
    base: &Keyspace<'_>,
    log: Option<WalLog>,
) -> Result<Option<WalState>> {
    let Some(WalLog { dir, read }) = log else {
        return Ok(None);
    };
    if base.meta.consistent_index.is_none() && base.total_revisions() > 0 {
        return Err(unknown_meta(db));
    }
    let (wal, log) = read?;
    // A sole voter commits its whole log when it restarts; otherwise only what the hard
    // state says is committed can be trusted. Voters come from the latest conf state
    // (learners never count); without any, from the member count as before.
    let cluster = read_cluster(db)?;
    let snaps: Vec<_> = match &src.snap_dir {
        Some(d) if d.is_dir() => crate::wal::snapfile::read_snaps(d)?
            .into_iter()
            .filter_map(Result::ok)
            .collect(),
        _ => Vec::new(),
    };
    let conf = conf_state(&base.meta, &cluster, &snaps, &log);
    let single = if conf.voters.is_empty() {
        cluster.members.iter().filter(|m| !m.is_learner).count() <= 1
    } else {
        conf.sole_voter(log.metadata.as_ref().map(|m| m.node_id))
    };
    let commit = if single {
        Commit::WholeLog
    } else {
        Commit::HardState
    };
    let rules = super::authz::rules_for(&base.meta, cluster.cluster_version.as_deref());
    let auth = super::authz::read_store(db)?;
    let replayed = replay(base, read_leases(db)?, auth, rules, &log, commit);
    let summary = WalSummary {
        dir: dir.display().to_string(),
        segments: wal.segments.iter().map(|s| s.name.file.clone()).collect(),
        first_index: log.first_index(),
        last_index: log.last_index(),
        hard_state: log.hard_state,
        records: log.records,
        ending: log.ending.clone(),
        metadata: log.metadata.clone(),
        commit_rule: if single {
            "whole log (sole voter)"
        } else {
            "hard state commit index"
        },
        conf_state: conf,
        replay: replayed.report.clone(),
    };
    Ok(Some(WalState { summary, replayed }))
}

/// The error for a db that holds revisions but no applied index: its meta layout is not
/// one etcd writes (a damaged key name, a missing key), so which WAL entries it already
/// holds cannot be known, and replaying them all would give a different keyspace.
fn unknown_meta(db: &Db<'_>) -> crate::Error {
    use super::buckets::Buckets;
    let names: Vec<String> = db
        .entries(super::schema::META)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, _)| crate::display::printable(k).into_owned())
        .collect();
    db.fault_at(
        0,
        format!(
            "the meta bucket holds no consistent_index (its keys: {}), yet the db holds revisions: an unknown or damaged meta layout, so which WAL entries the db already holds is unknown; --no-wal reads the db alone",
            if names.is_empty() { "none".to_string() } else { names.join(", ") }
        ),
    )
}

/// Leases after the replay, or the db's.
pub fn leases(db: &impl super::buckets::Buckets, wal: Option<&WalState>) -> Result<Vec<LeaseInfo>> {
    match wal {
        Some(w) => Ok(w.replayed.leases.clone()),
        None => read_leases(db),
    }
}
