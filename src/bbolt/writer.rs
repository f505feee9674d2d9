//! Writing a new bbolt file bottom-up from sorted entries: leaf pages filled in key order
//! (a value too large for a page gets overflow pages), branch levels above them, one tree
//! per bucket, the root bucket over those, an empty freelist page and both meta pages.
//! Pages are written as they fill, so memory holds one page per tree level. A value may be
//! left as a hole of known length, to be filled in place once the file is written (see
//! [`BoltWriter::write_tree_with_holes`]).

use super::meta::{Meta, encode};
use super::page::{BRANCH, BUCKET_LEAF, ELEMENT_SIZE, FREELIST, HEADER_SIZE, LEAF, META};
use crate::error::{Error, Result};
use std::borrow::Cow;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Writes a bbolt file to any seekable sink.
pub struct BoltWriter<W: Write + Seek> {
    out: W,
    path: PathBuf,
    page_size: usize,
    next: u64,
    /// Pages built in place, written to `out` a few MiB at a time.
    staged: Vec<u8>,
    /// File offsets of the holes left so far, in the order their entries came.
    holes: Vec<u64>,
    /// The holes in `staged` (start, length): not written, but skipped with a seek, so a
    /// sink that already holds zeros there (a fresh file or map) is not written twice.
    staged_holes: Vec<(usize, usize)>,
}

/// A leaf value: its bytes, or a hole of this length left zeroed for the caller to fill.
enum Value<'a> {
    Bytes(Cow<'a, [u8]>),
    Hole(usize),
}

impl Value<'_> {
    fn len(&self) -> usize {
        match self {
            Value::Bytes(b) => b.len(),
            Value::Hole(n) => *n,
        }
    }
}

/// Bytes of pages gathered before they are written.
const STAGE: usize = 4 << 20;

/// One element of a page: flags (or, in a branch, nothing), key, value (or child id).
type Elem<'a> = (u32, Cow<'a, [u8]>, Value<'a>);

/// A page being filled: its elements' keys and values, borrowed from the caller where
/// they can be.
struct Building<'a> {
    flags: u16,
    elems: Vec<Elem<'a>>,
    bytes: usize,
}

impl Building<'_> {
    fn new(flags: u16) -> Self {
        Building {
            flags,
            elems: Vec::new(),
            bytes: HEADER_SIZE,
        }
    }
}

impl<W: Write + Seek> BoltWriter<W> {
    /// Starts a file; pages 0 and 1 (the metas) are written by [`BoltWriter::finish`].
    pub fn new(mut out: W, path: &Path, page_size: usize) -> Result<Self> {
        out.write_all(&vec![0u8; 2 * page_size])
            .map_err(|e| Error::io(path, e))?;
        Ok(BoltWriter {
            out,
            path: path.to_path_buf(),
            page_size,
            next: 2,
            staged: Vec::with_capacity(STAGE + (1 << 20)),
            holes: Vec::new(),
            staged_holes: Vec::new(),
        })
    }

    fn write_staged(&mut self) -> Result<()> {
        let mut at = 0;
        for &(start, len) in &self.staged_holes {
            self.out
                .write_all(&self.staged[at..start])
                .map_err(|e| Error::io(&self.path, e))?;
            self.out
                .seek(SeekFrom::Current(len as i64))
                .map_err(|e| Error::io(&self.path, e))?;
            at = start + len;
        }
        self.out
            .write_all(&self.staged[at..])
            .map_err(|e| Error::io(&self.path, e))?;
        self.staged.clear();
        self.staged_holes.clear();
        Ok(())
    }

    /// Writes one page (with overflow pages as needed); returns its id.
    fn flush(&mut self, b: &Building<'_>) -> Result<u64> {
        let id = self.next;
        let pages = b.bytes.div_ceil(self.page_size).max(1);
        let start = self.staged.len();
        self.staged.resize(start + pages * self.page_size, 0);
        let buf = &mut self.staged[start..];
        buf[0..8].copy_from_slice(&id.to_le_bytes());
        buf[8..10].copy_from_slice(&b.flags.to_le_bytes());
        buf[10..12].copy_from_slice(&(b.elems.len() as u16).to_le_bytes());
        buf[12..16].copy_from_slice(&((pages - 1) as u32).to_le_bytes());
        let mut data = HEADER_SIZE + b.elems.len() * ELEMENT_SIZE;
        let page_offset = id * self.page_size as u64;
        for (i, (flags_or_child, k, v)) in b.elems.iter().enumerate() {
            let at = HEADER_SIZE + i * ELEMENT_SIZE;
            let pos = (data - at) as u32;
            let e = &mut buf[at..at + ELEMENT_SIZE];
            if b.flags == BRANCH {
                e[0..4].copy_from_slice(&pos.to_le_bytes());
                e[4..8].copy_from_slice(&(k.len() as u32).to_le_bytes());
                let Value::Bytes(v) = v else {
                    unreachable!("branch elements carry child ids")
                };
                let child = u64::from_le_bytes(v[..8].try_into().expect("child id"));
                e[8..16].copy_from_slice(&child.to_le_bytes());
                buf[data..data + k.len()].copy_from_slice(k);
                data += k.len();
            } else {
                e[0..4].copy_from_slice(&flags_or_child.to_le_bytes());
                e[4..8].copy_from_slice(&pos.to_le_bytes());
                e[8..12].copy_from_slice(&(k.len() as u32).to_le_bytes());
                e[12..16].copy_from_slice(&(v.len() as u32).to_le_bytes());
                buf[data..data + k.len()].copy_from_slice(k);
                match v {
                    Value::Bytes(v) => {
                        buf[data + k.len()..data + k.len() + v.len()].copy_from_slice(v)
                    }
                    Value::Hole(n) => {
                        self.holes.push(page_offset + (data + k.len()) as u64);
                        if *n > 0 {
                            self.staged_holes.push((start + data + k.len(), *n));
                        }
                    }
                }
                data += k.len() + v.len();
            }
        }
        self.next += pages as u64;
        if self.staged.len() >= STAGE {
            self.write_staged()?;
        }
        Ok(id)
    }

