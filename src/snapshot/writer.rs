//! Writing a snapshot: records chosen from a keyspace, cut into chunks at resource
//! boundaries, compressed on all cores a batch at a time (memory stays bounded), written
//! to a temp file beside the target with mode 0600, fsynced and renamed into place.

use super::format::{
    ChunkEntry, MAGIC, TOMBSTONE, Trailer, VERSION, encode_index, encode_trailer, put_bytes,
    put_varint,
};
use crate::error::{Error, Result};
use crate::etcd::RevRecord;
use crate::etcd::inspect::resource_of;
use crate::etcd::keyspace::Keyspace;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Raw bytes gathered before a chunk is cut (a chunk also ends where the resource changes).
pub const CHUNK_TARGET: usize = 1 << 20;

/// The facts a snapshot carries in its header.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Facts {
    pub format_version: u32,
    pub reshift_version: String,
    /// Seconds since the epoch, and the same as RFC 3339.
    pub created_unix: i64,
    pub created: String,
    pub source: String,
    pub source_kind: String,
    pub cluster_id: Option<String>,
    pub member_id: Option<String>,
    pub revision: i64,
    pub compact_revision: i64,
    pub consistent_index: Option<u64>,
    pub term: Option<u64>,
    /// `latest` (each key's state at `at_revision`) or `history` (every revision kept).
    pub mode: String,
    pub at_revision: Option<i64>,
    pub prefixes: Vec<String>,
    pub excludes: Vec<String>,
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub history: bool,
    pub revision: Option<i64>,
    pub prefixes: Vec<Vec<u8>>,
    pub excludes: Vec<Vec<u8>>,
    pub namespace: Option<String>,
    pub level: i32,
    pub force: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Written {
    pub path: String,
    pub bytes: u64,
    pub raw_bytes: u64,
    pub chunks: u64,
    pub records: u64,
}

/// Whether `key` passes the prefix, exclude and namespace filters.
pub fn selected(key: &[u8], o: &Options) -> bool {
    if !o.prefixes.is_empty() && !o.prefixes.iter().any(|p| key.starts_with(p)) {
        return false;
    }
    if o.excludes.iter().any(|p| key.starts_with(p)) {
        return false;
    }
    if let Some(ns) = &o.namespace {
        let k = std::str::from_utf8(key)
            .ok()
            .and_then(|k| crate::k8s::key::parse_key(k, crate::k8s::DEFAULT_PREFIX));
        return k.and_then(|k| k.namespace) == Some(ns.as_str());
    }
    true
}

/// A temp file beside the target, removed unless it was renamed into place.
struct TempOut {
    path: PathBuf,
    file: Option<File>,
    done: bool,
}

