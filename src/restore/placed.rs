//! Restoring from a snapshot in memory that does not grow with it. The snapshot's record
//! heads (revision, deletion flag, length) say where every record goes in the new db before
//! any chunk is decoded: the db is laid out, its pages written into a map of the new file
//! with each value left as a hole, then the chunks are decoded on all cores, each straight
//! into its records' holes. Nothing but the heads and one chunk per thread is held, and no
//! byte of the file is written twice.

use crate::error::{Error, Result};
use crate::etcd::Keyspace;
use crate::etcd::revision::Revision;
use crate::snapshot::Snapshot;
use crate::snapshot::format::{Head, TOMBSTONE};
use rayon::prelude::*;

/// One record of the key bucket by size: its revision, whether it is a deletion, and the
/// length of its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub rev: Revision,
    pub tombstone: bool,
    pub len: u32,
}

/// The key bucket of a restore from a snapshot, laid out by size.
pub struct Placed {
    /// In revision order.
    pub slots: Vec<Slot>,
    /// For each slot, the record's place in the file's order (chunk by chunk), or
    /// `u32::MAX` for the record a revision bump adds, which has no value.
    pub from: Vec<u32>,
    /// Every record's head, in file order.
    pub heads: Vec<Head>,
    /// The store as the restored db will have it: revision, compaction, meta (no records).
    pub ks: Keyspace<'static>,
}

impl Placed {
    /// Number of revision records the db will hold.
    pub fn total_revisions(&self) -> usize {
        self.slots.len()
    }
}

/// Lays out a restore of `snap`, with its revision raised by `bump` and, with `compact`,
/// compacted there when etcd next opens it (as [`super::db::bump`]). `None` for snapshots
/// older than format version 3, which have no heads.
pub fn plan(snap: &Snapshot<'_>, bump: i64, compact: bool) -> Result<Option<Placed>> {
    let Some(heads) = snap.heads()? else {
        return Ok(None);
    };
    let bad = |what: String| Error::corrupt(snap.file, snap.trailer.index_offset, what);
    if heads.len() >= u32::MAX as usize {
        return Err(bad(format!("{} records: too many to restore", heads.len())));
    }
    let mut slots = Vec::with_capacity(heads.len() + 1);
    for h in &heads {
        let (Ok(main), Ok(sub), Ok(len)) = (
            i64::try_from(h.main),
            i64::try_from(h.sub),
            u32::try_from(h.len),
        ) else {
            return Err(bad(format!(
                "record head {}_{} (length {}) is out of range",
                h.main, h.sub, h.len
            )));
        };
        slots.push(Slot {
            rev: Revision { main, sub },
            tombstone: h.flags & TOMBSTONE != 0,
            len,
        });
    }
    check_heads(snap, &heads)?;
    let mut from: Vec<u32> = (0..slots.len() as u32).collect();
    from.par_sort_unstable_by_key(|&i| slots[i as usize].rev);
    let mut slots: Vec<Slot> = from.iter().map(|&i| slots[i as usize]).collect();
    if let Some(w) = slots.windows(2).find(|w| w[0].rev == w[1].rev) {
        return Err(bad(format!(
            "revision {}_{} is held twice",
            w[0].rev.main, w[0].rev.sub
        )));
    }
    let mut meta = crate::snapshot::open::meta(snap);
    let f = &snap.facts;
    let last = slots.last().map_or(1, |s| s.rev.main);
    let mut revision = last
        .max(meta.compact_revision())
        .max(1)
        .max(f.at_revision.unwrap_or(f.revision));
    if bump > 0 {
        revision = super::db::bumped_revision(revision, bump)?;
        // etcd takes its revision from the key bucket's last record: a deletion of the
        // empty key, which no client can name (as `db::bump`).
        slots.push(Slot {
            rev: Revision {
                main: revision,
                sub: 0,
            },
            tombstone: true,
            len: 0,
        });
        from.push(u32::MAX);
    }
    if compact {
        meta.scheduled_compact_revision = Some(revision);
    }
    let mut ks = Keyspace::from_records(Vec::new(), meta);
    ks.revision = revision;
    Ok(Some(Placed {
        slots,
        from,
        heads,
        ks,
    }))
}

/// Bytes a record takes in a chunk's record stream, by its head.
fn stream_len(h: &Head) -> u64 {
    let v = |x: u64| (64 - (x | 1).leading_zeros() as u64).div_ceil(7);
    v(h.main) + v(h.sub) + 1 + v(h.len) + h.len
}

