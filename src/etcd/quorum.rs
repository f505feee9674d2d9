//! The whole-cluster view after quorum loss: given every member's data dir, what each
//! member holds (ids, hard state, log bounds, applied index, conf state), which members
//! agree on which log prefix, what a quorum holds, which member a restart elects, and
//! the keyspace the restarted cluster serves. Reads the dirs only; never writes, locks or
//! starts anything.
//!
//! The rules, from etcd's raft:
//! - Two logs holding an entry at the same index and term hold the same entries up to
//!   it (log matching); entries a member has compacted away were committed, so they agree.
//! - A voter grants its vote to a candidate whose last entry is at least as up to date as
//!   its own (higher last term, or the same last term and an index at least as high); a
//!   candidate wins with the votes of a quorum of the voters (a majority of the whole
//!   voter set, the members that stay down included). So a restarted voter can win
//!   exactly when a quorum of voters, itself included, is restarted with logs no more up
//!   to date than its own. Learners neither vote nor campaign.
//! - The winner appends an entry of its new term and, once a quorum holds it, every
//!   entry before it is committed: the restarted cluster serves the winner's whole log,
//!   which can be more than the old cluster had committed.
//! - The newest member is the restarted voter with the most up-to-date log (it can always
//!   win when anyone can). When another member could win too, which one does depends on
//!   election timing; the view says so and names what each would serve.

use super::cluster::read_cluster;
use super::conf::{ConfState, conf_state};
use super::keyspace::Keyspace;
use super::lease::read_leases;
use super::meta::read_meta;
use super::open::{WalState, WalSummary};
use super::replay::{Commit, replay};
use crate::bbolt::Db;
use crate::error::{Error, Result};
use crate::source::{Source, SourceKind};
use crate::wal::{Ending, HardState, RaftLog, Wal, read_log};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// One member as read from its data dir.
#[derive(Debug, Clone, Serialize)]
pub struct MemberView {
    pub path: String,
    /// The member's name in the db's `members` bucket, when there.
    pub name: Option<String>,
    /// Member and cluster id (hex), from the WAL's metadata record.
    pub member_id: Option<String>,
    pub cluster_id: Option<String>,
    pub hard_state: HardState,
    pub first_index: Option<u64>,
    /// The index and term of the member's last log entry (or of its last snapshot record
    /// when it holds no entries), which decide elections.
    pub last_index: u64,
    pub last_term: u64,
    /// The db's consistent index: entries up to it are in the db.
    pub applied_index: Option<u64>,
    pub voters: Vec<String>,
    pub learners: Vec<String>,
    pub is_voter: bool,
    /// How the WAL ends (`clean`, or torn/damaged with where).
    pub wal_ending: Ending,
    /// The last index at which this member's log agrees with the newest member's.
    pub agrees_with_newest_to: Option<u64>,
    /// `newest`, `same log` (as the newest), `behind` (a prefix of the newest's log),
    /// `diverged` (entries the newest does not hold; a restart under the newest drops
    /// them), or `learner`.
    pub status: &'static str,
    /// Whether this member can win the election when the given members are restarted.
    pub can_win: bool,
}

/// Where two members' logs part: both hold the same entries up to `index`.
#[derive(Debug, Clone, Serialize)]
pub struct Agreement {
    pub a: String,
    pub b: String,
    pub index: u64,
}

