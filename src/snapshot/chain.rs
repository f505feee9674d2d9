//! Incremental snapshots and their chains. An incremental snapshot (format 5) names in its
//! header the snapshot it continues — its base — by the base's revision, size, whole-file
//! checksum and tail checksum, and holds only what changed after the base's revision: every
//! record after it (puts and deletions) and, where the source's compaction removed the
//! deletions in between, a deletion for each key the base had that the source no longer
//! has. Extras (leases, members, auth, meta) are stored whole in every file.
//!
//! A chain is a full snapshot followed by incrementals, each written on the one before.
//! Reading one — its latest state: each key's newest record over all its files, deletions
//! applied — gives exactly the state a full snapshot of the source at the last file's
//! revision holds. Links are found beside the file that names them or in the directories
//! the reader is given, by their checksums; a missing or altered base is a one-line error.
//!
//! This module only reads the files it is given and writes none itself (the writer does).

use super::reader::{Snapshot, SnapshotCheck};
use super::spill::Records;
use super::writer::{Facts, Options, Written, write_records};
use crate::error::{Error, Result};
use crate::etcd::keyspace::{Keyspace, RevRecord};
use crate::etcd::meta::EtcdMeta;
use crate::etcd::revision::Revision;
use crate::mapped::Mapped;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// How an incremental snapshot names its base.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Link {
    /// The base's file name when the incremental was written (looked for first).
    pub name: String,
    /// The revision the base answers for.
    pub revision: i64,
    /// The base's size in bytes.
    pub bytes: u64,
    /// The base's whole-file CRC-32C (of every byte before its trailer), as its trailer
    /// holds it and as its bytes must still give.
    pub file_crc: u32,
    /// The base's tail checksum (its index, extras and dictionaries).
    pub tail_crc: u32,
}

/// The most links a chain may have (a bound on the walk, far beyond any retention policy).
pub const MAX_LINKS: usize = 100_000;

/// Checks that `snap`'s bytes still give its whole-file checksum.
pub fn whole_crc_holds(snap: &Snapshot<'_>) -> bool {
    let end = snap.bytes.len() - super::format::TRAILER_LEN;
    crc32c::crc32c(&snap.bytes[..end]) == snap.trailer.file_crc
}

impl Link {
    /// The link to `snap`; `path` gives the name recorded. An incremental written on a base
    /// reads only the base's header, index, extras and trailer, which opening it verified
    /// against their own checksums (the header's and, from format 4, the tail's); its chunks
    /// are not read, so their bytes are not checked here: the link records the whole-file
    /// checksum the trailer holds, and every read of the chain checks the base's bytes
    /// against it ([`Chain::resolve`]), so a base damaged before or after the link was
    /// written is a broken link there. A base without a tail checksum (formats 1 to 3) is
    /// checked whole here.
    pub fn to(snap: &Snapshot<'_>, path: &Path) -> Result<Link> {
        if snap.version < 4 && !whole_crc_holds(snap) {
            return Err(Error::invalid(format!(
                "{}: whole-file checksum mismatch: the file is damaged and cannot be a base",
                path.display()
            )));
        }
        Ok(Link {
            name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            revision: snap.facts.at_revision.unwrap_or(snap.facts.revision),
            bytes: snap.bytes.len() as u64,
            file_crc: snap.trailer.file_crc,
            tail_crc: snap.trailer.tail_crc,
        })
    }

    fn describe(&self) -> String {
        format!(
            "the snapshot at revision {} ({} bytes, CRC-32C {:08x}, written as {})",
            self.revision, self.bytes, self.file_crc, self.name
        )
    }
}

/// The earlier files of a chain, oldest first (the newest is the caller's).
pub struct Chain {
    pub earlier: Vec<(PathBuf, Mapped)>,
}

/// The last 64 bytes of the file at `p` (its trailer), without reading the rest.
fn trailer_of(p: &Path) -> Option<[u8; super::format::TRAILER_LEN]> {
    let mut f = std::fs::File::open(p).ok()?;
    f.seek(SeekFrom::End(-(super::format::TRAILER_LEN as i64)))
        .ok()?;
    let mut b = [0u8; super::format::TRAILER_LEN];
    f.read_exact(&mut b).ok()?;
    Some(b)
}