impl Drop for TempOut {
    fn drop(&mut self) {
        if !self.done {
            drop(self.file.take());
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

struct Sink {
    tmp: TempOut,
    buf: std::io::BufWriter<File>,
    offset: u64,
    crc: u32,
}

impl Sink {
    fn put(&mut self, b: &[u8]) -> Result<()> {
        self.buf
            .write_all(b)
            .map_err(|e| Error::io(&self.tmp.path, e))?;
        self.crc = crc32c::crc32c_append(self.crc, b);
        self.offset += b.len() as u64;
        Ok(())
    }
}

fn open_temp(target: &Path, force: bool) -> Result<Sink> {
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
    let path = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let file = o.open(&path).map_err(|e| Error::io(&path, e))?;
    let w = file.try_clone().map_err(|e| Error::io(&path, e))?;
    Ok(Sink {
        tmp: TempOut {
            path,
            file: Some(file),
            done: false,
        },
        buf: std::io::BufWriter::with_capacity(1 << 20, w),
        offset: 0,
        crc: 0,
    })
}

struct Pending {
    raw: Vec<u8>,
    records: u64,
    first_key: Vec<u8>,
    last_key: Vec<u8>,
    group: String,
}

fn flush_batch(
    sink: &mut Sink,
    batch: &mut Vec<Pending>,
    level: i32,
    index: &mut Vec<ChunkEntry>,
    raw_total: &mut u64,
) -> Result<()> {
    let compressed: Vec<std::io::Result<Vec<u8>>> = batch
        .par_iter()
        .map(|p| zstd::bulk::compress(&p.raw, level))
        .collect();
    for (p, c) in batch.drain(..).zip(compressed) {
        let c = c.map_err(|e| Error::io(&sink.tmp.path, e))?;
        index.push(ChunkEntry {
            offset: sink.offset,
            compressed_len: c.len() as u64,
            raw_len: p.raw.len() as u64,
            crc: crc32c::crc32c(&c),
            records: p.records,
            first_key: p.first_key,
            last_key: p.last_key,
            group: p.group,
        });
        *raw_total += p.raw.len() as u64;
        sink.put(&c)?;
    }
    Ok(())
}

/// Writes a snapshot of `ks` to `target`. `extras` are (bucket, key, value) entries of
/// every other bucket.
pub fn write_snapshot(
    target: &Path,
    ks: &Keyspace<'_>,
    extras: &[super::extras::Entry],
    facts: &Facts,
    opts: &Options,
) -> Result<Written> {
    if let Some(r) = opts.revision {
        ks.check_revision(r)?;
    }
    let mut sink = open_temp(target, opts.force)?;
    let header = serde_json::to_vec(facts).map_err(|e| Error::invalid(e.to_string()))?;
    let mut head = MAGIC.to_vec();
    head.extend_from_slice(&VERSION.to_le_bytes());
    head.extend_from_slice(&(header.len() as u32).to_le_bytes());
    head.extend_from_slice(&header);
    head.extend_from_slice(&crc32c::crc32c(&header).to_le_bytes());
    sink.put(&head)?;

    let records: Box<dyn Iterator<Item = RevRecord<'_>>> = if opts.history {
        let at = opts.revision.unwrap_or(i64::MAX);
        Box::new(ks.all_by_key(b"").filter(move |r| r.rev.main <= at))
    } else {
        Box::new(ks.state(b"", opts.revision)?)
    };
    let batch_len = 2 * rayon::current_num_threads().max(1);
    let (mut index, mut batch, mut raw_total, mut total_records) =
        (Vec::new(), Vec::new(), 0u64, 0u64);
    let mut cur: Option<Pending> = None;
    for r in records.filter(|r| selected(r.key, opts)) {
        let group = resource_of(r.key);
        let cut = cur
            .as_ref()
            .is_some_and(|p| p.raw.len() >= CHUNK_TARGET || p.group.as_bytes() != group);
        if cut {
            batch.push(cur.take().expect("checked"));
            if batch.len() >= batch_len {
                flush_batch(
                    &mut sink,
                    &mut batch,
                    opts.level,
                    &mut index,
                    &mut raw_total,
                )?;
            }
        }
        let p = cur.get_or_insert_with(|| Pending {
            raw: Vec::with_capacity(CHUNK_TARGET + CHUNK_TARGET / 4),
            records: 0,
            first_key: r.key.to_vec(),
            last_key: Vec::new(),
            group: String::from_utf8_lossy(group).into_owned(),
        });
        put_varint(&mut p.raw, r.rev.main as u64);
        put_varint(&mut p.raw, r.rev.sub as u64);
        p.raw.push(if r.tombstone { TOMBSTONE } else { 0 });
        put_bytes(&mut p.raw, r.kv);
        p.records += 1;
        p.last_key.clear();
        p.last_key.extend_from_slice(r.key);
        total_records += 1;
    }
    batch.extend(cur.take());
    flush_batch(
        &mut sink,
        &mut batch,
        opts.level,
        &mut index,
        &mut raw_total,
    )?;

    let idx = zstd::bulk::compress(&encode_index(&index), opts.level)
        .map_err(|e| Error::io(&sink.tmp.path, e))?;
    let index_offset = sink.offset;
    sink.put(&idx)?;
    let mut ex = Vec::new();
    put_varint(&mut ex, extras.len() as u64);
    for (b, k, v) in extras {
        put_bytes(&mut ex, b);
        put_bytes(&mut ex, k);
        put_bytes(&mut ex, v);
    }
    let ex = zstd::bulk::compress(&ex, opts.level).map_err(|e| Error::io(&sink.tmp.path, e))?;
    let extras_offset = sink.offset;
    sink.put(&ex)?;
    let trailer = encode_trailer(&Trailer {
        index_offset,
        index_len: idx.len() as u64,
        extras_offset,
        extras_len: ex.len() as u64,
        file_crc: sink.crc,
    });
    sink.put(&trailer)?;
    let path = sink.tmp.path.clone();
    sink.buf.flush().map_err(|e| Error::io(&path, e))?;
    let file = sink.tmp.file.as_ref().expect("open");
    file.sync_all().map_err(|e| Error::io(&path, e))?;
    std::fs::rename(&path, target).map_err(|e| Error::io(target, e))?;
    sink.tmp.done = true;
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(Written {
        path: target.display().to_string(),
        bytes: sink.offset,
        raw_bytes: raw_total,
        chunks: index.len() as u64,
        records: total_records,
    })
}