/// The verdict over all members given.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterView {
    pub cluster_id: Option<String>,
    pub members: Vec<MemberView>,
    /// The voter set (hex ids) from the member that knows the most committed entries.
    pub voters: Vec<String>,
    pub quorum: usize,
    /// Voters among the members given.
    pub voters_present: usize,
    pub agreement: Vec<Agreement>,
    /// The highest hard-state commit index of any member.
    pub commit_index: u64,
    /// The highest index a quorum of voters holds at the term the newest member holds it.
    pub quorum_index: u64,
    /// The strictly committed prefix: the larger of the two above.
    pub committed_index: u64,
    /// The newest member (its label), when a restart can elect anyone.
    pub newest: Option<String>,
    /// What the restarted cluster serves when the newest member wins: its whole log.
    pub served_index: Option<u64>,
    /// Every member that can win, with what each would serve (its last index).
    pub possible_winners: Vec<Winner>,
    /// Whether every possible winner serves the same log (the answer does not depend on
    /// election timing).
    pub served_certain: bool,
    /// The db the served keyspace is read from, and its applied index; the newest
    /// member's log is replayed after it.
    pub db_from: Option<String>,
    pub db_applied_index: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Winner {
    pub member: String,
    pub last_index: u64,
    pub last_term: u64,
}

/// A member's opened files.
pub struct MemberFiles {
    pub src: Source,
    pub log: RaftLog,
    pub wal_dir: PathBuf,
    pub segments: Vec<String>,
    pub conf: ConfState,
}

/// Every member opened, and the view over them.
pub struct ClusterRead {
    pub files: Vec<MemberFiles>,
    pub view: ClusterView,
    newest: Option<usize>,
    db_member: Option<usize>,
}

fn hex(id: u64) -> String {
    format!("{id:x}")
}

/// The term of `log`'s entry at `index`: Some(0) for index 0, the snapshot's term at its
/// index, None when the log does not hold it (compacted or beyond its end).
fn term_at(log: &RaftLog, index: u64) -> Option<u64> {
    if index == 0 {
        return Some(0);
    }
    if let Some(first) = log.first_index() {
        if index >= first && index <= log.last_index().unwrap_or(0) {
            return Some(log.entries[(index - first) as usize].term);
        }
    }
    log.snapshots
        .iter()
        .rev()
        .find(|(i, _)| *i == index)
        .map(|(_, t)| *t)
}

/// The (index, term) of a log's last entry, or of its last snapshot record.
fn last_of(log: &RaftLog) -> (u64, u64) {
    match log.entries.last() {
        Some(e) => (e.index, e.term),
        None => log.snapshots.last().copied().unwrap_or((0, 0)),
    }
}

/// The first index a log can answer for (entries before it were compacted).
fn floor_of(log: &RaftLog) -> u64 {
    let snap = log.snapshots.iter().map(|s| s.0).max().unwrap_or(0);
    log.first_index()
        .map_or(snap, |f| f.saturating_sub(1).max(snap))
}

/// The last index at which logs `a` and `b` hold the same entry (log matching: then
/// every entry before it too). Below where either log starts, entries were committed and
/// compacted, so they agree.
pub fn agreement(a: &RaftLog, b: &RaftLog) -> u64 {
    let mut i = last_of(a).0.min(last_of(b).0);
    let floor = floor_of(a).max(floor_of(b));
    while i > floor {
        match (term_at(a, i), term_at(b, i)) {
            (Some(x), Some(y)) if x == y => return i,
            _ => i -= 1,
        }
    }
    i
}

fn open_member(path: &Path) -> Result<MemberFiles> {
    let src = Source::open(path)?;
    if !matches!(src.kind, SourceKind::DataDir | SourceKind::MemberDir) {
        return Err(Error::invalid(format!(
            "{}: a cluster member must be a data dir or member dir (with its WAL)",
            path.display()
        )));
    }
    let Some(wal_dir) = src.wal_dir.clone() else {
        return Err(Error::invalid(format!(
            "{}: no WAL dir: a member's log is needed to compare it with the others",
            path.display()
        )));
    };
    let wal = Wal::open(&wal_dir)?;
    let log = read_log(&wal);
    let segments = wal.segments.iter().map(|s| s.name.file.clone()).collect();
    let db = src.db()?;
    let meta = read_meta(&db)?;
    let cluster = read_cluster(&db)?;
    let snaps: Vec<_> = match &src.snap_dir {
        Some(d) if d.is_dir() => crate::wal::snapfile::read_snaps(d)?
            .into_iter()
            .filter_map(Result::ok)
            .collect(),
        _ => Vec::new(),
    };
    let conf = conf_state(&meta, &cluster, &snaps, &log);
    Ok(MemberFiles {
        src,
        log,
        wal_dir,
        segments,
        conf,
    })
}

