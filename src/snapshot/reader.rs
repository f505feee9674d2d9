//! Reading a snapshot from a read-only map: the header and index are checked on open;
//! chunks are verified (CRC) and decompressed on demand, on all cores for whole reads.

use super::format::{
    ChunkEntry, Cursor, Head, HeadsPlace, MAGIC, OLDEST_VERSION, TOMBSTONE, TRAILER_LEN, Trailer,
    VERSION, decode_dicts, decode_heads, decode_index, decode_trailer,
};
use super::writer::Facts;
use crate::error::{Error, FileName, Result};
use crate::etcd::revision::Revision;
use rayon::prelude::*;
use serde::Serialize;

/// No chunk the writer makes is anywhere near this (4 MiB plus one record); a larger claim
/// is damage.
const MAX_CHUNK: u64 = 64 << 20;
/// Likewise for the index and extras sections.
const MAX_SECTION: u64 = 1 << 30;
/// What one decoded section (index, heads or extras: its bytes and what is parsed from
/// them) may take, at least: see [`section_budget`].
const SECTION_FLOOR: u64 = 64 << 20;
/// ... and at most this many times the file's size, when that is more.
const SECTION_RATIO: u64 = 16;
/// Whole reads decode every chunk at once; the chunks may claim at most this many times the
/// file's size in records (or one largest chunk, whichever is more). zstd at level 1 gives
/// about 10 times on etcd's data; a claim past this is a decompression bomb or damage.
const EXPANSION_RATIO: u64 = 256;
/// What a streamed read decodes at once, at most (besides one chunk).
const WINDOW_BYTES: u64 = 128 << 20;
/// The smallest zstd frame: magic, frame header, one block header.
const MIN_FRAME: u64 = 9;
/// The smallest record: three one-byte varints and the flags.
const MIN_RECORD: u64 = 4;

/// The memory one decoded section of a file of `file_len` bytes may take: its
/// decompressed bytes plus what is parsed from them. The format gives no size for the
/// index, heads and extras, so their budget comes from the file's own size.
pub fn section_budget(file_len: u64) -> u64 {
    file_len
        .saturating_mul(SECTION_RATIO)
        .clamp(SECTION_FLOOR, MAX_SECTION)
}

pub struct Snapshot<'a> {
    pub file: &'a FileName,
    pub bytes: &'a [u8],
    pub facts: Facts,
    pub index: Vec<ChunkEntry>,
    pub trailer: Trailer,
    /// Where the chunks begin (just after the header).
    pub data_start: u64,
    /// The file's format version (2: columnar chunks).
    pub version: u32,
    /// Per-resource zstd dictionaries: (resource, dictionary).
    pub dicts: Vec<(String, Vec<u8>)>,
    /// Where every record's head lies (version 3).
    pub heads_place: Option<HeadsPlace>,
}

/// One record of a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'c> {
    pub rev: Revision,
    pub tombstone: bool,
    pub kv: &'c [u8],
}

impl<'c> Record<'c> {
    /// The record's key; empty when its KeyValue does not decode.
    pub fn key(&self) -> &'c [u8] {
        crate::etcd::KeyValueRef::decode(self.kv)
            .map(|k| k.key)
            .unwrap_or_default()
    }

    /// Whether the record is what `h` says it is: revision, deletion flag and length.
    pub fn agrees_with(&self, h: &Head) -> bool {
        h.names(self.rev.main as u64, self.rev.sub as u64, self.tombstone)
            && h.len == self.kv.len() as u64
    }
}

/// Decompresses one zstd frame whose header must declare its size, at most `limit` (and
/// exactly `expect` when given), allocating only that size — never a size the input
/// merely claims elsewhere.
pub fn decompress_frame(
    data: &[u8],
    limit: u64,
    expect: Option<u64>,
    dict: Option<&[u8]>,
) -> std::result::Result<Vec<u8>, String> {
    let mut out = Vec::new();
    decompress_frame_into(data, limit, expect, dict, &mut out)?;
    Ok(out)
}

