//! The reshift snapshot file format, version 5 (versions 1 to 4 are still read). All
//! integers little-endian; `varint` is the protobuf base-128 varint.
//!
//! ```text
//! file    := header chunk* heads index extras dicts trailer      (version 1, 2: no heads)
//! header  := "RSHIFTSN" | u32 version | u32 len | JSON facts [len] | u32 crc32c(JSON)
//! chunk   := one zstd frame; its content is record* (version 2, 3: columnar, see columns.rs)
//! record  := varint main | varint sub | u8 flags (1 = tombstone) | varint len | KeyValue [len]
//! heads   := one zstd frame: every chunk's records in file order, each as
//!            varint main | varint sub | u8 flags | varint len   (a record without its bytes)
//! index   := one zstd frame: varint n, then per chunk:
//!            varint offset | varint compressed_len | varint raw_len | u32 crc32c(compressed)
//!            | varint records | varint dict (0: none, else 1 + its place in dicts)
//!            | bytes first_key | bytes last_key | bytes group
//!            then (version 3) varint heads_offset | varint heads_len | u32 crc32c(heads)
//! extras  := one zstd frame: varint n, then per entry: bytes bucket | bytes key | bytes value
//! dicts   := varint n, then per dictionary: bytes group | u32 crc32c(dict) | bytes dict
//! bytes   := varint len | len bytes
//! trailer := u64 index_offset | u64 index_len | u64 extras_offset | u64 extras_len
//!            | u64 dicts_offset | u64 dicts_len
//!            | u32 crc32c(every byte before the trailer) | u32 tail_crc | "RSHIFTEN"
//! tail_crc := (version 4) crc32c(index extras dicts), which lie end to end just before the
//!            trailer; (versions 1 to 3) 0
//! ```
//!
//! Every part a read uses carries a checksum that the read can verify without reading the
//! whole file: the header its own, the index, extras and dictionaries the tail's (version 4),
//! the heads and each chunk theirs in the index.
//!
//! The heads let a restore lay out the new db — which record goes to which page, at which
//! offset — before decoding any chunk, and then decode the chunks in any order straight
//! into their places, in memory that does not grow with the snapshot.
//!
//! A resource with enough data gets a zstd dictionary trained on a sample of its records;
//! its chunks are compressed with it, so even a chunk's first objects compress well.
//!
//! Records are the source's encoded mvccpb.KeyValue bytes, unchanged, so keys, values and
//! revisions come back byte for byte. Chunks hold records in key order (and, within a key,
//! revision order) and never span two resources (see
//! [`resource_of`](crate::etcd::inspect::resource_of)), so similar objects compress
//! together and a key is found through the index by decompressing one chunk. Extras hold
//! every entry of every bucket but `key` — leases, members, auth, meta — as restore needs.

use crate::wire::read_varint;

pub const MAGIC: &[u8; 8] = b"RSHIFTSN";
pub const END_MAGIC: &[u8; 8] = b"RSHIFTEN";
/// Version 2 stores each chunk's records through the columnar transform
/// ([`super::columns`]) before zstd; version 1 stored them as they are. Version 3 adds the
/// heads section; version 4 a checksum of the index, extras and dictionaries in the
/// trailer. Version 5 has the same layout, and its header may name a base snapshot
/// (`base`): the file is then an incremental snapshot, read only as the last link of a
/// chain (see [`super::chain`]). All five are read.
pub const VERSION: u32 = 5;
pub const OLDEST_VERSION: u32 = 1;
pub const TRAILER_LEN: usize = 64;
pub const TOMBSTONE: u8 = 1;

/// What the index says of one chunk.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChunkEntry {
    pub offset: u64,
    pub compressed_len: u64,
    pub raw_len: u64,
    pub crc: u32,
    pub records: u64,
    /// 0: no dictionary; otherwise 1 + the dictionary's place in the dicts section.
    pub dict: u64,
    #[serde(skip)]
    pub first_key: Vec<u8>,
    #[serde(skip)]
    pub last_key: Vec<u8>,
    pub group: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trailer {
    pub index_offset: u64,
    pub index_len: u64,
    pub extras_offset: u64,
    pub extras_len: u64,
    pub dicts_offset: u64,
    pub dicts_len: u64,
    pub file_crc: u32,
    /// crc32c of the index, extras and dictionaries (version 4; 0 before).
    pub tail_crc: u32,
}