/// Why the file at `p` is not the base `link` names, or `None` when it is (its size and
/// trailer checksums match the link and its bytes match its checksum).
fn mismatch(p: &Path, link: &Link) -> Result<Option<String>> {
    let len = std::fs::metadata(p).map_err(|e| Error::io(p, e))?.len();
    if len != link.bytes {
        return Ok(Some(format!(
            "it has {len} bytes, the link expects {}",
            link.bytes
        )));
    }
    let Some(t) = trailer_of(p) else {
        return Ok(Some("its trailer cannot be read".into()));
    };
    let crc = u32::from_le_bytes(t[48..52].try_into().expect("4 bytes"));
    let tail = u32::from_le_bytes(t[52..56].try_into().expect("4 bytes"));
    if crc != link.file_crc || tail != link.tail_crc {
        return Ok(Some(format!(
            "its checksum is {crc:08x}/{tail:08x}, the link expects {:08x}/{:08x}",
            link.file_crc, link.tail_crc
        )));
    }
    let m = Mapped::open(p)?;
    let b = m.bytes();
    if crc32c::crc32c(&b[..b.len() - super::format::TRAILER_LEN]) != crc {
        return Ok(Some(
            "its bytes no longer match its whole-file checksum: it was altered or damaged after the link was written".into(),
        ));
    }
    Ok(None)
}

/// Finds the file `link` names in `dirs`: first by its recorded name, then any file of its
/// size whose checksums match.
fn find(link: &Link, dirs: &[PathBuf], who: &str) -> Result<PathBuf> {
    let mut wrong: Option<(PathBuf, String)> = None;
    if !link.name.is_empty() && !link.name.contains('/') {
        for d in dirs {
            let p = d.join(&link.name);
            if p.is_file() {
                match mismatch(&p, link)? {
                    None => return Ok(p),
                    Some(why) => {
                        wrong.get_or_insert((p, why));
                    }
                }
            }
        }
    }
    for d in dirs {
        let Ok(rd) = std::fs::read_dir(d) else {
            continue;
        };
        let mut names: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        names.sort();
        for p in names {
            let fits = std::fs::metadata(&p).is_ok_and(|m| m.is_file() && m.len() == link.bytes);
            if fits && Some(&p) != wrong.as_ref().map(|w| &w.0) && mismatch(&p, link)?.is_none() {
                return Ok(p);
            }
        }
    }
    let shown: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    Err(Error::invalid(match wrong {
        Some((p, why)) => format!(
            "{who}: broken chain: {} is not the base it was written on ({}): {why}",
            p.display(),
            link.describe()
        ),
        None => format!(
            "{who}: broken chain: its base is missing: no file in {} is {} (pass --chain DIR where it is)",
            shown.join(", "),
            link.describe()
        ),
    }))
}

impl Chain {
    /// Finds every earlier file of the chain `newest` (read from `path`; `-` for standard
    /// input) ends: each base beside the file naming it, or in `search`.
    pub fn resolve(newest: &Snapshot<'_>, path: &Path, search: &[PathBuf]) -> Result<Chain> {
        let mut earlier = Vec::new();
        let mut base = newest.facts.base.clone();
        let mut who = path.to_path_buf();
        while let Some(link) = base {
            if earlier.len() >= MAX_LINKS {
                return Err(Error::invalid(format!(
                    "{}: the chain has more than {MAX_LINKS} links",
                    path.display()
                )));
            }
            // Beside the file naming the base, beside the newest file, then in `search`.
            let mut dirs: Vec<PathBuf> = Vec::new();
            for f in [&who, &path.to_path_buf()] {
                if f.as_os_str() != "-" {
                    let beside = f
                        .parent()
                        .filter(|d| !d.as_os_str().is_empty())
                        .unwrap_or(Path::new("."))
                        .to_path_buf();
                    if !dirs.contains(&beside) {
                        dirs.push(beside);
                    }
                }
            }
            dirs.extend(
                search
                    .iter()
                    .filter(|d| !dirs.contains(d))
                    .cloned()
                    .collect::<Vec<_>>(),
            );
            let p = find(&link, &dirs, &who.display().to_string())?;
            let m = Mapped::open(&p)?;
            let facts = Snapshot::open(m.bytes(), m.name())?.facts;
            let rev = facts.at_revision.unwrap_or(facts.revision);
            if rev != link.revision {
                return Err(Error::invalid(format!(
                    "{}: broken chain: {} answers for revision {rev}, the link expects {}",
                    who.display(),
                    p.display(),
                    link.revision
                )));
            }
            base = facts.base;
            who = p.clone();
            earlier.push((p, m));
        }
        earlier.reverse();
        Ok(Chain { earlier })
    }