thread_local! {
    static COLUMNAR: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// [`decompress_frame`] into `out` (cleared first), reusing its allocation.
pub fn decompress_frame_into(
    data: &[u8],
    limit: u64,
    expect: Option<u64>,
    dict: Option<&[u8]>,
    out: &mut Vec<u8>,
) -> std::result::Result<(), String> {
    let size = match zstd::zstd_safe::get_frame_content_size(data) {
        Ok(Some(n)) => n,
        Ok(None) => return Err("zstd frame does not declare its size".into()),
        Err(_) => return Err("not a zstd frame".into()),
    };
    if size > limit || expect.is_some_and(|e| e != size) {
        return Err(format!(
            "zstd frame declares {size} bytes (expected {}, at most {limit})",
            expect.map_or("any".into(), |e| e.to_string())
        ));
    }
    out.clear();
    out.reserve(size as usize);
    let n = match dict {
        None => zstd::bulk::Decompressor::new().and_then(|mut z| z.decompress_to_buffer(data, out)),
        Some(d) => zstd::bulk::Decompressor::with_dictionary(d)
            .and_then(|mut z| z.decompress_to_buffer(data, out)),
    }
    .map_err(|e| e.to_string())?;
    if n as u64 != size {
        return Err(format!("zstd frame gave {n} bytes, its header says {size}"));
    }
    Ok(())
}

/// Decompresses a section (index, extras) as a stream, so memory grows only with the bytes
/// the frame really produces, up to `limit`.
pub fn decompress_section(data: &[u8], limit: u64) -> std::result::Result<Vec<u8>, String> {
    use std::io::Read;
    let mut d = zstd::stream::read::Decoder::with_buffer(data)
        .map_err(|e| e.to_string())?
        .single_frame();
    let mut out = Vec::new();
    (&mut d)
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    if out.len() as u64 > limit {
        return Err(format!("decompresses to more than {limit} bytes"));
    }
    Ok(out)
}

/// Whether `b` starts like a reshift snapshot.
pub fn is_snapshot(b: &[u8]) -> bool {
    b.starts_with(MAGIC)
}

/// Parses the records of a decompressed chunk.
pub fn parse_records(raw: &[u8]) -> std::result::Result<Vec<Record<'_>>, String> {
    parse_records_at_most(raw, u64::MAX)
}

/// [`parse_records`], refusing more than `max` records (what the index says the chunk
/// holds), so a chunk of tiny records cannot make the list outgrow its budget.
pub fn parse_records_at_most(raw: &[u8], max: u64) -> std::result::Result<Vec<Record<'_>>, String> {
    let mut c = Cursor::new(raw);
    let mut out = Vec::new();
    while !c.done() {
        if out.len() as u64 >= max {
            return Err(format!(
                "more records than the {max} the index says, at offset {}",
                c.pos
            ));
        }
        let main = c.varint()? as i64;
        let sub = c.varint()? as i64;
        let flags = c.u8()?;
        let kv = c.bytes()?;
        out.push(Record {
            rev: Revision { main, sub },
            tombstone: flags & TOMBSTONE != 0,
            kv,
        });
    }
    Ok(out)
}

/// What `check` found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SnapshotCheck {
    pub chunks: usize,
    pub records: u64,
    pub findings: Vec<String>,
}

