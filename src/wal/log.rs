//! The raft log a WAL holds: entries (a later entry at an index already seen replaces it and
//! everything after, as raft does after a leader change), the last hard state, snapshot
//! marks and the member's metadata.

use super::reader::{Ending, Wal};
use super::record::{ENTRY, METADATA, SNAPSHOT, STATE};
use crate::wire::{Fields, Value};
use bytes::Bytes;
use serde::Serialize;

/// One raft entry; `data` is a zero-copy slice of its segment.
#[derive(Debug, Clone)]
pub struct EntryRef {
    pub index: u64,
    pub term: u64,
    /// 0 normal, 1 conf change, 2 conf change v2.
    pub etype: i32,
    pub data: Bytes,
    pub segment: usize,
    pub offset: usize,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct HardState {
    pub term: u64,
    pub vote: u64,
    pub commit: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Metadata {
    pub node_id: u64,
    pub cluster_id: u64,
}

pub struct RaftLog {
    pub metadata: Option<Metadata>,
    pub hard_state: HardState,
    pub entries: Vec<EntryRef>,
    /// (index, term) of every snapshot record.
    pub snapshots: Vec<(u64, u64)>,
    pub records: u64,
    pub ending: Ending,
}

impl RaftLog {
    pub fn first_index(&self) -> Option<u64> {
        self.entries.first().map(|e| e.index)
    }

    pub fn last_index(&self) -> Option<u64> {
        self.entries.last().map(|e| e.index)
    }

    /// Entries with index greater than `after`.
    pub fn after(&self, after: u64) -> &[EntryRef] {
        let i = self.entries.partition_point(|e| e.index <= after);
        &self.entries[i..]
    }
}

fn varints(data: &[u8]) -> impl Iterator<Item = (u32, u64)> + '_ {
    Fields::new(data)
        .map_while(Result::ok)
        .filter_map(|(n, v)| match v {
            Value::Varint(x) => Some((n, x)),
            _ => None,
        })
}

/// Decodes a raft Entry record: `{1: type, 2: term, 3: index, 4: data}`.
pub fn decode_entry(data: &Bytes) -> Result<(i32, u64, u64, Bytes), String> {
    let (mut etype, mut term, mut index, mut body) = (0i32, 0u64, 0u64, Bytes::new());
    for f in Fields::new(data) {
        match f.map_err(|e| format!("raft Entry: {e}"))? {
            (1, Value::Varint(v)) => etype = v as i32,
            (2, Value::Varint(v)) => term = v,
            (3, Value::Varint(v)) => index = v,
            (4, Value::Bytes(b)) => {
                let at = b.as_ptr() as usize - data.as_ptr() as usize;
                body = data.slice(at..at + b.len());
            }
            _ => {}
        }
    }
    Ok((etype, term, index, body))
}

/// Reads every record and assembles the log. Reading stops at a torn tail or at damage;
/// `ending` says which, and what came before is kept.
pub fn read_log(wal: &Wal) -> RaftLog {
    let mut log = RaftLog {
        metadata: None,
        hard_state: HardState::default(),
        entries: Vec::new(),
        snapshots: Vec::new(),
        records: 0,
        ending: Ending::Clean,
    };
    let mut recs = wal.records();
    for r in recs.by_ref() {
        log.records += 1;
        match r.rtype {
            ENTRY => {
                let (etype, term, index, data) = match decode_entry(&r.data) {
                    Ok(x) => x,
                    Err(reason) => {
                        log.ending = Ending::Damaged {
                            segment: wal.segments[r.segment].name.file.clone(),
                            offset: r.offset as u64,
                            reason,
                        };
                        return log;
                    }
                };
                if let Some(first) = log.first_index() {
                    if index <= first {
                        log.entries.clear();
                    } else if index <= log.last_index().unwrap_or(0) {
                        log.entries.truncate((index - first) as usize);
                    } else if index > log.last_index().unwrap_or(0) + 1 {
                        log.ending = Ending::Damaged {
                            segment: wal.segments[r.segment].name.file.clone(),
                            offset: r.offset as u64,
                            reason: format!(
                                "entry {index} follows entry {}: entries are missing",
                                log.last_index().unwrap_or(0)
                            ),
                        };
                        return log;
                    }
                }
                log.entries.push(EntryRef {
                    index,
                    term,
                    etype,
                    data,
                    segment: r.segment,
                    offset: r.offset,
                });
            }
            STATE => {
                let mut hs = HardState::default();
                for (n, v) in varints(&r.data) {
                    match n {
                        1 => hs.term = v,
                        2 => hs.vote = v,
                        3 => hs.commit = v,
                        _ => {}
                    }
                }
                log.hard_state = hs;
            }
            METADATA => {
                let mut m = Metadata::default();
                for (n, v) in varints(&r.data) {
                    match n {
                        1 => m.node_id = v,
                        2 => m.cluster_id = v,
                        _ => {}
                    }
                }
                log.metadata = Some(m);
            }
            SNAPSHOT => {
                let (mut index, mut term) = (0, 0);
                for (n, v) in varints(&r.data) {
                    match n {
                        1 => index = v,
                        2 => term = v,
                        _ => {}
                    }
                }
                log.snapshots.push((index, term));
            }
            _ => {}
        }
    }
    if let Some(e) = recs.ending() {
        log.ending = e.clone();
    }
    log
}
