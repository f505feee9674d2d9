//! The raft configuration a member restarts with — its voters and learners — and whether
//! it is the sole voter, which decides how much of its log counts as committed. Reads the
//! db, snap files and the raft log it is given; never writes anything.
//!
//! The base is the newest of: the db's `confState` (etcd 3.5+, as of the db's applied
//! index), else its `members` bucket (`isLearner`, as of the applied index), and the
//! newest readable snap file's conf state (as of its index). Conf-change entries after
//! the base, up to the hard state's commit index (raft applies a conf change only once
//! committed), are applied on top: add a voter (also a learner's promotion), add a
//! learner (also a demotion), remove; an update changes nothing.

use super::cluster::ClusterInfo;
use super::meta::EtcdMeta;
use crate::wal::snapfile::SnapInfo;
use crate::wal::{Payload, RaftLog, decode_payload};
use serde::Serialize;
use std::collections::BTreeSet;

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ConfState {
    pub voters: BTreeSet<u64>,
    pub learners: BTreeSet<u64>,
    /// Where the base came from (`db confState`, `db members`, `snap <file>`, `none`).
    pub base: String,
    /// The raft index the base is at.
    pub base_index: u64,
    /// Conf-change entries applied on top of the base.
    pub conf_changes: u64,
}

impl ConfState {
    /// Whether `node` (when known, else any single voter) is the only voter.
    pub fn sole_voter(&self, node: Option<u64>) -> bool {
        match node {
            Some(n) if n != 0 => self.voters.len() == 1 && self.voters.contains(&n),
            _ => self.voters.len() == 1,
        }
    }

    fn add_voter(&mut self, id: u64) {
        self.learners.remove(&id);
        self.voters.insert(id);
    }

    fn add_learner(&mut self, id: u64) {
        self.voters.remove(&id);
        self.learners.insert(id);
    }

    fn remove(&mut self, id: u64) {
        self.voters.remove(&id);
        self.learners.remove(&id);
    }

    /// Applies one raft ConfChangeType (0 add node, 1 remove, 2 update, 3 add learner).
    fn change(&mut self, kind: i32, id: u64) {
        match kind {
            0 => self.add_voter(id),
            1 => self.remove(id),
            3 => self.add_learner(id),
            _ => {}
        }
    }
}

/// Ids in a JSON array of numbers; `None` when the field is not such an array.
fn ids(v: &serde_json::Value) -> Option<BTreeSet<u64>> {
    match v {
        serde_json::Value::Null => Some(BTreeSet::new()),
        serde_json::Value::Array(a) => a.iter().map(serde_json::Value::as_u64).collect(),
        _ => None,
    }
}

/// The db's `confState` (JSON of raftpb.ConfState: `voters`, `learners`, ...), when
/// present and well-formed.
fn from_db_conf_state(text: &str) -> Option<(BTreeSet<u64>, BTreeSet<u64>)> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    if !v.is_object() {
        return None;
    }
    Some((ids(&v["voters"])?, ids(&v["learners"])?))
}

/// The conf state a member restarts with; see the module doc.
pub fn conf_state(
    meta: &EtcdMeta,
    cluster: &ClusterInfo,
    snaps: &[SnapInfo],
    log: &RaftLog,
) -> ConfState {
    let applied = meta.consistent_index.unwrap_or(0);
    let mut cs = ConfState {
        base: "none".into(),
        ..Default::default()
    };
    if let Some((voters, learners)) = meta.conf_state.as_deref().and_then(from_db_conf_state) {
        cs.voters = voters;
        cs.learners = learners;
        cs.base = "db confState".into();
        cs.base_index = applied;
    } else if !cluster.members.is_empty() {
        for m in &cluster.members {
            if let Ok(id) = u64::from_str_radix(&m.id, 16) {
                if m.is_learner {
                    cs.learners.insert(id);
                } else {
                    cs.voters.insert(id);
                }
            }
        }
        cs.base = "db members".into();
        cs.base_index = applied;
    }
    if let Some(s) = snaps.iter().max_by_key(|s| s.index) {
        if s.index > cs.base_index || cs.base == "none" {
            cs.voters = s.voters.iter().copied().collect();
            cs.learners = s.learners.iter().copied().collect();
            cs.base = format!("snap {}", s.file);
            cs.base_index = s.index;
        }
    }
    let commit = log.hard_state.commit;
    for e in log.after(cs.base_index) {
        if e.index > commit {
            break;
        }
        match decode_payload(e.etype, &e.data) {
            Payload::ConfChange(c) => {
                cs.change(c.r#type.unwrap_or(0), c.node_id.unwrap_or(0));
                cs.conf_changes += 1;
            }
            Payload::ConfChangeV2(c) => {
                for x in &c.changes {
                    cs.change(x.r#type.unwrap_or(0), x.node_id.unwrap_or(0));
                }
                cs.conf_changes += 1;
            }
            _ => {}
        }
    }
    cs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_conf_state_json() {
        let (v, l) = from_db_conf_state(r#"{"voters":[5,3],"auto_leave":false}"#).unwrap();
        assert_eq!(v.into_iter().collect::<Vec<_>>(), vec![3, 5]);
        assert!(l.is_empty());
        let (v, l) = from_db_conf_state(r#"{"voters":[1],"learners":[2]}"#).unwrap();
        assert_eq!((v.len(), l.len()), (1, 1));
        assert!(from_db_conf_state("[1]").is_none());
        assert!(from_db_conf_state(r#"{"voters":["x"]}"#).is_none());
    }

    #[test]
    fn changes_move_members_between_sets() {
        let mut cs = ConfState::default();
        cs.change(0, 1);
        cs.change(3, 2);
        assert!(cs.sole_voter(Some(1)));
        assert!(!cs.sole_voter(Some(2)), "a learner is never the sole voter");
        cs.change(0, 2); // promotion
        assert!(!cs.sole_voter(Some(1)));
        cs.change(1, 2);
        cs.change(2, 1);
        assert!(cs.sole_voter(Some(1)) && cs.sole_voter(None));
    }
}