impl<'a> Snapshot<'a> {
    pub fn open(bytes: &'a [u8], file: &'a FileName) -> Result<Snapshot<'a>> {
        let bad = |off: u64, what: String| Error::corrupt(file, off, what);
        if !is_snapshot(bytes) {
            return Err(bad(0, "not a reshift snapshot (no RSHIFTSN magic)".into()));
        }
        if bytes.len() < 8 + 8 + 4 + TRAILER_LEN {
            return Err(bad(
                0,
                format!("{} bytes: too short for a snapshot", bytes.len()),
            ));
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4"));
        if !(OLDEST_VERSION..=VERSION).contains(&version) {
            return Err(bad(
                8,
                format!(
                    "snapshot format version {version}; this reshift reads versions {OLDEST_VERSION} to {VERSION}"
                ),
            ));
        }
        let hlen = u32::from_le_bytes(bytes[12..16].try_into().expect("4")) as usize;
        if hlen > bytes.len() - 16 - 4 - TRAILER_LEN {
            return Err(bad(12, format!("header length {hlen} runs past the file")));
        }
        let header = &bytes[16..16 + hlen];
        let hcrc = u32::from_le_bytes(bytes[16 + hlen..20 + hlen].try_into().expect("4"));
        if crc32c::crc32c(header) != hcrc {
            return Err(bad(
                16,
                "header checksum mismatch: the header is damaged".into(),
            ));
        }
        let facts: Facts =
            serde_json::from_slice(header).map_err(|e| bad(16, format!("header JSON: {e}")))?;
        let tstart = bytes.len() - TRAILER_LEN;
        let trailer =
            decode_trailer(&bytes[tstart..], version).map_err(|e| bad(tstart as u64, e))?;
        if version >= 4 {
            // The index, extras and dictionaries lie end to end before the trailer, under
            // one checksum: verified before any of them is trusted.
            let t = &trailer;
            let end_to_end = t.index_offset.checked_add(t.index_len) == Some(t.extras_offset)
                && t.extras_offset.checked_add(t.extras_len) == Some(t.dicts_offset)
                && t.dicts_offset.checked_add(t.dicts_len) == Some(tstart as u64)
                && t.index_offset >= (20 + hlen) as u64;
            if !end_to_end {
                return Err(bad(
                    tstart as u64,
                    format!(
                        "trailer places the index, extras and dictionaries at {}+{}, {}+{}, {}+{}: not end to end before the trailer at {tstart}",
                        t.index_offset,
                        t.index_len,
                        t.extras_offset,
                        t.extras_len,
                        t.dicts_offset,
                        t.dicts_len
                    ),
                ));
            }
            if crc32c::crc32c(&bytes[t.index_offset as usize..tstart]) != t.tail_crc {
                return Err(bad(
                    t.index_offset,
                    "checksum of the index, extras and dictionaries mismatch: the index is damaged"
                        .into(),
                ));
            }
        }
        let section = |off: u64, len: u64, what: &str| -> Result<&'a [u8]> {
            match off.checked_add(len) {
                Some(end)
                    if end <= tstart as u64 && off >= (20 + hlen) as u64 && len <= MAX_SECTION =>
                {
                    Ok(&bytes[off as usize..end as usize])
                }
                _ => Err(bad(
                    tstart as u64,
                    format!(
                        "trailer places the {what} at {off}+{len}, outside the file's sections"
                    ),
                )),
            }
        };
        let idx = section(trailer.index_offset, trailer.index_len, "index")?;
        let budget = section_budget(bytes.len() as u64);
        let raw = decompress_section(idx, budget).map_err(|e| {
            bad(
                trailer.index_offset,
                format!("index does not decompress: {e}"),
            )
        })?;
        let data_start = (20 + hlen) as u64;
        // Every chunk is a zstd frame between the header and the index, and every entry is
        // held in memory: refuse counts that the file or the budget cannot hold.
        let max_chunks = (trailer.index_offset.saturating_sub(data_start) / MIN_FRAME).min(
            budget.saturating_sub(raw.len() as u64) / std::mem::size_of::<ChunkEntry>() as u64,
        );
        let (index, heads_place) = decode_index(&raw, version, max_chunks)
            .map_err(|e| bad(trailer.index_offset, format!("index: {e}")))?;
        drop(raw);
        // The chunks end where the heads begin (version 3) or the index does.
        let chunks_end = match heads_place {
            Some(h) => {
                if h.offset.checked_add(h.len) != Some(trailer.index_offset) {
                    return Err(bad(
                        trailer.index_offset,
                        format!(
                            "index places the record heads at {}+{}, not just before the index at {}",
                            h.offset, h.len, trailer.index_offset
                        ),
                    ));
                }
                h.offset
            }
            None => trailer.index_offset,
        };
        let mut expect = data_start;
        // A chunk's records are parsed into memory whole: bound their count by its length
        // and by the budget.
        let max_records = (budget / std::mem::size_of::<Record<'_>>() as u64).max(1);
        for (i, c) in index.iter().enumerate() {
            if c.offset != expect || c.compressed_len > MAX_CHUNK || c.raw_len > MAX_CHUNK {
                return Err(bad(
                    trailer.index_offset,
                    format!(
                        "index entry {i} places chunk at {}+{} (expected offset {expect})",
                        c.offset, c.compressed_len
                    ),
                ));
            }
            if c.records > c.raw_len / MIN_RECORD || c.records > max_records {
                return Err(bad(
                    trailer.index_offset,
                    format!(
                        "index entry {i} claims {} records in {} bytes (at most {})",
                        c.records,
                        c.raw_len,
                        (c.raw_len / MIN_RECORD).min(max_records)
                    ),
                ));
            }
            expect += c.compressed_len;
        }
        if expect != chunks_end {
            return Err(bad(
                trailer.index_offset,
                "chunks do not end where the index (or the record heads) begins".into(),
            ));
        }
        section(trailer.extras_offset, trailer.extras_len, "extras")?;
        let d = section(trailer.dicts_offset, trailer.dicts_len, "dictionaries")?;
        let dicts =
            decode_dicts(d).map_err(|e| bad(trailer.dicts_offset, format!("dictionaries: {e}")))?;
        if let Some((i, c)) = index
            .iter()
            .enumerate()
            .find(|(_, c)| c.dict as usize > dicts.len())
        {
            return Err(bad(
                trailer.index_offset,
                format!(
                    "index entry {i} names dictionary {}, there are {}",
                    c.dict,
                    dicts.len()
                ),
            ));
        }
        Ok(Snapshot {
            file,
            bytes,
            facts,
            index,
            trailer,
            data_start,
            version,
            dicts,
            heads_place,
        })
    }

