//! Writing a snapshot: records chosen from a keyspace, cut into chunks at resource
//! boundaries, compressed on all cores a batch at a time (memory stays bounded), written
//! to a temp file beside the target with mode 0600, fsynced and renamed into place.

use super::format::{
    ChunkEntry, HeadsPlace, MAGIC, TOMBSTONE, Trailer, VERSION, encode_dicts, encode_index,
    encode_trailer, put_bytes, put_head, put_varint,
};
use crate::error::{Error, Result};
use crate::etcd::RevRecord;
use crate::etcd::inspect::resource_of;
use crate::etcd::keyspace::Keyspace;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::Write;
use std::path::Path;

/// Raw bytes gathered before a chunk is cut (a chunk also ends where the resource changes).
/// Larger chunks compress better; a `get` decompresses one chunk, a few milliseconds.
pub const CHUNK_TARGET: usize = 4 << 20;

/// Bytes written to a snapshot file between two starts of their disk writes.
const WRITEBACK_EVERY: u64 = 8 << 20;

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
    /// Set on an incremental snapshot (format 5): the snapshot it continues. Its records
    /// are those after the base's revision; the base's own records are read from the base.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<super::chain::Link>,
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
    /// Train a zstd dictionary per resource whose values are small. At the default chunk
    /// size a chunk already holds many alike objects, so on typical data they cost time
    /// and save nothing; they pay off for many tiny values.
    pub dictionaries: bool,
    /// A running member's db read in place: the writer checks, between windows of chunks
    /// and before it renames the finished file into place, that etcd has committed
    /// nothing since, and otherwise stops with an error and keeps nothing.
    pub watch: Option<std::sync::Arc<crate::live::Watch>>,
}

/// Fails when the source read in place is no longer one commit's state.
fn still_consistent(opts: &Options) -> Result<()> {
    match &opts.watch {
        Some(w) if !w.unchanged() => Err(Error::invalid(
            "the running etcd committed while its db was read in place: what was read is not one commit's state",
        )),
        _ => Ok(()),
    }
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

/// Where a snapshot's bytes go: a temp file renamed into place, or standard output. Either
/// way they are written once, front to back: the writer never seeks.
enum Dest {
    /// The temp file beside the target, removed unless it was renamed into place.
    /// Its disk writes start every few MiB, so that the closing fsync waits for little.
    Temp(
        crate::tempout::TempGuard,
        std::io::BufWriter<crate::writeback::Writeback>,
    ),
    /// A duplicate of file descriptor 1: writing through `std::io::stdout()` would take
    /// its lock, which the command's own output may hold on another thread.
    Stdout(std::io::BufWriter<File>),
}

struct Sink {
    dest: Dest,
    offset: u64,
    crc: u32,
}

impl Sink {
    fn path(&self) -> &Path {
        match &self.dest {
            Dest::Temp(t, _) => t.path(),
            Dest::Stdout(_) => Path::new("<stdout>"),
        }
    }

    fn put(&mut self, b: &[u8]) -> Result<()> {
        self.put_with_crc(b, crc32c::crc32c(b))
    }

    /// [`Self::put`] of bytes whose crc32c is known: the file's checksum is extended
    /// without reading them again.
    fn put_with_crc(&mut self, b: &[u8], crc: u32) -> Result<()> {
        let r = match &mut self.dest {
            Dest::Temp(_, w) => w.write_all(b),
            Dest::Stdout(w) => w.write_all(b),
        };
        r.map_err(|e| Error::io(self.path(), e))?;
        self.crc = crc32c::crc32c_combine(self.crc, crc, b.len());
        self.offset += b.len() as u64;
        Ok(())
    }

    /// Flushes the bytes out; a file is fsynced and renamed to `target` (and its dir
    /// fsynced).
    fn finish(self, target: &Path) -> Result<()> {
        match self.dest {
            Dest::Stdout(mut w) => w.flush().map_err(|e| Error::io("<stdout>", e)),
            Dest::Temp(tmp, w) => {
                let path = tmp.path().to_path_buf();
                let file = w
                    .into_inner()
                    .map_err(|e| Error::io(&path, e.into_error()))?
                    .into_inner();
                file.sync_all().map_err(|e| Error::io(&path, e))?;
                std::fs::rename(&path, target).map_err(|e| Error::io(target, e))?;
                tmp.keep();
                if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
                    if let Ok(d) = File::open(dir) {
                        let _ = d.sync_all();
                    }
                }
                Ok(())
            }
        }
    }
}

