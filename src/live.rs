//! Members whose etcd is running: detecting that etcd holds a db, and taking a private copy
//! of the db that is one committed transaction's state.
//!
//! Detection reads the kernel's list of file locks (`/proc/locks`) and looks for a write
//! lock on the db's device and inode, the flock bbolt takes when etcd opens it. This module
//! must never take, test or wait on a lock itself, nor write to the member's files: the
//! running etcd must not notice it is being read.
//!
//! Consistency: bbolt writes a transaction's pages first and its meta page last, and
//! only reuses a page two commits after the commit that stopped using it (the commit that
//! frees it keeps it pending; a later writer may take it once no reader older than that
//! commit is open, and etcd cannot see this reader). So if the two meta pages read the
//! same before and after the copy, no commit completed while the copy was taken, and
//! every page reachable from the newest meta in the copy is as that commit left it; a
//! transaction in flight writes only pages that were free at that commit. When a commit
//! lands during the copy, the copy is taken again, a bounded number of times.
//!
//! The same rule lets a reader that can throw its work away read the db in place, with
//! no copy ([`in_place`]): whatever it read from the map before it finds the meta pages
//! unchanged is the mapped commit's state ([`Watch::unchanged`]).

use crate::bbolt::Db;
use crate::error::{Error, FileName, Result};
use crate::wal::{Ending, Wal};
use serde::Serialize;
use std::path::Path;

/// Which process holds the db, as `/proc/locks` lists it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Holder {
    /// The locking process (absent for open-file-description locks, which name none).
    pub pid: Option<u32>,
    /// The lock's kind as the kernel names it (`FLOCK`, `POSIX`, `OFDLCK`).
    pub lock: String,
}

/// How a running member's db was read.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Live {
    pub pid: Option<u32>,
    pub lock: String,
    /// The bbolt transaction the copy holds.
    pub txid: u64,
    /// Copies taken until one was consistent.
    pub attempts: u32,
    /// Bytes copied (the db up to its high-water mark).
    pub bytes: u64,
    /// Read in place (see [`in_place`]) rather than copied.
    #[serde(skip)]
    pub in_place: bool,
}

impl std::fmt::Display for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let who = self
            .pid
            .map_or_else(|| "a process".to_string(), |p| format!("etcd (pid {p})"));
        if self.in_place {
            return write!(
                f,
                "{who} is running on this member and holds its db ({} lock): reading transaction {} in place ({} bytes), kept only if etcd commits nothing before the snapshot is complete (else read again from a consistent copy), and the WAL up to its last complete record",
                self.lock, self.txid, self.bytes
            );
        }
        write!(
            f,
            "{who} is running on this member and holds its db ({} lock): read a consistent copy of transaction {} ({} bytes, {} attempt{}) and the WAL up to its last complete record",
            self.lock,
            self.txid,
            self.bytes,
            self.attempts,
            if self.attempts == 1 { "" } else { "s" }
        )
    }
}

/// The process holding a write lock on the file at `path`, if any (Linux; elsewhere none
/// is ever found).
pub fn holder(path: &Path) -> Option<Holder> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path).ok().filter(|m| m.is_file())?;
        let dev = meta.dev();
        let locks = std::fs::read_to_string("/proc/locks").ok()?;
        find_lock(&locks, libc::major(dev), libc::minor(dev), meta.ino())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = path;
        None
    }
}

/// The first write lock held (not waited for) on device `major:minor`, inode `ino` in the
/// text of `/proc/locks`: `N: KIND ADVISORY|MANDATORY READ|WRITE PID MAJ:MIN:INODE START END`,
/// device numbers in hex; waiters carry `->` after the number.
pub fn find_lock(locks: &str, major: u32, minor: u32, ino: u64) -> Option<Holder> {
    for line in locks.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 6 || f[1] == "->" {
            continue;
        }
        let (kind, mode, pid, at) = (f[1], f[3], f[4], f[5]);
        if mode != "WRITE" {
            continue;
        }
        let mut parts = at.split(':');
        let (Some(ma), Some(mi), Some(i), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let same = u32::from_str_radix(ma, 16).ok() == Some(major)
            && u32::from_str_radix(mi, 16).ok() == Some(minor)
            && i.parse::<u64>().ok() == Some(ino);
        if same {
            return Some(Holder {
                pid: pid.parse::<u32>().ok(),
                lock: kind.to_string(),
            });
        }
    }
    None
}