    /// The earlier files opened, oldest first.
    pub fn snapshots(&self) -> Result<Vec<Snapshot<'_>>> {
        self.earlier
            .iter()
            .map(|(_, m)| Snapshot::open(m.bytes(), m.name()))
            .collect()
    }
}

/// Every file of a chain decoded: per file, its records and each chunk's place in them.
pub type Decoded = Vec<(Records, Vec<Range<usize>>)>;

/// Decodes every chunk of every file of a chain.
pub fn decode(snaps: &[Snapshot<'_>]) -> Result<Decoded> {
    snaps.iter().map(|s| s.all_chunks_flat()).collect()
}

/// The latest state of a chain (`snaps` oldest first, `decoded` from [`decode`]): each
/// key's newest record over every file, deletions applied, as a keyspace that holds the
/// last file's revision, compacted there, with its applied index and term — what a full
/// snapshot of the source at that revision reads as.
pub fn keyspace<'c>(snaps: &[Snapshot<'_>], decoded: &'c Decoded) -> Result<Keyspace<'c>> {
    let newest = snaps
        .last()
        .ok_or_else(|| Error::invalid("an empty chain"))?;
    let mut all: Vec<RevRecord<'c>> = Vec::new();
    for (snap, (flat, ranges)) in snaps.iter().zip(decoded) {
        for (i, r) in ranges.iter().enumerate() {
            super::open::chunk_records(snap, i, &flat[r.clone()], &mut all)?;
        }
    }
    all.par_sort_unstable_by(|a, b| a.key.cmp(b.key).then(a.rev.cmp(&b.rev)));
    let mut latest: Vec<RevRecord<'c>> = Vec::with_capacity(all.len());
    for (i, r) in all.iter().enumerate() {
        let last_of_key = all.get(i + 1).is_none_or(|n| n.key != r.key);
        if last_of_key && !r.tombstone && !r.key.is_empty() {
            latest.push(*r);
        }
    }
    drop(all);
    latest.par_sort_unstable_by_key(|r| r.rev);
    let f = &newest.facts;
    let at = f.at_revision.unwrap_or(f.revision);
    let meta = EtcdMeta {
        consistent_index: f.consistent_index,
        term: f.term,
        finished_compact_revision: Some(at).filter(|&c| c > 0),
        ..Default::default()
    };
    let mut ks = Keyspace::from_records(latest, meta);
    ks.revision = ks.revision.max(at);
    Ok(ks)
}