/// Whether `target` means standard output (`-`).
pub fn is_stdout(target: &Path) -> bool {
    target.as_os_str() == "-"
}

fn open_temp(target: &Path, force: bool) -> Result<Sink> {
    if is_stdout(target) {
        use std::os::fd::AsFd;
        let fd = std::io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| Error::io("<stdout>", e))?;
        return Ok(Sink {
            dest: Dest::Stdout(std::io::BufWriter::with_capacity(1 << 20, File::from(fd))),
            offset: 0,
            crc: 0,
        });
    }
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
    // Registered only once created: a name someone else holds is never removed.
    let (tmp, file) = crate::tempout::TempGuard::create(path.clone(), |p| o.open(p))
        .map_err(|e| Error::io(&path, e))?;
    Ok(Sink {
        dest: Dest::Temp(
            tmp,
            std::io::BufWriter::with_capacity(
                1 << 20,
                crate::writeback::Writeback::every(file, WRITEBACK_EVERY),
            ),
        ),
        offset: 0,
        crc: 0,
    })
}

/// A chunk to be: its records (references into the source) and its resource.
struct Plan<'a> {
    recs: Vec<RevRecord<'a>>,
    raw_len: usize,
    group: String,
}

/// What each worker thread keeps between chunks: the columnar encoder's buffers and a
/// zstd context.
struct Worker {
    enc: super::columns::Encoder,
    zstd: Option<zstd::bulk::Compressor<'static>>,
    level: Option<i32>,
}

thread_local! {
    static WORKER: std::cell::RefCell<Worker> = std::cell::RefCell::new(Worker {
        enc: super::columns::Encoder::new(),
        zstd: None,
        level: None,
    });
}

/// Records' bytes in one window of chunks compressed together, per thread, at most (a
/// window holds at least one chunk). The window being compressed and the one being
/// written hold their compressed frames, so this bounds the writer's memory whatever the
/// snapshot's size and however well its data compresses.
const WINDOW_RAW_PER_THREAD: usize = 2 * CHUNK_TARGET + (CHUNK_TARGET >> 1);
/// Chunks in one window, per thread, at most (many small chunks of small resources).
const WINDOW_CHUNKS_PER_THREAD: usize = 16;

/// Cuts records (in key order) into chunks, one at a time: a chunk ends at the target size
/// or where the next record belongs to another resource.
struct Planner<'a, I: Iterator<Item = RevRecord<'a>>> {
    records: std::iter::Peekable<I>,
}

impl<'a, I: Iterator<Item = RevRecord<'a>>> Iterator for Planner<'a, I> {
    type Item = Plan<'a>;

    fn next(&mut self) -> Option<Plan<'a>> {
        let first = self.records.next()?;
        let mut p = Plan {
            raw_len: first.kv.len() + 24,
            group: String::from_utf8_lossy(resource_of(first.key)).into_owned(),
            recs: vec![first],
        };
        while p.raw_len < CHUNK_TARGET {
            let Some(r) = self
                .records
                .next_if(|r| p.group.as_bytes() == resource_of(r.key))
            else {
                break;
            };
            p.raw_len += r.kv.len() + 24;
            p.recs.push(r);
        }
        Some(p)
    }
}

/// The next window of chunks to compress together: chunks while they hold at most
/// `max_raw` bytes and number at most `max_chunks`, and at least one (empty at the end).
fn next_window<'a>(
    plans: &mut std::iter::Peekable<impl Iterator<Item = Plan<'a>>>,
    max_chunks: usize,
    max_raw: usize,
) -> Vec<Plan<'a>> {
    let (mut win, mut raw) = (Vec::new(), 0);
    while let Some(p) =
        plans.next_if(|p| win.is_empty() || (win.len() < max_chunks && raw + p.raw_len <= max_raw))
    {
        raw += p.raw_len;
        win.push(p);
    }
    win
}

