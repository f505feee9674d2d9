//! Opening an input the way every read command sees it: the db's keyspace with the WAL's
//! unapplied entries replayed on top (for data and member dirs), or the db alone.

use super::cluster::read_cluster;
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
    pub replay: ReplayReport,
}

/// The replay's output, kept alive while a keyspace borrows it.
pub struct WalState {
    pub summary: WalSummary,
    pub replayed: Replayed,
}

/// Reads the WAL of `src` (when it has one and `use_wal`), replays it onto `base`, and
/// returns what a keyspace with the replay needs. The caller then calls
/// [`Keyspace::with_replay`].
pub fn read_wal(
    src: &Source,
    db: &Db<'_>,
    base: &Keyspace<'_>,
    use_wal: bool,
) -> Result<Option<WalState>> {
    let Some(dir) = src.wal_dir.as_ref().filter(|_| use_wal) else {
        return Ok(None);
    };
    let wal = Wal::open(dir)?;
    let log = read_log(&wal);
    // A sole voter commits its whole log when it restarts; otherwise only what the hard
    // state says is committed can be trusted.
    let single = read_cluster(db)?.members.len() <= 1;
    let commit = if single {
        Commit::WholeLog
    } else {
        Commit::HardState
    };
    let replayed = replay(base, read_leases(db)?, &log, commit);
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
        replay: replayed.report.clone(),
    };
    Ok(Some(WalState { summary, replayed }))
}

/// Leases after the replay, or the db's.
pub fn leases(db: &impl super::buckets::Buckets, wal: Option<&WalState>) -> Result<Vec<LeaseInfo>> {
    match wal {
        Some(w) => Ok(w.replayed.leases.clone()),
        None => read_leases(db),
    }
}