/// How a running member's WAL reading ended. etcd appends to the last segment while it is
/// read, so reading stops at its last complete, CRC-valid record: whatever follows in the
/// last segment is a record being written, not damage. Earlier segments are complete and
/// keep their verdict.
pub fn wal_tail(ending: Ending, wal: &Wal) -> Ending {
    match ending {
        Ending::Damaged {
            segment,
            offset,
            reason,
        } if wal.segments.last().is_some_and(|s| s.name.file == segment) => Ending::Torn {
            segment,
            offset,
            reason: format!("etcd is appending here: {reason}"),
        },
        e => e,
    }
}

/// Copies taken before giving up on a db that commits during every one of them.
const ATTEMPTS: u32 = 40;
/// Bytes read to find the meta pages (two pages of the largest page size).
const HEAD: u64 = 2 * 65536;

/// Takes a consistent private copy of the db at `path`, which `holder` is writing.
pub fn consistent_copy(path: &Path, name: &FileName, holder: &Holder) -> Result<(Vec<u8>, Live)> {
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let read = |at: u64, n: u64| -> Result<Vec<u8>> {
        let mut buf = vec![0u8; n as usize];
        file.read_exact_at(&mut buf, at)
            .map_err(|e| Error::io(path, e))?;
        Ok(buf)
    };
    let mut last_fault = None;
    for attempt in 1..=ATTEMPTS {
        if attempt > 1 {
            std::thread::sleep(std::time::Duration::from_millis(
                5 * u64::from(attempt.min(10)),
            ));
        }
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let head = read(0, len.min(HEAD))?;
        let (page_size, used) = match Db::open(&head, name) {
            Ok(db) => (db.page_size() as u64, db.used_size()),
            Err(e) => {
                // Both meta pages unreadable: a meta write caught halfway, or damage.
                last_fault = Some(e);
                continue;
            }
        };
        let metas = 2 * page_size;
        if used > len || used < metas {
            last_fault = Some(Error::corrupt(
                name,
                0,
                format!(
                    "the db's high-water mark ({used} bytes) lies beyond its file ({len} bytes)"
                ),
            ));
            continue;
        }
        let copy = match read(0, used) {
            Ok(c) => c,
            Err(e) => {
                last_fault = Some(e);
                continue;
            }
        };
        let after = read(0, metas)?;
        if copy[..metas as usize] != head[..metas as usize] || after != head[..metas as usize] {
            continue;
        }
        let txid = match Db::open(&copy, name) {
            Ok(db) => db.meta().txid,
            Err(e) => return Err(e),
        };
        return Ok((
            copy,
            Live {
                pid: holder.pid,
                lock: holder.lock.clone(),
                txid,
                attempts: attempt,
                bytes: used,
                in_place: false,
            },
        ));
    }
    let why = last_fault.map_or_else(
        || "etcd committed a transaction during every copy".to_string(),
        |e| e.to_string(),
    );
    Err(Error::invalid(format!(
        "{}: etcd is running on this db and no consistent copy could be taken in {ATTEMPTS} attempts ({why}); try again, or read an `etcdctl snapshot save` file or a stopped member",
        path.display()
    )))
}

/// A running member's db read in place: its meta pages as they were when it was mapped,
/// to tell later whether etcd committed meanwhile.
#[derive(Debug)]
pub struct Watch {
    file: std::fs::File,
    head: Vec<u8>,
}