    /// Whether this is an incremental snapshot (format 5 with a base), which holds only
    /// what changed after its base and is read through its chain ([`super::chain`]).
    pub fn is_incremental(&self) -> bool {
        self.facts.base.is_some()
    }

    /// Every record's head in file order (chunk by chunk), CRC-checked; `None` for files
    /// older than version 3, which have none.
    pub fn heads(&self) -> Result<Option<Vec<Head>>> {
        let Some(h) = self.heads_place else {
            return Ok(None);
        };
        let bad = |what: String| Error::corrupt(self.file, h.offset, what);
        // Open checked that the heads lie between the chunks and the index.
        let data = &self.bytes[h.offset as usize..(h.offset + h.len) as usize];
        if crc32c::crc32c(data) != h.crc {
            return Err(bad(
                "record heads checksum mismatch: the section is damaged".into(),
            ));
        }
        let n = self
            .index
            .iter()
            .try_fold(0u64, |n, c| n.checked_add(c.records))
            .ok_or_else(|| bad("the index's record counts overflow".into()))?;
        // A head takes at most 31 bytes (three 10-byte varints and the flags), and the
        // decoded heads and their bytes share the section's budget.
        let budget = section_budget(self.bytes.len() as u64);
        let size = std::mem::size_of::<Head>() as u64;
        if n.saturating_mul(size) > budget {
            return Err(bad(format!(
                "the index claims {n} records: their heads would take more than {budget} bytes"
            )));
        }
        let raw = decompress_section(data, n.saturating_mul(31).min(budget - n * size))
            .map_err(|e| bad(format!("record heads do not decompress: {e}")))?;
        let mut out = Vec::new();
        decode_heads(&raw, n, &mut out).map_err(|e| bad(format!("record heads: {e}")))?;
        Ok(Some(out))
    }