/// Checks the heads against the index before anything is written from them: each chunk's
/// heads must add up to its record count and raw length (so no record claims more than its
/// chunk, at most 64 MiB, holds). Where the chunks claim far more than such a file could
/// hold (64 times its size), every chunk is decoded and checked first, so a crafted file
/// cannot make restore write a huge db of zeros before the lie is found.
fn check_heads(snap: &Snapshot<'_>, heads: &[Head]) -> Result<()> {
    for (i, (c, at)) in snap.index.iter().zip(snap.record_starts()).enumerate() {
        let mine = heads.get(at..at.saturating_add(c.records as usize));
        let sum = mine.map(|m| m.iter().map(stream_len).sum::<u64>());
        if sum != Some(c.raw_len) {
            return Err(Error::corrupt(
                snap.file,
                c.offset,
                format!(
                    "chunk {i} ({}): its record heads disagree with the index (records, raw length)",
                    c.group
                ),
            ));
        }
    }
    let total: u64 = snap.index.iter().map(|c| c.raw_len).sum();
    if total > (snap.bytes.len() as u64).saturating_mul(64) {
        (0..snap.index.len()).into_par_iter().try_for_each(|i| {
            CHUNK.with(|buf| {
                let mut buf = buf.borrow_mut();
                buf.resize(snap.index[i].raw_len as usize, 0);
                snap.chunk_into(i, &mut buf)
            })
        })?;
    }
    Ok(())
}

thread_local! {
    static CHUNK: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Fills the holes `write_db` left in `out` (the db's bytes; one hole per slot, in slot
/// order) with the records of `snap`'s chunks, decoded on all cores, each checked against
/// its head.
pub fn fill_slice(
    snap: &Snapshot<'_>,
    placed: &Placed,
    holes: &[u64],
    out: &mut [u8],
) -> Result<()> {
    // SAFETY: `out` is borrowed mutably for the whole call.
    unsafe { fill_raw(snap, placed, holes, out.as_mut_ptr(), out.len()) }
}

/// [`fill_slice`] through a pointer, so the db's pages can be written into the other bytes
/// of the same buffer at the same time.
///
/// # Safety
/// `base..base + len` must be valid for writes for the whole call, and nothing else may
/// read or write the holes' bytes meanwhile (bytes outside the holes are never touched).
pub unsafe fn fill_raw(
    snap: &Snapshot<'_>,
    placed: &Placed,
    holes: &[u64],
    base: *mut u8,
    len: usize,
) -> Result<()> {
    if holes.len() != placed.slots.len() {
        return Err(Error::invalid(format!(
            "restore: {} value holes for {} records",
            holes.len(),
            placed.slots.len()
        )));
    }
    let len = len as u64;
    // The writer lays values out in increasing, disjoint places inside the file; the
    // writes below rely on it, so it is checked rather than trusted.
    let mut end = 0u64;
    for (s, &h) in placed.slots.iter().zip(holes) {
        if h < end || h + s.len as u64 > len {
            return Err(Error::invalid(format!(
                "restore: value hole at {h} overlaps or runs past the file"
            )));
        }
        end = h + s.len as u64;
    }
    // Where each record, in file order, goes.
    let mut dest = vec![u64::MAX; placed.heads.len()];
    for (&f, &h) in placed.from.iter().zip(holes) {
        if f != u32::MAX {
            dest[f as usize] = h;
        }
    }
    let base = base as usize;
    let starts = snap.record_starts();
    let at = (starts.last().zip(snap.index.last()))
        .map_or(0, |(s, c)| s.saturating_add(c.records as usize));
    if at != placed.heads.len() {
        return Err(Error::corrupt(
            snap.file,
            snap.trailer.index_offset,
            format!(
                "the index counts {at} records, the heads {}",
                placed.heads.len()
            ),
        ));
    }
    (0..snap.index.len()).into_par_iter().try_for_each(|i| {
        let c = &snap.index[i];
        let disagree = |what: String| {
            Error::corrupt(
                snap.file,
                c.offset,
                format!("chunk {i} ({}): {what}", c.group),
            )
        };
        let first = starts[i];
        let mut wrong = None;
        // Each record's KeyValue is decoded straight into its hole, checked against its
        // head first; no record stream is built.
        let decoded = snap.chunk_into_holes(i, |j, main, sub, flags| {
            let h = placed
                .heads
                .get(first + j)
                .filter(|_| (j as u64) < c.records)
                .ok_or_else(|| format!("more records than the {} the index says", c.records))?;
            if !h.names(main, sub, flags & TOMBSTONE != 0) {
                wrong = Some(format!("record {j} disagrees with its head"));
                return Err("a record disagrees with its head".into());
            }
            let d = dest[first + j];
            // SAFETY: `d..d + h.len` lies inside the buffer (checked above) and belongs
            // to this record alone: holes are disjoint, each record has one, and the
            // caller leaves them to this function.
            Ok(unsafe {
                std::slice::from_raw_parts_mut((base + d as usize) as *mut u8, h.len as usize)
            })
        });
        if let Some(w) = wrong {
            return Err(disagree(w));
        }
        let n = decoded?;
        if n as u64 != c.records {
            return Err(disagree(format!(
                "{n} records, the index says {}",
                c.records
            )));
        }
        Ok(())
    })
}