/// Groups with at least this much data get a trained dictionary.
const DICT_MIN_GROUP: usize = 32 << 10;
/// Groups whose records average more than this get no dictionary.
const DICT_MAX_AVG: usize = 1024;
/// Sample bytes a dictionary is trained on, at most, and its size.
const DICT_SAMPLE: usize = 1 << 20;
const DICT_SIZE: usize = 32 << 10;

/// Trains one dictionary per large enough group from records spread over the group.
fn train_dicts(plans: &[Plan<'_>]) -> Vec<(String, Vec<u8>)> {
    let mut groups: Vec<(String, Vec<&RevRecord<'_>>, usize)> = Vec::new();
    for p in plans {
        match groups.last_mut() {
            Some((g, recs, n)) if *g == p.group => {
                recs.extend(p.recs.iter());
                *n += p.raw_len;
            }
            _ => groups.push((p.group.clone(), p.recs.iter().collect(), p.raw_len)),
        }
    }
    groups
        .into_par_iter()
        // Only where values are small: large values fill a chunk with enough context.
        .filter(|(_, recs, n)| {
            *n >= DICT_MIN_GROUP && recs.len() >= 16 && *n / recs.len() <= DICT_MAX_AVG
        })
        .filter_map(|(g, recs, n)| {
            let step = n.div_ceil(DICT_SAMPLE).max(1);
            let samples: Vec<&[u8]> = recs.iter().step_by(step).map(|r| r.kv).collect();
            let sampled: usize = samples.iter().map(|x| x.len()).sum();
            zstd::dict::from_samples(&samples, DICT_SIZE.min(sampled / 8).max(1024))
                .ok()
                .map(|d| (g, d))
        })
        .collect()
}

/// Writes a snapshot of `ks` to `target` (`-`: standard output). `extras` are (bucket,
/// key, value) entries of every other bucket.
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
    let records: Box<dyn Iterator<Item = RevRecord<'_>>> = if opts.history {
        let at = opts.revision.unwrap_or(i64::MAX);
        Box::new(ks.all_by_key(b"").filter(move |r| r.rev.main <= at))
    } else {
        Box::new(ks.state(b"", opts.revision)?)
    };
    write_records(target, records, extras, facts, opts)
}