    /// Chunk `i`'s compressed bytes, CRC-checked.
    fn checked(&self, i: usize) -> Result<&'a [u8]> {
        let c = &self.index[i];
        let data = &self.bytes[c.offset as usize..(c.offset + c.compressed_len) as usize];
        if crc32c::crc32c(data) != c.crc {
            return Err(Error::corrupt(
                self.file,
                c.offset,
                format!(
                    "chunk {i} ({}) checksum mismatch: the chunk is damaged",
                    c.group
                ),
            ));
        }
        Ok(data)
    }

    /// Chunk `i`, CRC-checked and decompressed.
    pub fn chunk(&self, i: usize) -> Result<Vec<u8>> {
        let c = &self.index[i];
        if self.version != 1 {
            // The index's raw length was checked against MAX_CHUNK at open.
            let mut out = vec![0u8; c.raw_len as usize];
            self.chunk_into(i, &mut out)?;
            return Ok(out);
        }
        let data = self.checked(i)?;
        let dict = (c.dict > 0).then(|| self.dicts[c.dict as usize - 1].1.as_slice());
        decompress_frame(data, MAX_CHUNK, Some(c.raw_len), dict).map_err(|e| {
            Error::corrupt(
                self.file,
                c.offset,
                format!("chunk {i} ({}) does not decompress: {e}", c.group),
            )
        })
    }

    /// Every chunk, decompressed on all cores.
    pub fn all_chunks(&self) -> Result<Vec<Vec<u8>>> {
        self.whole_read_fits()?;
        (0..self.index.len())
            .into_par_iter()
            .map(|i| self.chunk(i))
            .collect()
    }

    /// Every chunk's records, decoded on all cores into one buffer, with each chunk's place
    /// in it. One allocation instead of one per chunk, and no copy out of the decoder; a
    /// large one is file-backed ([`super::spill`]).
    pub fn all_chunks_flat(&self) -> Result<(super::spill::Records, Vec<std::ops::Range<usize>>)> {
        let total = self.whole_read_fits()?;
        // An index may claim sizes no chunk can hold; decode chunk by chunk then, so a
        // bogus claim fails on its chunk before anything that large is allocated.
        if self.version == 1 || total > (self.bytes.len() as u64).saturating_mul(64) {
            let chunks = self.all_chunks()?;
            let mut flat = Vec::with_capacity(chunks.iter().map(Vec::len).sum());
            let mut ranges = Vec::with_capacity(chunks.len());
            for c in chunks {
                ranges.push(flat.len()..flat.len() + c.len());
                flat.extend_from_slice(&c);
            }
            return Ok((super::spill::Records::Heap(flat), ranges));
        }
        let mut flat = super::spill::buffer(total as usize);
        let mut ranges = Vec::with_capacity(self.index.len());
        let mut parts: Vec<(usize, &mut [u8])> = Vec::with_capacity(self.index.len());
        let mut rest: &mut [u8] = &mut flat;
        let mut at = 0;
        for (i, c) in self.index.iter().enumerate() {
            let (part, tail) = rest.split_at_mut(c.raw_len as usize);
            ranges.push(at..at + part.len());
            at += part.len();
            parts.push((i, part));
            rest = tail;
        }
        parts
            .into_par_iter()
            .try_for_each(|(i, part)| self.chunk_into(i, part))?;
        Ok((flat, ranges))
    }

    /// Chunk `i` of a version 2 file, CRC-checked, decompressed and decoded into `out`
    /// (exactly its raw length).
    pub fn chunk_into(&self, i: usize, out: &mut [u8]) -> Result<()> {
        self.columnar(i, |cols| super::columns::decode_into(cols, out))
    }

    /// Chunk `i` of a version 2 file, CRC-checked and decompressed, with each record's
    /// KeyValue decoded straight into the slice `hole` gives for it (see
    /// [`super::columns::decode_into_holes`]); returns the number of records.
    pub fn chunk_into_holes<'o>(
        &self,
        i: usize,
        hole: impl FnMut(usize, u64, u64, u8) -> std::result::Result<&'o mut [u8], String>,
    ) -> Result<usize> {
        let raw_len = self.index[i].raw_len;
        self.columnar(i, |cols| {
            super::columns::decode_into_holes(cols, raw_len, hole)
        })
    }

    /// Chunk `i`'s columnar form, CRC-checked and decompressed, handed to `decode`.
    fn columnar<T>(
        &self,
        i: usize,
        decode: impl FnOnce(&[u8]) -> std::result::Result<T, String>,
    ) -> Result<T> {
        let c = &self.index[i];
        let data = self.checked(i)?;
        let dict = (c.dict > 0).then(|| self.dicts[c.dict as usize - 1].1.as_slice());
        COLUMNAR
            .with(|buf| {
                let mut buf = buf.borrow_mut();
                // The columnar form is at most about twice the record stream (a marker
                // or a terminator per field); the frame's declared size is trusted only
                // within that.
                let limit = c
                    .raw_len
                    .saturating_mul(2)
                    .saturating_add(1 << 20)
                    .min(MAX_CHUNK);
                decompress_frame_into(data, limit, None, dict, &mut buf)?;
                decode(&buf)
            })
            .map_err(|e| {
                Error::corrupt(
                    self.file,
                    c.offset,
                    format!("chunk {i} ({}) does not decompress: {e}", c.group),
                )
            })
    }

    /// Chunk `i`'s records, parsed from its decompressed bytes `raw`.
    pub fn records_of<'r>(&self, i: usize, raw: &'r [u8]) -> Result<Vec<Record<'r>>> {
        parse_records_at_most(raw, self.index[i].records)
            .map_err(|e| Error::corrupt(self.file, self.index[i].offset, format!("chunk {i}: {e}")))
    }

    /// Refuses a whole read (every chunk decoded at once) whose chunks claim more than
    /// [`EXPANSION_RATIO`] times the file's size.
    fn whole_read_fits(&self) -> Result<u64> {
        let total = self
            .index
            .iter()
            .try_fold(0u64, |n, c| n.checked_add(c.raw_len))
            .unwrap_or(u64::MAX);
        let limit = (self.bytes.len() as u64)
            .saturating_mul(EXPANSION_RATIO)
            .max(MAX_CHUNK);
        if total > limit {
            return Err(Error::corrupt(
                self.file,
                self.trailer.index_offset,
                format!(
                    "the chunks claim {total} bytes of records in a {}-byte file (more than {EXPANSION_RATIO} times its size): a decompression bomb or damage",
                    self.bytes.len()
                ),
            ));
        }
        Ok(total)
    }

    /// Where each chunk's records begin among all the file's records (as the index counts
    /// them), the order the heads are in.
    pub fn record_starts(&self) -> Vec<usize> {
        let mut at = 0usize;
        self.index
            .iter()
            .map(|c| {
                let s = at;
                at = at.saturating_add(c.records as usize);
                s
            })
            .collect()
    }

    /// Indices of the chunks that can hold `key`.
    pub fn chunks_for(&self, key: &[u8]) -> std::ops::Range<usize> {
        let lo = self.index.partition_point(|c| c.last_key.as_slice() < key);
        let hi = self
            .index
            .partition_point(|c| c.first_key.as_slice() <= key);
        lo..hi.max(lo)
    }

    /// The encoded KeyValue of `key` at revision `at` (latest when `None`), decompressing
    /// only the chunks whose key range holds it. `None` when the key is not live there.
    pub fn get(&self, key: &[u8], at: Option<i64>) -> Result<Option<Vec<u8>>> {
        let at = at.unwrap_or(i64::MAX);
        let mut best: Option<(Revision, bool, Vec<u8>)> = None;
        for i in self.chunks_for(key) {
            let raw = self.chunk(i)?;
            for r in self.records_of(i, &raw)? {
                if r.key() == key && r.rev.main <= at && best.as_ref().is_none_or(|b| b.0 < r.rev) {
                    best = Some((r.rev, r.tombstone, r.kv.to_vec()));
                }
            }
        }
        Ok(best.filter(|b| !b.1).map(|b| b.2))
    }

    /// The revisions this snapshot can answer for: (oldest, newest).
    pub fn revision_range(&self) -> (i64, i64) {
        let f = &self.facts;
        let newest = f.at_revision.unwrap_or(f.revision);
        let oldest = if f.mode == "history" {
            f.compact_revision
        } else {
            newest
        };
        (oldest, newest)
    }

    /// Calls `emit` with the encoded KeyValue of every key under `prefix` that is live at
    /// `at` (latest when `None`), in key order, decompressing one chunk at a time.
    pub fn stream_state(
        &self,
        prefix: &[u8],
        at: Option<i64>,
        mut emit: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        let (oldest, newest) = self.revision_range();
        if let Some(r) = at.filter(|&r| r < oldest || r > newest) {
            return Err(Error::invalid(format!(
                "revision {r} is not in this snapshot (it holds {oldest}..={newest})"
            )));
        }
        let at = at.unwrap_or(i64::MAX);
        let start = self
            .index
            .partition_point(|c| c.last_key.as_slice() < prefix);
        let mut key: Vec<u8> = Vec::new();
        let mut best: Option<(bool, Vec<u8>)> = None;
        // Chunks are decoded a window at a time on all cores and read in order.
        let end = (start..self.index.len())
            .find(|&i| {
                self.index[i].first_key.as_slice() > prefix
                    && !self.index[i].first_key.starts_with(prefix)
            })
            .unwrap_or(self.index.len());
        // A window holds at most 2 chunks per thread and WINDOW_BYTES of records (or one
        // chunk), so memory does not grow with the core count times the largest chunk.
        let window = 2 * rayon::current_num_threads().max(1);
        let mut wins: Vec<Vec<usize>> = Vec::new();
        let mut bytes = 0u64;
        for i in start..end {
            let raw = self.index[i].raw_len;
            match wins.last_mut() {
                Some(w) if w.len() < window && bytes.saturating_add(raw) <= WINDOW_BYTES => {
                    w.push(i);
                    bytes += raw;
                }
                _ => {
                    wins.push(vec![i]);
                    bytes = raw;
                }
            }
        }
        for win in &wins {
            let raws: Vec<Result<Vec<u8>>> = win.par_iter().map(|&i| self.chunk(i)).collect();
            for (&i, raw) in win.iter().zip(raws) {
                let raw = raw?;
                for r in self.records_of(i, &raw)? {
                    let k = r.key();
                    if !k.starts_with(prefix) {
                        continue;
                    }
                    if k != key.as_slice() {
                        if let Some((false, kv)) = best.take() {
                            emit(&kv)?;
                        }
                        best = None;
                        key.clear();
                        key.extend_from_slice(k);
                    }
                    // Within a key, records are in revision order: the last one at or below
                    // `at` is the state there.
                    if r.rev.main <= at {
                        best = Some((r.tombstone, r.kv.to_vec()));
                    }
                }
            }
        }
        if let Some((false, kv)) = best {
            emit(&kv)?;
        }
        Ok(())
    }

    /// The bucket entries other than `key`: (bucket, key, value).
    pub fn extras(&self) -> Result<Vec<super::extras::Entry>> {
        let t = &self.trailer;
        // Open checked that the trailer places the extras inside the file.
        let data = t
            .extras_offset
            .checked_add(t.extras_len)
            .and_then(|end| self.bytes.get(t.extras_offset as usize..end as usize))
            .ok_or_else(|| {
                Error::corrupt(self.file, t.extras_offset, "extras lie outside the file")
            })?;
        let budget = section_budget(self.bytes.len() as u64);
        let raw = decompress_section(data, budget).map_err(|e| {
            Error::corrupt(
                self.file,
                t.extras_offset,
                format!("extras do not decompress: {e}"),
            )
        })?;
        let parse = || -> std::result::Result<Vec<_>, String> {
            let mut c = Cursor::new(&raw);
            let n = c.varint()?;
            if n > raw.len() as u64 / 3 {
                return Err(format!("{n} entries claimed in {} bytes", raw.len()));
            }
            // The entries and the bytes they are parsed from share the budget.
            let size = std::mem::size_of::<super::extras::Entry>() as u64;
            if n.saturating_mul(size).saturating_add(raw.len() as u64) > budget {
                return Err(format!(
                    "{n} entries would take more than {budget} bytes in memory"
                ));
            }
            let mut out = Vec::with_capacity(n as usize);
            for _ in 0..n {
                out.push((
                    c.bytes()?.to_vec(),
                    c.bytes()?.to_vec(),
                    c.bytes()?.to_vec(),
                ));
            }
            Ok(out)
        };
        parse().map_err(|e| Error::corrupt(self.file, t.extras_offset, format!("extras: {e}")))
    }

    /// Verifies the whole-file checksum, every chunk (checksum, decompression, records in
    /// key order within the index's bounds), the index and the extras.
    pub fn verify(&self) -> SnapshotCheck {
        let mut out = SnapshotCheck {
            chunks: self.index.len(),
            ..Default::default()
        };
        let tstart = self.bytes.len() - TRAILER_LEN;
        if crc32c::crc32c(&self.bytes[..tstart]) != self.trailer.file_crc {
            out.findings.push("whole-file checksum mismatch".into());
        }
        // Each chunk is also compared with its records' heads (version 3).
        let heads = match self.heads() {
            Ok(h) => h,
            Err(e) => {
                out.findings.push(e.to_string());
                None
            }
        };
        let starts = self.record_starts();
        let results: Vec<std::result::Result<u64, String>> = (0..self.index.len())
            .into_par_iter()
            .map(|i| {
                let raw = self.chunk(i).map_err(|e| e.to_string())?;
                let c = &self.index[i];
                let recs = parse_records_at_most(&raw, c.records)
                    .map_err(|e| format!("chunk {i} ({}): records: {e}", c.group))?;
                if let Some(heads) = &heads {
                    let mine = heads.get(starts[i]..starts[i].saturating_add(recs.len()));
                    let same = mine
                        .is_some_and(|mine| recs.iter().zip(mine).all(|(r, h)| r.agrees_with(h)));
                    if !same {
                        return Err(format!(
                            "chunk {i} ({}): records disagree with their heads",
                            c.group
                        ));
                    }
                }
                let keys: Vec<&[u8]> = recs.iter().map(Record::key).collect();
                if recs.len() as u64 != c.records
                    || keys.first() != Some(&c.first_key.as_slice())
                    || keys.last() != Some(&c.last_key.as_slice())
                {
                    return Err(format!(
                        "chunk {i} ({}): contents disagree with the index",
                        c.group
                    ));
                }
                if keys.windows(2).any(|w| w[0] > w[1]) {
                    return Err(format!("chunk {i} ({}): keys out of order", c.group));
                }
                Ok(recs.len() as u64)
            })
            .collect();
        for r in results {
            match r {
                Ok(n) => out.records += n,
                Err(e) => out.findings.push(e),
            }
        }
        if self
            .index
            .windows(2)
            .any(|w| w[0].last_key > w[1].first_key)
        {
            out.findings.push("index: chunks out of key order".into());
        }
        if let Err(e) = self.extras() {
            out.findings.push(e.to_string());
        }
        out
    }
}
