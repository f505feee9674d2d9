//! A directory of scheduled snapshots: how each new one is named, whether it is full or
//! incremental on the newest, and which old ones a retention policy lets go. Files are
//! named `reshift-<UTC time>-r<revision>.rsnap` (`.inc.rsnap` for an incremental).
//!
//! Only files of that name whose header reads are ever considered, and nothing is deleted
//! but by [`prune`], which keeps the newest file, every file the policy keeps, and every
//! file a kept incremental depends on.

use super::chain::Link;
use super::reader::Snapshot;
use crate::error::{Error, Result};
use crate::mapped::Mapped;
use std::path::{Path, PathBuf};

/// What a retention run keeps.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// The newest N files (the newest one is always kept).
    pub keep: Option<usize>,
    /// Files written within this many seconds.
    pub keep_within: Option<i64>,
    /// After this many incrementals on a full snapshot, the next one is full.
    pub full_every: Option<usize>,
}

/// One snapshot of the directory, as its header describes it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub path: PathBuf,
    pub created_unix: i64,
    pub revision: i64,
    pub base: Option<Link>,
    pub bytes: u64,
    pub file_crc: u32,
    pub tail_crc: u32,
}

impl Entry {
    fn is(&self, link: &Link) -> bool {
        self.bytes == link.bytes && self.file_crc == link.file_crc && self.tail_crc == link.tail_crc
    }
}

const PREFIX: &str = "reshift-";

/// Parses `7d`, `12h`, `30m`, `90s` or `2w` into seconds.
pub fn parse_duration(s: &str) -> std::result::Result<i64, String> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = n
        .parse()
        .map_err(|_| format!("{s:?}: expected a number and a unit (s, m, h, d, w)"))?;
    let mul = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        "w" => 7 * 86400,
        _ => return Err(format!("{s:?}: the unit must be s, m, h, d or w")),
    };
    n.checked_mul(mul).ok_or_else(|| format!("{s:?}: too long"))
}

/// The name of a snapshot taken at `unix_ms` (milliseconds) of revision `revision`.
pub fn file_name(unix_ms: i64, revision: i64, incremental: bool) -> String {
    let secs = unix_ms.div_euclid(1000);
    let stamp = crate::k8s::meta::rfc3339(secs)
        .replace(['-', ':'], "")
        .trim_end_matches('Z')
        .to_string();
    format!(
        "{PREFIX}{stamp}.{:03}Z-r{revision}{}.rsnap",
        unix_ms.rem_euclid(1000),
        if incremental { ".inc" } else { "" }
    )
}

/// The snapshots in `dir` named as this module names them whose headers read, oldest
/// first (by revision, then time of writing), and what was passed over: files of that
/// name that do not open as snapshots, which are never a base and never deleted.
pub fn list(dir: &Path) -> Result<(Vec<Entry>, Vec<String>)> {
    let mut out = Vec::new();
    let mut unread = Vec::new();
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for e in rd {
        let e = e.map_err(|e| Error::io(dir, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with(PREFIX) || !name.ends_with(".rsnap") {
            continue;
        }
        let path = e.path();
        let m = Mapped::open(&path);
        let s = m
            .as_ref()
            .map_err(|e| e.to_string())
            .and_then(|m| Snapshot::open(m.bytes(), m.name()).map_err(|e| e.to_string()));
        let s = match s {
            Ok(s) => s,
            Err(e) => {
                unread.push(format!("{e}: damaged, left alone"));
                continue;
            }
        };
        out.push(Entry {
            created_unix: s.facts.created_unix,
            revision: s.facts.at_revision.unwrap_or(s.facts.revision),
            base: s.facts.base.clone(),
            bytes: s.bytes.len() as u64,
            file_crc: s.trailer.file_crc,
            tail_crc: s.trailer.tail_crc,
            path,
        });
    }
    out.sort_by(|a, b| {
        (a.revision, a.created_unix, &a.path).cmp(&(b.revision, b.created_unix, &b.path))
    });
    Ok((out, unread))
}

/// The entry `link` names, among `entries`: the one of its recorded name if that matches,
/// else any that matches (identical files are interchangeable).
fn base_of<'e>(entries: &'e [Entry], link: &Link) -> Option<&'e Entry> {
    let named = |e: &&Entry| e.path.file_name().is_some_and(|n| *n == *link.name);
    entries
        .iter()
        .filter(|e| e.is(link))
        .find(named)
        .or_else(|| entries.iter().find(|e| e.is(link)))
}

/// The file the next snapshot is incremental on, or `None` for a full one: the newest
/// intact file, unless there is none, its chain is incomplete here, or it already has
/// `full_every` incrementals since its full snapshot. Newer files whose bytes no longer
/// match their checksum are passed over and returned second: they are never a base, and
/// the caller leaves them out of [`prune`].
pub fn next_base<'e>(entries: &'e [Entry], policy: &Policy) -> (Option<&'e Entry>, Vec<PathBuf>) {
    let mut damaged = Vec::new();
    let mut newest = None;
    for e in entries.iter().rev() {
        let intact = Mapped::open(&e.path).is_ok_and(|m| {
            Snapshot::open(m.bytes(), m.name()).is_ok_and(|s| super::chain::whole_crc_holds(&s))
        });
        if intact {
            newest = Some(e);
            break;
        }
        damaged.push(e.path.clone());
    }
    let Some(newest) = newest else {
        return (None, damaged);
    };
    let mut incrementals = 0usize;
    let mut at = newest;
    while let Some(link) = &at.base {
        incrementals += 1;
        match base_of(entries, link) {
            Some(b) if incrementals <= entries.len() => at = b,
            _ => return (None, damaged),
        }
    }
    match policy.full_every {
        Some(k) if incrementals >= k => (None, damaged),
        _ => (Some(newest), damaged),
    }
}

/// Deletes the files of `entries` the policy lets go, `newest` (just written and verified)
/// excepted, and every file a kept incremental depends on; returns what was deleted. With
/// neither `keep` nor `keep_within`, nothing is deleted.
pub fn prune(entries: &[Entry], newest: &Path, policy: &Policy, now: i64) -> Result<Vec<PathBuf>> {
    if policy.keep.is_none() && policy.keep_within.is_none() {
        return Ok(Vec::new());
    }
    let n = entries.len();
    let mut keep: Vec<bool> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            e.path == newest
                || policy.keep.is_some_and(|k| i + k >= n)
                || policy
                    .keep_within
                    .is_some_and(|w| e.created_unix >= now.saturating_sub(w))
        })
        .collect();
    // What a kept incremental depends on is kept, down to its full snapshot.
    for i in (0..n).rev() {
        if !keep[i] {
            continue;
        }
        let mut at = &entries[i];
        let mut steps = 0;
        while let Some(link) = &at.base {
            let Some(j) = base_of(entries, link)
                .and_then(|b| entries.iter().position(|e| std::ptr::eq(e, b)))
            else {
                break;
            };
            keep[j] = true;
            at = &entries[j];
            steps += 1;
            if steps > n {
                break;
            }
        }
    }
    let mut deleted = Vec::new();
    for (e, k) in entries.iter().zip(keep) {
        if !k {
            std::fs::remove_file(&e.path).map_err(|err| Error::io(&e.path, err))?;
            deleted.push(e.path.clone());
        }
    }
    Ok(deleted)
}