impl ClusterRead {
    /// Opens every member dir in `paths` and works out the view.
    pub fn open(paths: &[PathBuf]) -> Result<ClusterRead> {
        if paths.is_empty() {
            return Err(Error::invalid("no member dirs given"));
        }
        let files = paths
            .iter()
            .map(|p| open_member(p))
            .collect::<Result<Vec<_>>>()?;
        let mut members = Vec::with_capacity(files.len());
        for (p, f) in paths.iter().zip(&files) {
            let db = f.src.db()?;
            let meta = read_meta(&db)?;
            let cluster = read_cluster(&db)?;
            let id = f.log.metadata.as_ref().map(|m| m.node_id);
            let name = id.and_then(|id| {
                cluster
                    .members
                    .iter()
                    .find(|m| u64::from_str_radix(&m.id, 16) == Ok(id))
                    .map(|m| m.name.clone())
                    .filter(|n| !n.is_empty())
            });
            let (last_index, last_term) = last_of(&f.log);
            // A db killed before its first backend commit has no consistent index and no
            // revisions: etcd applies the member's whole log to it, as from index 0. A db
            // with revisions and no consistent index is damaged and is never chosen.
            let applied_index = match meta.consistent_index {
                Some(c) => Some(c),
                None => {
                    use super::buckets::Buckets;
                    db.entries(super::schema::KEY)?.is_empty().then_some(0)
                }
            };
            members.push(MemberView {
                path: p.display().to_string(),
                name,
                member_id: id.map(hex),
                cluster_id: f.log.metadata.as_ref().map(|m| hex(m.cluster_id)),
                hard_state: f.log.hard_state,
                first_index: f.log.first_index(),
                last_index,
                last_term,
                applied_index,
                voters: f.conf.voters.iter().copied().map(hex).collect(),
                learners: f.conf.learners.iter().copied().map(hex).collect(),
                is_voter: false,
                wal_ending: f.log.ending.clone(),
                agrees_with_newest_to: None,
                status: "",
                can_win: false,
            });
        }
        // One cluster, each member once.
        for i in 0..members.len() {
            for j in 0..i {
                let (a, b) = (&members[i], &members[j]);
                if a.cluster_id.is_some() && b.cluster_id.is_some() && a.cluster_id != b.cluster_id
                {
                    return Err(Error::invalid(format!(
                        "{} (cluster {}) and {} (cluster {}) belong to different clusters",
                        b.path,
                        b.cluster_id.as_deref().unwrap_or("?"),
                        a.path,
                        a.cluster_id.as_deref().unwrap_or("?")
                    )));
                }
                if a.member_id.is_some() && a.member_id == b.member_id {
                    return Err(Error::invalid(format!(
                        "{} and {} are the same member ({}): give each member once",
                        b.path,
                        a.path,
                        a.member_id.as_deref().unwrap_or("?")
                    )));
                }
            }
        }
        // The voter set: from the member that knows the most committed entries.
        let knows = (0..files.len())
            .max_by_key(|&i| (files[i].log.hard_state.commit, std::cmp::Reverse(i)))
            .unwrap_or(0);
        let voters = files[knows].conf.voters.clone();
        let is_voter = |i: usize| -> bool {
            if voters.is_empty() {
                return true;
            }
            files[i]
                .log
                .metadata
                .as_ref()
                .is_some_and(|m| voters.contains(&m.node_id))
        };
        let n_voters = if voters.is_empty() {
            files.len()
        } else {
            voters.len()
        };
        let quorum = n_voters / 2 + 1;
        let present: Vec<usize> = (0..files.len()).filter(|&i| is_voter(i)).collect();
        for &i in &present {
            members[i].is_voter = true;
        }
        // Who can win: a quorum of restarted voters with logs no more up to date.
        let keys: Vec<(u64, u64)> = members
            .iter()
            .map(|m| (m.last_term, m.last_index))
            .collect();
        let key = |i: usize| keys[i];
        let winners: Vec<usize> = present
            .iter()
            .copied()
            .filter(|&m| present.iter().filter(|&&v| key(v) <= key(m)).count() >= quorum)
            .collect();
        for &w in &winners {
            members[w].can_win = true;
        }
        // The newest: the most up-to-date log; among equal ones, the most applied db, then
        // the order given.
        let applied: Vec<u64> = members
            .iter()
            .map(|m| m.applied_index.unwrap_or(0))
            .collect();
        let newest = winners
            .iter()
            .copied()
            .max_by_key(|&i| (key(i), applied[i], std::cmp::Reverse(i)));
        // Fall back to the most up-to-date member for the agreement column when no one
        // can win.
        let reference =
            newest.or_else(|| (0..files.len()).max_by_key(|&i| (key(i), std::cmp::Reverse(i))));
        let labels: Vec<String> = members
            .iter()
            .map(|m| {
                m.name
                    .clone()
                    .or_else(|| m.member_id.clone())
                    .unwrap_or_else(|| m.path.clone())
            })
            .collect();
        let label = |i: usize| labels[i].clone();
        let mut agreement_rows = Vec::new();
        for i in 0..files.len() {
            for j in i + 1..files.len() {
                agreement_rows.push(Agreement {
                    a: label(i),
                    b: label(j),
                    index: agreement(&files[i].log, &files[j].log),
                });
            }
        }
        let mut quorum_index = 0;
        if let Some(r) = reference {
            for i in 0..files.len() {
                let agree = agreement(&files[i].log, &files[r].log);
                members[i].agrees_with_newest_to = Some(agree);
                members[i].status = if !members[i].is_voter {
                    "learner"
                } else if i == r {
                    "newest"
                } else if agree == keys[r].1 && agree == keys[i].1 {
                    "same log"
                } else if agree == keys[i].1 {
                    "behind"
                } else {
                    "diverged"
                };
            }
            let mut held: Vec<u64> = present
                .iter()
                .map(|&i| members[i].agrees_with_newest_to.unwrap_or(0))
                .collect();
            held.sort_unstable_by(|a, b| b.cmp(a));
            quorum_index = held.get(quorum - 1).copied().unwrap_or(0);
        }
        let commit_index = files
            .iter()
            .map(|f| f.log.hard_state.commit)
            .max()
            .unwrap_or(0);
        let served_certain = newest.is_some_and(|n| winners.iter().all(|&w| key(w) == key(n)));
        let possible_winners = winners
            .iter()
            .map(|&w| Winner {
                member: label(w),
                last_index: keys[w].1,
                last_term: keys[w].0,
            })
            .collect();
        let db_member = newest.map(|n| choose_db(&files, &members, n)).transpose()?;
        let view = ClusterView {
            cluster_id: members.iter().find_map(|m| m.cluster_id.clone()),
            voters: voters.iter().copied().map(hex).collect(),
            quorum,
            voters_present: present.len(),
            agreement: agreement_rows,
            commit_index,
            quorum_index,
            committed_index: commit_index.max(quorum_index),
            newest: newest.map(label),
            served_index: newest.map(|n| keys[n].1),
            possible_winners,
            served_certain,
            db_from: db_member.map(label),
            db_applied_index: db_member.and_then(|d| members[d].applied_index),
            members,
        };
        Ok(ClusterRead {
            files,
            view,
            newest,
            db_member,
        })
    }