pub use crate::wire::put_varint;

pub fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// A bounds-checked cursor over a decoded section.
pub struct Cursor<'a> {
    pub buf: &'a [u8],
    pub pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    pub fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub fn varint(&mut self) -> Result<u64, String> {
        read_varint(self.buf, &mut self.pos).map_err(|e| e.to_string())
    }

    pub fn take(&mut self, n: u64) -> Result<&'a [u8], String> {
        let rest = (self.buf.len() - self.pos) as u64;
        if n > rest {
            return Err(format!(
                "{n} bytes wanted at offset {}, {rest} remain",
                self.pos
            ));
        }
        let s = &self.buf[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }

    pub fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.varint()?;
        self.take(n)
    }

    pub fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    pub fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
}

/// Where the heads section lies, and its checksum (version 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadsPlace {
    pub offset: u64,
    pub len: u64,
    pub crc: u32,
}

/// One record's head: what the record stream holds before the KeyValue bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub main: u64,
    pub sub: u64,
    pub flags: u8,
    pub len: u64,
}

impl Head {
    /// Whether this head names the record of revision `main`.`sub` with deletion flag
    /// `tombstone` (the other flag bits aside).
    pub fn names(&self, main: u64, sub: u64, tombstone: bool) -> bool {
        self.main == main && self.sub == sub && (self.flags & TOMBSTONE != 0) == tombstone
    }
}

/// Appends a record's head to `out`.
pub fn put_head(out: &mut Vec<u8>, main: u64, sub: u64, flags: u8, len: u64) {
    put_varint(out, main);
    put_varint(out, sub);
    out.push(flags);
    put_varint(out, len);
}

/// Parses a heads section into `out`: exactly `n` heads, no bytes left over.
pub fn decode_heads(buf: &[u8], n: u64, out: &mut Vec<Head>) -> Result<(), String> {
    // Each head takes at least 4 bytes: refuse counts the section cannot hold.
    if n > buf.len() as u64 / 4 {
        return Err(format!("{n} record heads claimed in {} bytes", buf.len()));
    }
    out.reserve(n as usize);
    let mut c = Cursor::new(buf);
    for _ in 0..n {
        out.push(Head {
            main: c.varint()?,
            sub: c.varint()?,
            flags: c.u8()?,
            len: c.varint()?,
        });
    }
    if !c.done() {
        return Err("bytes after the last record head".into());
    }
    Ok(())
}

pub fn encode_index(chunks: &[ChunkEntry], heads: Option<HeadsPlace>) -> Vec<u8> {
    let mut out = Vec::new();
    put_varint(&mut out, chunks.len() as u64);
    for c in chunks {
        put_varint(&mut out, c.offset);
        put_varint(&mut out, c.compressed_len);
        put_varint(&mut out, c.raw_len);
        out.extend_from_slice(&c.crc.to_le_bytes());
        put_varint(&mut out, c.records);
        put_varint(&mut out, c.dict);
        put_bytes(&mut out, &c.first_key);
        put_bytes(&mut out, &c.last_key);
        put_bytes(&mut out, c.group.as_bytes());
    }
    if let Some(h) = heads {
        put_varint(&mut out, h.offset);
        put_varint(&mut out, h.len);
        out.extend_from_slice(&h.crc.to_le_bytes());
    }
    out
}

