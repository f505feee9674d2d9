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
    let meta = read_meta(&db).ok();
    let ci = meta.as_ref().and_then(|m| m.consistent_index);
    let mut out = MemberCheck {
        db_file: src.db_path.display().to_string(),
        db: report,
        consistent_index: ci,
        wal: None,
        snaps: Vec::new(),
        findings: Vec::new(),
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
    let log = read_log(&wal);
    match &log.ending {
        Ending::Damaged { segment, offset, reason } => {
            out.findings.push(format!("{}/{segment}: offset {offset}: {reason}", dir.display()))
        }
        Ending::Torn { segment, offset, reason } => out.notes.push(format!(
            "{}/{segment}: offset {offset}: the WAL ends in a torn record, as a crash leaves it ({reason})",
            dir.display()
        )),
        Ending::Clean => {}
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
        if ci.is_some_and(|ci| s.index > ci) {
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