/// Writes a snapshot of `records` (in key order and, within a key, revision order) to
/// `target` (`-`: standard output); `opts` gives the filters, level, dictionaries and
/// whether to replace a file.
pub fn write_records<'a>(
    target: &Path,
    records: impl Iterator<Item = RevRecord<'a>>,
    extras: &[super::extras::Entry],
    facts: &Facts,
    opts: &Options,
) -> Result<Written> {
    let mut sink = open_temp(target, opts.force)?;
    // Full snapshots keep format 4, which older readers take; an incremental one is 5.
    let version = if facts.base.is_some() { VERSION } else { 4 };
    let facts = Facts {
        format_version: version,
        ..facts.clone()
    };
    let header = serde_json::to_vec(&facts).map_err(|e| Error::invalid(e.to_string()))?;
    let mut head = MAGIC.to_vec();
    head.extend_from_slice(&version.to_le_bytes());
    head.extend_from_slice(&(header.len() as u32).to_le_bytes());
    head.extend_from_slice(&header);
    head.extend_from_slice(&crc32c::crc32c(&header).to_le_bytes());
    sink.put(&head)?;
    // Chunks are planned a window at a time as the records are read, so that the records
    // held are those of two windows, not the whole snapshot's; dictionaries are trained on
    // every chunk, so with them all chunks are planned first.
    let planner = Planner {
        records: records.filter(|r| selected(r.key, opts)).peekable(),
    };
    let (dicts, plans): (_, Box<dyn Iterator<Item = Plan<'a>>>) = if opts.dictionaries {
        let all: Vec<Plan<'a>> = planner.collect();
        (train_dicts(&all), Box::new(all.into_iter()))
    } else {
        (Vec::new(), Box::new(planner))
    };
    let mut plans = plans.peekable();
    let prepared: Vec<(String, zstd::dict::EncoderDictionary<'static>)> = dicts
        .iter()
        .map(|(g, d)| {
            (
                g.clone(),
                zstd::dict::EncoderDictionary::copy(d, opts.level),
            )
        })
        .collect();
    // Compress a window of chunks on all cores while the previous window is written.
    let threads = rayon::current_num_threads().max(1);
    let mut next = || {
        next_window(
            &mut plans,
            WINDOW_CHUNKS_PER_THREAD * threads,
            WINDOW_RAW_PER_THREAD * threads,
        )
    };
    type Done = std::io::Result<(usize, u64, Vec<u8>)>;
    let compress = |win: &[Plan<'_>]| -> Vec<Done> {
        win.par_iter()
            .map(|p| {
                WORKER.with(|w| {
                    let mut w = w.borrow_mut();
                    let w = &mut *w;
                    w.enc.reset();
                    for r in &p.recs {
                        let flags = if r.tombstone { TOMBSTONE } else { 0 };
                        w.enc
                            .record(r.rev.main as u64, r.rev.sub as u64, flags, r.kv);
                    }
                    let raw_len = w.enc.raw_len() as usize;
                    let cols = w.enc.finish();
                    let dict = prepared.iter().position(|(g, _)| *g == p.group);
                    let mut c = Vec::with_capacity(zstd::zstd_safe::compress_bound(cols.len()));
                    match dict {
                        Some(i) => {
                            zstd::bulk::Compressor::with_prepared_dictionary(&prepared[i].1)?
                                .compress_to_buffer(cols, &mut c)?
                        }
                        None => {
                            if w.level != Some(opts.level) {
                                w.zstd = Some(zstd::bulk::Compressor::new(opts.level)?);
                                w.level = Some(opts.level);
                            }
                            let z = w.zstd.as_mut().expect("set above");
                            z.compress_to_buffer(cols, &mut c)?
                        }
                    };
                    // The frame waits in memory until it is written: at its length, not at
                    // the bound (the allocator shrinks it in place, without a copy).
                    c.shrink_to_fit();
                    Ok((raw_len, dict.map_or(0, |i| i as u64 + 1), c))
                })
            })
            .collect()
    };
    let (mut index, mut raw_total, mut total_records) = (Vec::new(), 0u64, 0u64);
    // Every record's head, in file order: a few bytes a record.
    let mut heads = Vec::new();
    let mut write = |win: &[Plan<'_>], done: Vec<Done>| -> Result<()> {
        for (p, d) in win.iter().zip(done) {
            for r in &p.recs {
                let flags = if r.tombstone { TOMBSTONE } else { 0 };
                put_head(
                    &mut heads,
                    r.rev.main as u64,
                    r.rev.sub as u64,
                    flags,
                    r.kv.len() as u64,
                );
            }
            let (raw_len, dict, c) = d.map_err(|e| Error::io(sink.path(), e))?;
            let crc = crc32c::crc32c(&c);
            index.push(ChunkEntry {
                offset: sink.offset,
                compressed_len: c.len() as u64,
                raw_len: raw_len as u64,
                crc,
                records: p.recs.len() as u64,
                dict,
                first_key: p.recs.first().map(|r| r.key.to_vec()).unwrap_or_default(),
                last_key: p.recs.last().map(|r| r.key.to_vec()).unwrap_or_default(),
                group: p.group.clone(),
            });
            raw_total += raw_len as u64;
            total_records += p.recs.len() as u64;
            sink.put_with_crc(&c, crc)?;
        }
        Ok(())
    };
    let mut pending: Option<(Vec<Plan<'_>>, Vec<_>)> = None;
    let mut win = next();
    while !win.is_empty() {
        still_consistent(opts)?;
        let (done, wrote) = rayon::join(
            || compress(&win),
            || match pending.take() {
                Some((w, d)) => write(&w, d),
                None => Ok(()),
            },
        );
        wrote?;
        pending = Some((win, done));
        win = next();
    }
    if let Some((w, d)) = pending.take() {
        write(&w, d)?;
    }

    let heads = zstd::bulk::compress(&heads, opts.level).map_err(|e| Error::io(sink.path(), e))?;
    let place = HeadsPlace {
        offset: sink.offset,
        len: heads.len() as u64,
        crc: crc32c::crc32c(&heads),
    };
    sink.put(&heads)?;
    let idx = zstd::bulk::compress(&encode_index(&index, Some(place)), opts.level)
        .map_err(|e| Error::io(sink.path(), e))?;
    let index_offset = sink.offset;
    let mut tail = crc32c::crc32c(&idx);
    sink.put(&idx)?;
    let mut ex = Vec::new();
    put_varint(&mut ex, extras.len() as u64);
    for (b, k, v) in extras {
        put_bytes(&mut ex, b);
        put_bytes(&mut ex, k);
        put_bytes(&mut ex, v);
    }
    let ex = zstd::bulk::compress(&ex, opts.level).map_err(|e| Error::io(sink.path(), e))?;
    let extras_offset = sink.offset;
    tail = crc32c::crc32c_append(tail, &ex);
    sink.put(&ex)?;
    let dicts_offset = sink.offset;
    let dict_bytes = encode_dicts(&dicts);
    tail = crc32c::crc32c_append(tail, &dict_bytes);
    sink.put(&dict_bytes)?;
    let trailer = encode_trailer(&Trailer {
        index_offset,
        index_len: idx.len() as u64,
        extras_offset,
        extras_len: ex.len() as u64,
        dicts_offset,
        dicts_len: dict_bytes.len() as u64,
        file_crc: sink.crc,
        tail_crc: tail,
    });
    sink.put(&trailer)?;
    let bytes = sink.offset;
    still_consistent(opts)?;
    sink.finish(target)?;
    Ok(Written {
        path: target.display().to_string(),
        bytes,
        raw_bytes: raw_total,
        chunks: index.len() as u64,
        records: total_records,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plans(sizes: &[usize]) -> Vec<Plan<'static>> {
        sizes
            .iter()
            .map(|&raw_len| Plan {
                recs: Vec::new(),
                raw_len,
                group: String::new(),
            })
            .collect()
    }

    fn windows(sizes: &[usize], max_chunks: usize, max_raw: usize) -> Vec<Vec<usize>> {
        let mut it = plans(sizes).into_iter().peekable();
        std::iter::from_fn(|| {
            let w = next_window(&mut it, max_chunks, max_raw);
            (!w.is_empty()).then(|| w.iter().map(|p| p.raw_len).collect())
        })
        .collect()
    }

    /// The windows take every chunk once, in order, and each stays under its byte and
    /// chunk bounds unless it is a single larger chunk.
    #[test]
    fn windows_stay_under_their_bounds() {
        let mut seed = 7u64;
        let mut sizes = Vec::new();
        for _ in 0..5000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let r = (seed >> 33) as usize;
            // Mostly full chunks, some small resources' chunks, a few past the target.
            sizes.push(match r % 10 {
                0..=5 => CHUNK_TARGET + r % 4096,
                6..=8 => r % (64 << 10),
                _ => CHUNK_TARGET + r % (2 << 20),
            });
        }
        for (chunks, raw) in [
            (32, 2 * WINDOW_RAW_PER_THREAD),
            (16, WINDOW_RAW_PER_THREAD),
            (1, 1),
        ] {
            let w = windows(&sizes, chunks, raw);
            for win in &w {
                assert!(!win.is_empty() && win.len() <= chunks);
                let bytes: usize = win.iter().sum();
                assert!(bytes <= raw || win.len() == 1, "{win:?} holds {bytes}");
            }
            assert_eq!(w.concat(), sizes);
        }
        // Full chunks: two a thread fit, so that every thread has work in every window.
        let full = [CHUNK_TARGET + 4096; 9];
        let lens: Vec<usize> = windows(&full, 32, 2 * WINDOW_RAW_PER_THREAD)
            .iter()
            .map(|w| w.len())
            .collect();
        assert_eq!(lens, [4, 4, 1]);
        assert!(windows(&[], 4, 4).is_empty());
    }
}