/// The index of a file of `version`: its chunks, and where the heads lie (version 3).
/// At most `max_chunks` entries are accepted (what the file can hold and the reader's
/// memory budget allows).
pub fn decode_index(
    buf: &[u8],
    version: u32,
    max_chunks: u64,
) -> Result<(Vec<ChunkEntry>, Option<HeadsPlace>), String> {
    let mut c = Cursor::new(buf);
    let n = c.varint()?;
    // Each entry takes at least 12 bytes: refuse counts the section cannot hold.
    if n > buf.len() as u64 / 12 {
        return Err(format!("index claims {n} chunks in {} bytes", buf.len()));
    }
    if n > max_chunks {
        return Err(format!(
            "index claims {n} chunks; the file and the memory budget hold at most {max_chunks}"
        ));
    }
    let mut out = Vec::with_capacity(n as usize);
    for _ in 0..n {
        out.push(ChunkEntry {
            offset: c.varint()?,
            compressed_len: c.varint()?,
            raw_len: c.varint()?,
            crc: c.u32()?,
            records: c.varint()?,
            dict: c.varint()?,
            first_key: c.bytes()?.to_vec(),
            last_key: c.bytes()?.to_vec(),
            group: String::from_utf8_lossy(c.bytes()?).into_owned(),
        });
    }
    let heads = if version >= 3 {
        Some(HeadsPlace {
            offset: c.varint()?,
            len: c.varint()?,
            crc: c.u32()?,
        })
    } else {
        None
    };
    if !c.done() {
        return Err("bytes after the last index entry".into());
    }
    Ok((out, heads))
}

pub fn encode_trailer(t: &Trailer) -> [u8; TRAILER_LEN] {
    let mut b = [0u8; TRAILER_LEN];
    b[0..8].copy_from_slice(&t.index_offset.to_le_bytes());
    b[8..16].copy_from_slice(&t.index_len.to_le_bytes());
    b[16..24].copy_from_slice(&t.extras_offset.to_le_bytes());
    b[24..32].copy_from_slice(&t.extras_len.to_le_bytes());
    b[32..40].copy_from_slice(&t.dicts_offset.to_le_bytes());
    b[40..48].copy_from_slice(&t.dicts_len.to_le_bytes());
    b[48..52].copy_from_slice(&t.file_crc.to_le_bytes());
    b[52..56].copy_from_slice(&t.tail_crc.to_le_bytes());
    b[56..64].copy_from_slice(END_MAGIC);
    b
}

/// The trailer of a file of `version`.
pub fn decode_trailer(b: &[u8], version: u32) -> Result<Trailer, String> {
    if b.len() != TRAILER_LEN || &b[56..64] != END_MAGIC {
        return Err("no snapshot trailer (the file is truncated or not a reshift snapshot)".into());
    }
    if version < 4 && b[52..56] != [0; 4] {
        return Err("the trailer's reserved bytes are not zero: the trailer is damaged".into());
    }
    let u = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
    Ok(Trailer {
        index_offset: u(0),
        index_len: u(8),
        extras_offset: u(16),
        extras_len: u(24),
        dicts_offset: u(32),
        dicts_len: u(40),
        file_crc: u32::from_le_bytes(b[48..52].try_into().expect("4 bytes")),
        tail_crc: u32::from_le_bytes(b[52..56].try_into().expect("4 bytes")),
    })
}

pub fn encode_dicts(dicts: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    put_varint(&mut out, dicts.len() as u64);
    for (g, d) in dicts {
        put_bytes(&mut out, g.as_bytes());
        out.extend_from_slice(&crc32c::crc32c(d).to_le_bytes());
        put_bytes(&mut out, d);
    }
    out
}

pub fn decode_dicts(buf: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut c = Cursor::new(buf);
    let n = c.varint()?;
    if n > buf.len() as u64 / 6 {
        return Err(format!("{n} dictionaries claimed in {} bytes", buf.len()));
    }
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..n {
        let g = String::from_utf8_lossy(c.bytes()?).into_owned();
        let crc = c.u32()?;
        let d = c.bytes()?;
        if crc32c::crc32c(d) != crc {
            return Err(format!("dictionary {i} ({g}) checksum mismatch"));
        }
        out.push((g, d.to_vec()));
    }
    if !c.done() {
        return Err("bytes after the last dictionary".into());
    }
    Ok(out)
}