impl Watch {
    /// Whether the db's two meta pages still read as when it was mapped. If so, no commit
    /// completed in between (bbolt writes a commit's meta page last), and every page
    /// reachable from the mapped commit's meta read, all that time, as that commit left it
    /// (see the module's note on consistency): whatever was read from the map is that
    /// commit's state.
    pub fn unchanged(&self) -> bool {
        use std::os::unix::fs::FileExt;
        let mut now = vec![0u8; self.head.len()];
        self.file.read_exact_at(&mut now, 0).is_ok() && now == self.head
    }
}

impl Watch {
    /// A watch on the db at `path` as `map` holds it (which [`Watch::unchanged`] may
    /// already deny: a commit landing, or another file renamed into place, as a defrag
    /// does). `None` when `map` does not hold a db whose meta pages read as a consistent
    /// pair.
    pub fn of(path: &Path, map: &crate::mapped::Mapped) -> Result<Option<Watch>> {
        let bytes = map.bytes();
        let head = &bytes[..bytes.len().min(HEAD as usize)];
        let Ok(db) = Db::open(head, map.name()) else {
            return Ok(None);
        };
        let metas = 2 * db.page_size();
        if db.used_size() > bytes.len() as u64 || metas > head.len() {
            return Ok(None);
        }
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let watch = Watch {
            file,
            head: head[..metas].to_vec(),
        };
        Ok(Some(watch))
    }
}

/// Maps the db at `path`, which `holder` is writing, without copying it: for a reader
/// that can throw away what it read when [`Watch::unchanged`] says etcd committed before
/// it was done (a snapshot written to a temp file, renamed only then), and read again
/// from [`consistent_copy`]. Copying a large db into memory costs more than reading it
/// where it lies; a member that commits nothing while it is read (an idle one, or a read
/// shorter than its commit interval) is read at no extra cost. `None` when the meta
/// pages do not read as a consistent pair right now (a commit landing): take the copy.
pub fn in_place(
    path: &Path,
    holder: &Holder,
) -> Result<Option<(crate::mapped::Mapped, Live, Watch)>> {
    let map = crate::mapped::Mapped::open(path)?;
    let bytes = map.bytes();
    let head = bytes[..bytes.len().min(HEAD as usize)].to_vec();
    let Ok(db) = Db::open(&head, map.name()) else {
        return Ok(None);
    };
    let (metas, used, txid) = (2 * db.page_size(), db.used_size(), db.meta().txid);
    if used > bytes.len() as u64 || metas > head.len() {
        return Ok(None);
    }
    let Some(watch) = Watch::of(path, &map)?.filter(Watch::unchanged) else {
        return Ok(None);
    };
    let live = Live {
        pid: holder.pid,
        lock: holder.lock.clone(),
        txid,
        attempts: 1,
        bytes: used,
        in_place: true,
    };
    Ok(Some((map, live, watch)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCKS: &str = "1: OFDLCK ADVISORY  WRITE -1 fe:00:10043616 0 EOF\n\
        2: FLOCK  ADVISORY  READ 2828 fe:00:10133507 0 EOF\n\
        3: FLOCK  ADVISORY  WRITE 3415 fe:00:10043613 0 EOF\n\
        3: -> FLOCK  ADVISORY  WRITE 4000 fe:00:10043614 0 EOF\n";

    #[test]
    fn finds_the_write_lock_on_the_file() {
        assert_eq!(
            find_lock(LOCKS, 0xfe, 0, 10043613),
            Some(Holder {
                pid: Some(3415),
                lock: "FLOCK".into()
            })
        );
        assert_eq!(find_lock(LOCKS, 0xfe, 0, 10043616).unwrap().pid, None);
        // A shared lock is a reader, a waiter holds nothing, another device is another file.
        assert_eq!(find_lock(LOCKS, 0xfe, 0, 10133507), None);
        assert_eq!(find_lock(LOCKS, 0xfe, 0, 10043614), None);
        assert_eq!(find_lock(LOCKS, 0xfd, 0, 10043613), None);
        assert_eq!(find_lock("garbage\n1: X\n", 0xfe, 0, 1), None);
    }
}
