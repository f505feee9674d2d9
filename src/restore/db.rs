//! A new etcd bbolt db from a keyspace and the other buckets' entries: every revision
//! record under its revision key (tombstones included), and etcd's buckets, present even
//! when empty. `--db-out` files end in the sha256 of the db, as `etcdctl snapshot save`
//! writes them, so `etcdctl snapshot restore` accepts them without `--skip-hash-check`.

use crate::bbolt::writer::BoltWriter;
use crate::error::{Error, Result};
use crate::etcd::keyspace::Keyspace;
use crate::etcd::revision::encode_rev_key;
use crate::etcd::schema;
use crate::snapshot::extras::Entry;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

/// Buckets etcd 3.4 creates, written even when empty.
const ETCD_BUCKETS: [&[u8]; 10] = [
    schema::ALARM,
    schema::AUTH,
    schema::AUTH_ROLES,
    schema::AUTH_USERS,
    schema::CLUSTER,
    schema::KEY,
    schema::LEASE,
    schema::MEMBERS,
    schema::MEMBERS_REMOVED,
    schema::META,
];

pub const PAGE_SIZE: usize = 4096;

/// A bucket's entries for the writer: (key, value, is a bucket).
type Entries = Vec<(Vec<u8>, Vec<u8>, bool)>;

/// The keyspace with its revision raised by `by` and, with `compact`, compacted at the
/// raised revision when etcd next opens it. etcd takes its revision from the last record of
/// the key bucket and skips deletions of keys it does not know when it indexes them, so
/// the raise is a deletion of the empty key (which no client can name) at the new
/// revision; the compaction is etcd's own scheduled compaction mark.
pub fn bump<'a>(ks: &Keyspace<'a>, by: i64, compact: bool) -> Result<Keyspace<'a>> {
    let revision = bumped_revision(ks.revision, by)?;
    let mut records = ks.records().to_vec();
    if by > 0 {
        records.push(crate::etcd::RevRecord {
            rev: crate::etcd::Revision {
                main: revision,
                sub: 0,
            },
            tombstone: true,
            key: b"",
            kv: b"",
        });
    }
    let mut meta = ks.meta.clone();
    if compact {
        meta.scheduled_compact_revision = Some(revision);
    }
    let mut out = Keyspace::from_records(records, meta);
    out.revision = revision;
    Ok(out)
}

/// `revision` raised by `by`, refused where it would pass the largest revision etcd
/// holds (an i64) instead of wrapping to a negative one.
pub fn bumped_revision(revision: i64, by: i64) -> Result<i64> {
    revision.checked_add(by).ok_or_else(|| {
        crate::error::Error::invalid(format!(
            "--bump-revision {by} on revision {revision} passes the largest revision ({})",
            i64::MAX
        ))
    })
}

/// What a db's key bucket is written from.
#[derive(Clone, Copy)]
pub enum Keys<'k, 'a> {
    /// A keyspace's revision records, values in hand.
    Records(&'k [crate::etcd::RevRecord<'a>]),
    /// Revision records by size alone, in revision order: their values are left as holes
    /// whose file offsets [`write_db`] returns, for the caller to fill.
    Sized(&'k [super::placed::Slot]),
}

/// Writes the db for `keys` and `extras` into `out`; returns the sink and, for
/// [`Keys::Sized`], the file offset of each slot's value.
pub fn write_db<W: Write + Seek>(
    out: W,
    path: &Path,
    keys: Keys<'_, '_>,
    extras: &[Entry],
) -> Result<(W, Vec<u64>)> {
    let mut w = BoltWriter::new(out, path, PAGE_SIZE)?;
    let mut buckets: BTreeMap<Vec<u8>, Entries> = ETCD_BUCKETS
        .iter()
        .map(|b| (b.to_vec(), Vec::new()))
        .collect();
    for (b, k, v) in extras {
        if b.as_slice() != schema::KEY {
            buckets
                .entry(b.clone())
                .or_default()
                .push((k.clone(), v.clone(), false));
        }
    }
    let mut roots = Vec::new();
    let mut holes = Vec::new();
    for (name, mut entries) in buckets {
        let root = if name.as_slice() == schema::KEY {
            match keys {
                Keys::Records(records) => w.write_tree(
                    records
                        .iter()
                        .map(|r| (encode_rev_key(r.rev, r.tombstone), r.kv, false)),
                )?,
                Keys::Sized(slots) => {
                    let (root, h) = w.write_tree_with_holes(
                        slots
                            .iter()
                            .map(|s| (encode_rev_key(s.rev, s.tombstone), s.len as usize)),
                    )?;
                    holes = h;
                    root
                }
            }
        } else {
            entries.sort();
            entries.dedup_by(|a, b| a.0 == b.0);
            w.write_tree(entries)?
        };
        roots.push((name, BoltWriter::<W>::bucket_value(root), true));
    }
    let root = w.write_tree(roots)?;
    Ok((w.finish(root)?, holes))
}