    /// Adds an element to level `lvl`, flushing that level's page into the level above
    /// when it is full.
    fn push<'a>(
        &mut self,
        levels: &mut Vec<Building<'a>>,
        lvl: usize,
        flags: u32,
        k: Cow<'a, [u8]>,
        v: Value<'a>,
    ) -> Result<()> {
        if levels.len() == lvl {
            levels.push(Building::new(if lvl == 0 { LEAF } else { BRANCH }));
        }
        let size = ELEMENT_SIZE + k.len() + if lvl == 0 { v.len() } else { 0 };
        let full = !levels[lvl].elems.is_empty() && levels[lvl].bytes + size > self.page_size;
        if full || levels[lvl].elems.len() == u16::MAX as usize {
            let fresh = Building::new(levels[lvl].flags);
            let page = std::mem::replace(&mut levels[lvl], fresh);
            let id = self.flush(&page)?;
            let first = page.elems.into_iter().next().expect("non-empty page").1;
            self.push(
                levels,
                lvl + 1,
                0,
                first,
                Value::Bytes(Cow::Owned(id.to_le_bytes().to_vec())),
            )?;
        }
        let b = &mut levels[lvl];
        b.bytes += size;
        b.elems.push((flags, k, v));
        Ok(())
    }

    /// Writes a tree of `entries` (strictly increasing keys; `(key, value, is_bucket)`)
    /// and returns its root page id.
    pub fn write_tree<'a, K, V>(
        &mut self,
        entries: impl IntoIterator<Item = (K, V, bool)>,
    ) -> Result<u64>
    where
        K: Into<Cow<'a, [u8]>>,
        V: Into<Cow<'a, [u8]>>,
    {
        self.tree(
            entries
                .into_iter()
                .map(|(k, v, b)| (k.into(), Value::Bytes(v.into()), b)),
        )
    }

    /// Writes a tree of `(key, value length)` entries (strictly increasing keys) whose
    /// values are left as holes — skipped with a seek, so the sink must read as zeros
    /// there (a fresh file or map) — and returns its root page id and the file offset of
    /// each entry's value, in entry order, for the caller to fill once the file is written.
    pub fn write_tree_with_holes<'a, K>(
        &mut self,
        entries: impl IntoIterator<Item = (K, usize)>,
    ) -> Result<(u64, Vec<u64>)>
    where
        K: Into<Cow<'a, [u8]>>,
    {
        let before = std::mem::take(&mut self.holes);
        let root = self.tree(
            entries
                .into_iter()
                .map(|(k, n)| (k.into(), Value::Hole(n), false)),
        );
        let holes = std::mem::replace(&mut self.holes, before);
        Ok((root?, holes))
    }

    fn tree<'a>(
        &mut self,
        entries: impl Iterator<Item = (Cow<'a, [u8]>, Value<'a>, bool)>,
    ) -> Result<u64> {
        let mut levels: Vec<Building<'a>> = vec![Building::new(LEAF)];
        let mut last: Option<Vec<u8>> = None;
        for (k, v, is_bucket) in entries {
            match &mut last {
                Some(l) if l.as_slice() >= &*k => {
                    return Err(Error::invalid(
                        "bbolt writer: keys must be strictly increasing",
                    ));
                }
                Some(l) => {
                    l.clear();
                    l.extend_from_slice(&k);
                }
                None => last = Some(k.to_vec()),
            }
            self.push(
                &mut levels,
                0,
                if is_bucket { BUCKET_LEAF } else { 0 },
                k,
                v,
            )?;
        }
        // Close the levels bottom-up; the last page of the top level is the root.
        let mut lvl = 0;
        loop {
            let page = std::mem::replace(&mut levels[lvl], Building::new(LEAF));
            let top = lvl + 1 == levels.len();
            let id = self.flush(&page)?;
            if top {
                return Ok(id);
            }
            let first = page
                .elems
                .into_iter()
                .next()
                .map(|e| e.1)
                .unwrap_or_default();
            self.push(
                &mut levels,
                lvl + 1,
                0,
                first,
                Value::Bytes(Cow::Owned(id.to_le_bytes().to_vec())),
            )?;
            lvl += 1;
        }
    }

    /// A bucket's value in its parent: its root page and a zero sequence.
    pub fn bucket_value(root: u64) -> Vec<u8> {
        let mut v = root.to_le_bytes().to_vec();
        v.extend_from_slice(&0u64.to_le_bytes());
        v
    }

    /// Writes the empty freelist and both meta pages around `root`; returns the sink.
    pub fn finish(mut self, root: u64) -> Result<W> {
        let mut fl = Building::new(FREELIST);
        fl.elems.clear();
        let freelist = self.flush(&fl)?;
        self.write_staged()?;
        for txid in 0..2u64 {
            let meta = Meta {
                page_size: self.page_size as u32,
                flags: 0,
                root,
                sequence: 0,
                freelist,
                high_water: self.next,
                txid,
                checksum: 0,
            };
            let mut page = vec![0u8; self.page_size];
            page[0..8].copy_from_slice(&txid.to_le_bytes());
            page[8..10].copy_from_slice(&META.to_le_bytes());
            page[HEADER_SIZE..HEADER_SIZE + 64].copy_from_slice(&encode(&meta));
            self.out
                .seek(SeekFrom::Start(txid * self.page_size as u64))
                .map_err(|e| Error::io(&self.path, e))?;
            self.out
                .write_all(&page)
                .map_err(|e| Error::io(&self.path, e))?;
        }
        self.out
            .seek(SeekFrom::End(0))
            .map_err(|e| Error::io(&self.path, e))?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bbolt::{Db, check};

    #[test]
    fn round_trip_with_overflow_nesting_and_many_pages() {
        let mut w =
            BoltWriter::new(std::io::Cursor::new(Vec::new()), Path::new("t.db"), 4096).unwrap();
        let big: Vec<(Vec<u8>, Vec<u8>, bool)> = (0..5000u32)
            .map(|i| {
                (
                    format!("k{i:06}").into_bytes(),
                    vec![
                        (i % 251) as u8;
                        (i as usize * 7) % 300 + if i % 977 == 0 { 20000 } else { 0 }
                    ],
                    false,
                )
            })
            .collect();
        type Cw = BoltWriter<std::io::Cursor<Vec<u8>>>;
        // An empty bucket, then the root over "big" (root page `b1`) and it.
        let finish = |mut w: Cw, b1: u64| {
            let b2 = w
                .write_tree(Vec::<(Vec<u8>, Vec<u8>, bool)>::new())
                .unwrap();
            let root = w
                .write_tree(vec![
                    (b"big".to_vec(), Cw::bucket_value(b1), true),
                    (b"empty".to_vec(), Cw::bucket_value(b2), true),
                ])
                .unwrap();
            w.finish(root).unwrap().into_inner()
        };
        let b1 = w.write_tree(big.clone()).unwrap();
        let bytes = finish(w, b1);
        let name: crate::error::FileName = std::sync::Arc::from(Path::new("t.db"));
        let db = Db::open(&bytes, &name).unwrap();
        let r = check(&db);
        assert!(r.ok(), "{:?}", r.findings);
        let b = db.bucket(&[b"big"]).unwrap().unwrap();
        let got: Vec<_> = b
            .iter()
            .map(|e| {
                e.map(|e| (e.key.to_vec(), e.value.to_vec(), false))
                    .unwrap()
            })
            .collect();
        assert_eq!(got, big);
        assert_eq!(db.bucket(&[b"empty"]).unwrap().unwrap().iter().count(), 0);
        // The same tree with its values left as holes, filled afterwards, is the same file.
        let mut w =
            BoltWriter::new(std::io::Cursor::new(Vec::new()), Path::new("t.db"), 4096).unwrap();
        let (h1, holes) = w
            .write_tree_with_holes(big.iter().map(|(k, v, _)| (k.as_slice(), v.len())))
            .unwrap();
        assert_eq!(h1, b1);
        assert_eq!(holes.len(), big.len());
        let mut filled = finish(w, h1);
        for ((_, v, _), &at) in big.iter().zip(&holes) {
            let at = at as usize;
            assert!(filled[at..at + v.len()].iter().all(|&b| b == 0));
            filled[at..at + v.len()].copy_from_slice(v);
        }
        assert!(filled == bytes, "holes filled give the same file");
        let mut w =
            BoltWriter::new(std::io::Cursor::new(Vec::new()), Path::new("t.db"), 4096).unwrap();
        assert!(
            w.write_tree(vec![
                (b"b".to_vec(), vec![], false),
                (b"a".to_vec(), vec![], false)
            ])
            .is_err()
        );
    }
}