    /// The source whose db the served keyspace starts from.
    pub fn db_source(&self) -> Result<&Source> {
        match self.db_member {
            Some(d) => Ok(&self.files[d].src),
            None => Err(Error::invalid(format!(
                "no member can be elected: {} of {} voters given, a quorum is {}",
                self.view.voters_present,
                self.view.voters.len().max(self.view.voters_present),
                self.view.quorum
            ))),
        }
    }

    /// Replays the newest member's whole log after `db`'s applied index onto `base` (the
    /// keyspace of [`ClusterRead::db_source`]'s db): the keyspace the restarted cluster
    /// serves.
    pub fn served(&self, db: &Db<'_>, base: &Keyspace<'_>) -> Result<WalState> {
        let n = self.newest.ok_or_else(|| {
            Error::invalid("no member can be elected: the cluster would serve nothing")
        })?;
        let f = &self.files[n];
        // The auth state and the applier's rules are those of the db the log continues.
        let rules =
            super::authz::rules_for(&base.meta, read_cluster(db)?.cluster_version.as_deref());
        let auth = super::authz::read_store(db)?;
        let replayed = replay(
            base,
            read_leases(db)?,
            auth,
            rules,
            &f.log,
            Commit::WholeLog,
        );
        let summary = WalSummary {
            dir: f.wal_dir.display().to_string(),
            segments: f.segments.clone(),
            first_index: f.log.first_index(),
            last_index: f.log.last_index(),
            hard_state: f.log.hard_state,
            records: f.log.records,
            ending: f.log.ending.clone(),
            metadata: f.log.metadata.clone(),
            commit_rule: "cluster: the newest member's whole log (a restarted cluster commits it)",
            conf_state: f.conf.clone(),
            replay: replayed.report.clone(),
        };
        Ok(WalState { summary, replayed })
    }
}