/// Where a db's records come from: a keyspace, or a snapshot's chunks placed by size
/// ([`super::placed`]) and decoded straight into the file.
#[derive(Clone, Copy)]
pub enum Source<'k, 'a> {
    Keyspace(&'k Keyspace<'a>),
    Snapshot(&'k crate::snapshot::Snapshot<'a>, &'k super::placed::Placed),
}

/// Writes the whole db for `src` and `extras` into the empty `file` and returns it (not
/// yet synced).
pub fn write_db_into(
    file: File,
    path: &Path,
    src: Source<'_, '_>,
    extras: &[Entry],
) -> Result<File> {
    match src {
        Source::Keyspace(ks) => {
            let (out, _) = write_db(
                std::io::BufWriter::with_capacity(1 << 20, crate::writeback::Writeback::new(file)),
                path,
                Keys::Records(ks.records()),
                extras,
            )?;
            Ok(out
                .into_inner()
                .map_err(|e| Error::io(path, e.into_error()))?
                .into_inner())
        }
        Source::Snapshot(snap, placed) => {
            // Lay the db out first (where every page and value goes, and how long the file
            // is), then write the pages into a map of the file, skipping the values' holes,
            // and decode the chunks straight into the holes: nothing is written twice.
            let (count, holes) = write_db(
                super::sinks::Counter::default(),
                path,
                Keys::Sized(&placed.slots),
                extras,
            )?;
            if count.len == 0 {
                return Ok(file);
            }
            // A full disk is an error here, not a SIGBUS in the map.
            // SAFETY: the file was just created by this process (mode 0600) under a temp
            // name, and it is not resized while mapped.
            let mut map = unsafe { crate::space::map_new(&file, count.len) }
                .map_err(|e| Error::io(path, e))?;
            // The pages and the values are disjoint bytes of the map (the writer skips
            // every hole, the fill writes only inside them), so both are written at once.
            let (base, len) = (map.as_mut_ptr() as usize, map.len());
            let (pages, filled) = rayon::join(
                || {
                    // SAFETY: the map outlives the join; this sink writes only bytes
                    // outside the holes.
                    let sink = unsafe { super::sinks::PtrSink::new(base as *mut u8, len) };
                    write_db(sink, path, Keys::Sized(&placed.slots), extras).map(|(_, h)| h)
                },
                // SAFETY: the map outlives the join; the fill writes only inside the holes.
                || unsafe { super::placed::fill_raw(snap, placed, &holes, base as *mut u8, len) },
            );
            let again = pages?;
            filled?;
            if again != holes {
                return Err(Error::invalid(
                    "restore: the db's layout changed between passes",
                ));
            }
            map.flush_async().map_err(|e| Error::io(path, e))?;
            Ok(file)
        }
    }
}

/// Writes to `target` (which must not exist) the db etcd would hold after one put of each
/// (key, value) in turn into an empty store: revisions 2, 3, …, version 1, no lease, the
/// consistent index at the last put. For measurements and tests at sizes a real etcd takes
/// minutes to fill; the values are whatever the caller gives.
pub fn write_puts_db(target: &Path, puts: &[(Vec<u8>, Vec<u8>)]) -> Result<()> {
    let kvs: Vec<Vec<u8>> = puts
        .iter()
        .enumerate()
        .map(|(i, (k, v))| {
            let rev = i as i64 + 2;
            crate::etcd::KeyValueRef {
                key: k,
                create_revision: rev,
                mod_revision: rev,
                version: 1,
                value: v,
                lease: 0,
            }
            .encode()
        })
        .collect();
    let records: Vec<crate::etcd::RevRecord<'_>> = kvs
        .iter()
        .zip(puts)
        .enumerate()
        .map(|(i, (kv, (k, _)))| crate::etcd::RevRecord {
            rev: crate::etcd::Revision {
                main: i as i64 + 2,
                sub: 0,
            },
            tombstone: false,
            key: k,
            kv,
        })
        .collect();
    let extras = vec![(
        schema::META.to_vec(),
        schema::CONSISTENT_INDEX.to_vec(),
        (puts.len() as u64).to_be_bytes().to_vec(),
    )];
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let f = o.open(target).map_err(|e| Error::io(target, e))?;
    let (w, _) = write_db(
        std::io::BufWriter::with_capacity(1 << 20, f),
        target,
        Keys::Records(&records),
        &extras,
    )?;
    let f = w
        .into_inner()
        .map_err(|e| Error::io(target, e.into_error()))?;
    f.sync_all().map_err(|e| Error::io(target, e))
}

/// Writes a standalone db followed by its sha256 to `target`: a temp file beside it,
/// fsynced, renamed; an existing target only with `force`.
pub fn write_db_file(
    target: &Path,
    src: Source<'_, '_>,
    extras: &[Entry],
    force: bool,
) -> Result<u64> {
    if target.exists() && !force {
        return Err(Error::invalid(format!(
            "{} exists: pass --force to replace it",
            target.display()
        )));
    }
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .ok_or_else(|| Error::invalid(format!("{}: not a file name", target.display())))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let mut guard = None;
    let result = (|| -> Result<u64> {
        let mut o = std::fs::OpenOptions::new();
        o.read(true).write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        // Removed on error, on unwinding and on SIGINT/SIGTERM, unless renamed into place.
        let (g, file) = crate::tempout::TempGuard::create(tmp.clone(), |p| o.open(p))
            .map_err(|e| Error::io(&tmp, e))?;
        guard = Some(g);
        let mut file = write_db_into(file, &tmp, src, extras)?;
        // The hash covers the db as written, metas included: read it back.
        file.seek(SeekFrom::Start(0))
            .map_err(|e| Error::io(&tmp, e))?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut len = 0u64;
        loop {
            let n = file.read(&mut buf).map_err(|e| Error::io(&tmp, e))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            len += n as u64;
        }
        file.write_all(&h.finalize())
            .map_err(|e| Error::io(&tmp, e))?;
        file.sync_all().map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, target).map_err(|e| Error::io(target, e))?;
        if let Some(g) = guard.take() {
            g.keep();
        }
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(len + 32)
    })();
    drop(guard);
    result
}
