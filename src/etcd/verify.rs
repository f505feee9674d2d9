//! Verification of a whole member: the db's structure, the WAL's CRC chain and continuity,
//! the snap files, and whether the db's applied index fits the WAL and snaps.

use super::meta::read_meta;
use crate::bbolt::{CheckReport, check};
use crate::error::Result;
use crate::source::Source;
use crate::wal::snapfile::{SnapInfo, read_snaps};
use crate::wal::{Ending, Wal, read_log};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct WalCheck {
    pub segments: usize,
    pub records: u64,
    pub first_index: Option<u64>,
    pub last_index: Option<u64>,
    pub commit: u64,
    pub ending: Ending,
}

#[derive(Debug, Clone, Serialize)]
pub struct MemberCheck {
    pub db_file: String,
    pub db: CheckReport,
    pub consistent_index: Option<u64>,
    pub wal: Option<WalCheck>,
    pub snaps: Vec<std::result::Result<SnapInfo, String>>,
    /// Problems found by comparing the parts.
    pub findings: Vec<String>,
    /// Facts worth knowing that are not damage (a torn WAL tail after a crash).
    pub notes: Vec<String>,
}

impl MemberCheck {
    pub fn ok(&self) -> bool {
        self.db.ok()
            && self.findings.is_empty()
            && self.snaps.iter().all(|s| s.is_ok())
            && !self
                .wal
                .as_ref()
                .is_some_and(|w| matches!(w.ending, Ending::Damaged { .. }))
    }
}

pub fn verify(src: &Source) -> Result<MemberCheck> {
    let db = src.db()?;
    let report = check(&db);
    // etcd's schema on top of a sound structure (a damaged tree is reported as such, and
    // walking it for records could revisit shared pages).
    let schema_findings = if report.ok() {
        super::schema_check::check_schema(&db)
    } else {
        Vec::new()
    };
    let meta = read_meta(&db).ok();
    let ci = meta.as_ref().and_then(|m| m.consistent_index);
    let mut out = MemberCheck {
        db_file: src.db_path.display().to_string(),
        db: report,
        consistent_index: ci,
        wal: None,
        snaps: Vec::new(),
        findings: schema_findings,
        notes: Vec::new(),
    };
    if let Some(dir) = &src.snap_dir {
        out.snaps = read_snaps(dir)?
            .into_iter()
            .map(|r| r.map_err(|e| e.to_string()))
            .collect();
    }
    let Some(dir) = &src.wal_dir else {
        return Ok(out);
    };
    let wal = Wal::open(dir)?;
    for s in &wal.segments {
        if s.bytes.is_empty() {
            out.findings.push(format!(
                "{}: a 0-byte WAL segment: etcd cannot read it and would not start",
                s.file.display()
            ));
        }
    }
    let mut log = read_log(&wal);
    if src.live.is_some() {
        log.ending = crate::live::wal_tail(log.ending, &wal);
    }
    match &log.ending {
        Ending::Damaged { segment, offset, reason } => {
            out.findings.push(format!("{}/{segment}: offset {offset}: {reason}", dir.display()))
        }
        Ending::Torn { segment, offset, .. } if src.live.is_some() => out.notes.push(format!(
            "{}/{segment}: etcd is running: the WAL was read up to its last complete record, before offset {offset}",
            dir.display()
        )),
        Ending::Torn { segment, offset, reason } => out.notes.push(format!(
            "{}/{segment}: offset {offset}: the WAL ends in a torn record, as a crash leaves it ({reason})",
            dir.display()
        )),
        Ending::Clean => {}
    }
    // The WAL's last index: its last entry, or the snapshot it starts from.
    let wal_last = log
        .last_index()
        .into_iter()
        .chain(log.snapshots.iter().map(|&(i, _)| i))
        .max();
    if let (Some(ci), None, Some(last)) = (ci, log.last_index(), wal_last) {
        if ci > last {
            out.findings.push(format!(
                "the db has applied index {ci}, beyond the WAL's last index {last}"
            ));
        }
    }
    if let (Some(ci), None, None) = (ci, log.last_index(), wal_last) {
        if ci > 0 {
            out.findings.push(format!(
                "the db has applied index {ci}, but the WAL holds no entries: etcd would not start"
            ));
        }
    }
    if let Some(m) = &log.metadata {
        if let Ok(c) = super::cluster::read_cluster(&db) {
            let ids: Vec<u64> = c
                .members
                .iter()
                .filter_map(|m| u64::from_str_radix(&m.id, 16).ok())
                .collect();
            if !ids.is_empty() && !ids.contains(&m.node_id) {
                out.findings.push(format!(
                    "the WAL belongs to member {:x}, which the db's members ({}) do not include: the db comes from another member or cluster",
                    m.node_id,
                    c.members.iter().map(|m| m.id.as_str()).collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
    if let (Some(ci), Some(first), Some(last)) = (ci, log.first_index(), log.last_index()) {
        if first > ci + 1 {
            out.findings.push(format!(
                "the WAL starts at index {first}, but the db has applied only up to {ci}: entries {}..{} are missing",
                ci + 1,
                first - 1
            ));
        }
        if ci > last {
            out.findings.push(format!(
                "the db has applied index {ci}, beyond the WAL's last entry {last}"
            ));
        }
    }
    let newest_snap = out
        .snaps
        .iter()
        .filter_map(|s| s.as_ref().ok())
        .max_by_key(|s| s.index);
    if let Some(s) = newest_snap {
        // A running etcd may write a snap file after the db was copied.
        if ci.is_some_and(|ci| s.index > ci) && src.live.is_none() {
            out.findings.push(format!(
                "snap file {} is at index {}, beyond the db's applied index {}",
                s.file,
                s.index,
                ci.unwrap_or(0)
            ));
        }
        if !log
            .snapshots
            .iter()
            .any(|&(i, t)| i == s.index && t == s.term)
        {
            out.findings.push(format!(
                "the WAL has no snapshot record for the newest snap file {} (term {}, index {}): etcd would not start",
                s.file, s.term, s.index
            ));
        }
    }
    out.wal = Some(WalCheck {
        segments: wal.segments.len(),
        records: log.records,
        first_index: log.first_index(),
        last_index: log.last_index(),
        commit: log.hard_state.commit,
        ending: log.ending,
    });
    Ok(out)
}