/// What `check` found on each file of a chain, oldest first: (file, findings).
pub fn verify(snaps: &[Snapshot<'_>], names: &[PathBuf]) -> Vec<(PathBuf, SnapshotCheck)> {
    snaps
        .iter()
        .zip(names)
        .map(|(s, n)| (n.clone(), s.verify()))
        .collect()
}

/// `check` of the snapshot file at `path` and, when it is incremental, of every file of its
/// chain (found beside each file or in `search`), oldest first. A missing or altered link
/// is a finding of the file that names it.
pub fn check_file(path: &Path, search: &[PathBuf]) -> Result<Vec<(PathBuf, SnapshotCheck)>> {
    let m = Mapped::open(path)?;
    let snap = Snapshot::open(m.bytes(), m.name())?;
    let mut out = vec![(path.to_path_buf(), snap.verify())];
    if snap.is_incremental() {
        match Chain::resolve(&snap, path, search) {
            Ok(chain) => {
                let names: Vec<PathBuf> = chain.earlier.iter().map(|(p, _)| p.clone()).collect();
                let mut all = verify(&chain.snapshots()?, &names);
                all.append(&mut out);
                out = all;
            }
            Err(e) => out[0].1.findings.push(e.to_string()),
        }
    }
    Ok(out)
}

/// The encoded KeyValue etcd writes for a deletion of `key`: the key alone.
fn tombstone_kv(key: &[u8]) -> Vec<u8> {
    let mut out = vec![0x0a];
    super::format::put_bytes(&mut out, key);
    out
}

/// Writes an incremental snapshot of `ks` on the base snapshot `base` (read from
/// `base_path`; its own chain is found as [`Chain::resolve`] does, with `search`):
/// every record of `ks` after the base's revision and, when `ks` was compacted past it,
/// deletions of the base's keys that `ks` no longer has. `facts` gets the link.
#[allow(clippy::too_many_arguments)]
pub fn write_incremental(
    target: &Path,
    ks: &Keyspace<'_>,
    extras: &[super::extras::Entry],
    facts: &Facts,
    opts: &Options,
    base: &Snapshot<'_>,
    base_path: &Path,
    search: &[PathBuf],
) -> Result<Written> {
    let bf = &base.facts;
    if !bf.prefixes.is_empty() || !bf.excludes.is_empty() || bf.namespace.is_some() {
        return Err(Error::invalid(format!(
            "{}: a filtered snapshot (--prefix, --exclude, --namespace) cannot be a base",
            base_path.display()
        )));
    }
    if let (Some(a), Some(b)) = (&facts.cluster_id, &bf.cluster_id) {
        if a != b {
            return Err(Error::invalid(format!(
                "{}: taken of cluster {b}, the source is of cluster {a}: not a base for it",
                base_path.display()
            )));
        }
    }
    // The cluster ids are unknown on one side when it was read from a bare db or without
    // its WAL: then the members tell. Every member the base's cluster had is, in the same
    // cluster later, still a member or among the removed ones (etcd keeps their ids).
    let ids = |e: &[super::extras::Entry], buckets: &[&[u8]], own: &Option<String>| {
        let mut v: Vec<Vec<u8>> = e
            .iter()
            .filter(|(b, _, _)| buckets.contains(&b.as_slice()))
            .map(|(_, k, _)| k.clone())
            .collect();
        v.extend(own.as_ref().map(|m| m.as_bytes().to_vec()));
        v
    };
    let theirs = ids(
        &base.extras()?,
        &[crate::etcd::schema::MEMBERS],
        &bf.member_id,
    );
    let ours = ids(
        extras,
        &[
            crate::etcd::schema::MEMBERS,
            crate::etcd::schema::MEMBERS_REMOVED,
        ],
        &facts.member_id,
    );
    if !theirs.is_empty() && !ours.is_empty() && !theirs.iter().any(|m| ours.contains(m)) {
        return Err(Error::invalid(format!(
            "{}: taken of member {}, which the source's cluster never had: not a base for it",
            base_path.display(),
            String::from_utf8_lossy(&theirs[0])
        )));
    }
    let link = Link::to(base, base_path)?;
    if link.revision > ks.revision {
        return Err(Error::invalid(format!(
            "{}: at revision {}, past the source's revision {}: not a base for it",
            base_path.display(),
            link.revision,
            ks.revision
        )));
    }
    // Deletions the compaction removed: keys the base's state has that the source has
    // neither live nor with any record after the base.
    let mut gone: Vec<Vec<u8>> = Vec::new();
    if ks.compact_revision > link.revision {
        let chain = Chain::resolve(base, base_path, search)?;
        let mut snaps = chain.snapshots()?;
        snaps.push(Snapshot::open(base.bytes, base.file)?);
        let decoded = decode(&snaps)?;
        let prev = keyspace(&snaps, &decoded)?;
        for r in prev.state(b"", None)? {
            let kept = ks
                .history(r.key)
                .last()
                .is_some_and(|h| !h.tombstone || h.rev.main > link.revision);
            if !kept {
                gone.push(tombstone_kv(r.key));
            }
        }
    }
    let mut recs: Vec<RevRecord<'_>> = ks
        .all_by_key(b"")
        .filter(|r| r.rev.main > link.revision)
        .collect();
    for kv in &gone {
        let key = crate::etcd::KeyValueRef::decode(kv)
            .map_err(|e| Error::invalid(e.to_string()))?
            .key;
        recs.push(RevRecord {
            rev: Revision {
                main: ks.compact_revision,
                sub: 0,
            },
            tombstone: true,
            key,
            kv,
        });
    }
    recs.sort_by(|a, b| a.key.cmp(b.key).then(a.rev.cmp(&b.rev)));
    let mut facts = facts.clone();
    facts.mode = "incremental".into();
    facts.base = Some(link);
    let opts = Options {
        prefixes: Vec::new(),
        excludes: Vec::new(),
        namespace: None,
        ..opts.clone()
    };
    write_records(target, recs.into_iter(), extras, &facts, &opts)
}