/// The db to start from: the most applied one that the newest member's log continues —
/// its applied entry is one the newest member holds at the same index and term (so the
/// db is the state after the newest log's first entries), at or below the served index,
/// with the newest log holding every entry after it. Replaying fewer entries from a more
/// applied db gives the same state (every member applies the same committed entries in
/// order); ties go to the newest member's own db.
fn choose_db(files: &[MemberFiles], members: &[MemberView], newest: usize) -> Result<usize> {
    let nlog = &files[newest].log;
    let served = members[newest].last_index;
    let continues = |c: u64| c >= served || floor_of(nlog) <= c;
    let mut best: Option<(u64, bool, usize)> = None;
    for (i, m) in members.iter().enumerate() {
        let Some(c) = m.applied_index else { continue };
        if c > served || !continues(c) {
            continue;
        }
        if i != newest && agreement(&files[i].log, nlog) < c {
            continue;
        }
        let k = (c, i == newest, usize::MAX - i);
        if best.is_none_or(|b| (b.0, b.1, usize::MAX - b.2) < k) {
            best = Some((c, i == newest, i));
        }
    }
    best.map(|b| b.2).ok_or_else(|| {
        Error::invalid(format!(
            "no member's db can be brought to the served index {served}: the newest member's log ({}) starts after every usable db's applied index",
            members[newest].path
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wal::EntryRef;

    fn log(terms: &[(u64, u64)]) -> RaftLog {
        RaftLog {
            metadata: None,
            hard_state: HardState::default(),
            entries: terms
                .iter()
                .map(|&(index, term)| EntryRef {
                    index,
                    term,
                    etype: 0,
                    data: Default::default(),
                    segment: 0,
                    offset: 0,
                })
                .collect(),
            snapshots: Vec::new(),
            records: 0,
            ending: Ending::Clean,
        }
    }

    #[test]
    fn agreement_follows_log_matching() {
        let a = log(&[(1, 1), (2, 1), (3, 2), (4, 2)]);
        let b = log(&[(1, 1), (2, 1), (3, 3)]);
        let c = log(&[(1, 1), (2, 1)]);
        assert_eq!(agreement(&a, &b), 2, "diverged at 3");
        assert_eq!(agreement(&a, &c), 2, "c is a prefix");
        assert_eq!(agreement(&a, &a), 4);
        let compacted = log(&[(5, 2), (6, 2)]);
        assert_eq!(agreement(&a, &compacted), 4, "compacted entries agree");
        assert_eq!(agreement(&a, &log(&[])), 0);
    }
}
