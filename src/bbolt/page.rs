//! bbolt pages: the 16-byte page header and the branch and leaf elements that follow it.
//!
//! Layout (little-endian): `id u64, flags u16, count u16, overflow u32`, then `count`
//! 16-byte elements. A branch element is `pos u32, ksize u32, pgid u64`; a leaf element is
//! `flags u32, pos u32, ksize u32, vsize u32`. `pos` counts from the element's own start
//! to its key; a leaf's value follows its key. A page with `overflow = n` spans `n + 1`
//! consecutive pages.

pub const HEADER_SIZE: usize = 16;
pub const ELEMENT_SIZE: usize = 16;

pub const BRANCH: u16 = 0x01;
pub const LEAF: u16 = 0x02;
pub const META: u16 = 0x04;
pub const FREELIST: u16 = 0x10;

/// Leaf element flag: the value is a nested bucket header.
pub const BUCKET_LEAF: u32 = 0x01;

/// Size of the header stored at the start of a bucket's value: `root pgid u64, sequence u64`.
pub const BUCKET_HEADER_SIZE: usize = 16;

#[inline]
pub(crate) fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
#[inline]
pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}
#[inline]
pub(crate) fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Names a page type for messages.
pub fn type_name(flags: u16) -> &'static str {
    match flags {
        BRANCH => "branch",
        LEAF => "leaf",
        META => "meta",
        FREELIST => "freelist",
        _ => "unknown",
    }
}

/// Where a page lives: a page of the file, or a bucket's inline page stored in a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageId {
    File(u64),
    Inline,
}

/// A page, borrowed from the mapped file. `data` starts at the page header and covers
/// the page and its overflow pages (for an inline page: the rest of the bucket value).
#[derive(Debug, Clone, Copy)]
pub struct Page<'a> {
    pub id: PageId,
    /// Byte offset of `data` in the file, for error messages.
    pub offset: u64,
    pub flags: u16,
    pub count: u16,
    pub overflow: u32,
    pub data: &'a [u8],
}

/// A problem inside one page, relative to the page start; the caller adds file context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageFault {
    pub at: usize,
    pub what: String,
}

/// One leaf element, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeafElem<'a> {
    pub flags: u32,
    pub key: &'a [u8],
    pub value: &'a [u8],
}

impl LeafElem<'_> {
    pub fn is_bucket(&self) -> bool {
        self.flags & BUCKET_LEAF != 0
    }
}

/// One branch element, borrowed: the first key of the child page and the child's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BranchElem<'a> {
    pub key: &'a [u8],
    pub child: u64,
}

impl<'a> Page<'a> {
    /// Reads the header at the start of `data`. `data` must hold at least the header.
    pub fn parse(id: PageId, offset: u64, data: &'a [u8]) -> Result<Self, PageFault> {
        if data.len() < HEADER_SIZE {
            return Err(PageFault {
                at: 0,
                what: format!(
                    "page header needs {HEADER_SIZE} bytes, {} remain",
                    data.len()
                ),
            });
        }
        Ok(Page {
            id,
            offset,
            flags: u16_at(data, 8),
            count: u16_at(data, 10),
            overflow: u32_at(data, 12),
            data,
        })
    }

    /// The id written in the page header (0 for inline pages).
    pub fn stored_id(&self) -> u64 {
        u64_at(self.data, 0)
    }

    pub fn is_leaf(&self) -> bool {
        self.flags == LEAF
    }

    pub fn is_branch(&self) -> bool {
        self.flags == BRANCH
    }

    pub fn len(&self) -> usize {
        usize::from(self.count)
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The byte range `[start, start + len)` of this page, checked.
    #[inline]
    fn span(&self, start: usize, len: usize, what: &str) -> Result<&'a [u8], PageFault> {
        match start.checked_add(len) {
            Some(end) if end <= self.data.len() => Ok(&self.data[start..end]),
            _ => Err(PageFault {
                at: start.min(self.data.len()),
                what: format!(
                    "{what} of {len} bytes at page offset {start} runs past the page's {} bytes",
                    self.data.len()
                ),
            }),
        }
    }

    #[inline]
    fn element(&self, i: usize) -> Result<(usize, &'a [u8]), PageFault> {
        let at = HEADER_SIZE + i * ELEMENT_SIZE;
        Ok((at, self.span(at, ELEMENT_SIZE, "element header")?))
    }

    /// Leaf element `i` (`i < count`).
    #[inline]
    pub fn leaf(&self, i: usize) -> Result<LeafElem<'a>, PageFault> {
        let (at, e) = self.element(i)?;
        let flags = u32_at(e, 0);
        let pos = u32_at(e, 4) as usize;
        let ksize = u32_at(e, 8) as usize;
        let vsize = u32_at(e, 12) as usize;
        let kstart = at + pos;
        let key = self.span(kstart, ksize, "leaf key")?;
        let value = self.span(kstart + ksize, vsize, "leaf value")?;
        Ok(LeafElem { flags, key, value })
    }

    /// Branch element `i` (`i < count`).
    #[inline]
    pub fn branch(&self, i: usize) -> Result<BranchElem<'a>, PageFault> {
        let (at, e) = self.element(i)?;
        let pos = u32_at(e, 0) as usize;
        let ksize = u32_at(e, 4) as usize;
        let child = u64_at(e, 8);
        let key = self.span(at + pos, ksize, "branch key")?;
        Ok(BranchElem { key, child })
    }

    /// The key of element `i`, whatever the page type.
    #[inline]
    pub fn key(&self, i: usize) -> Result<&'a [u8], PageFault> {
        if self.is_branch() {
            Ok(self.branch(i)?.key)
        } else {
            Ok(self.leaf(i)?.key)
        }
    }

    /// Bytes this page's header, elements, keys and values occupy (bbolt's "in use").
    pub fn used_bytes(&self) -> Result<usize, PageFault> {
        let mut n = HEADER_SIZE + self.len() * ELEMENT_SIZE;
        for i in 0..self.len() {
            n += if self.is_branch() {
                self.branch(i)?.key.len()
            } else {
                let e = self.leaf(i)?;
                e.key.len() + e.value.len()
            };
        }
        Ok(n)
    }

    /// Page ids stored in a freelist page. The count lives in the header, or, when the
    /// header's count is 0xFFFF, in the first u64 after it.
    pub fn freelist_ids(&self) -> Result<impl Iterator<Item = u64> + 'a, PageFault> {
        let (skip, count) = if self.count == 0xFFFF {
            let c = u64_at(self.span(HEADER_SIZE, 8, "freelist count")?, 0);
            (1usize, c)
        } else {
            (0, u64::from(self.count))
        };
        let count = usize::try_from(count).map_err(|_| PageFault {
            at: HEADER_SIZE,
            what: format!("freelist count {count} is too large"),
        })?;
        let bytes = count.checked_mul(8).ok_or_else(|| PageFault {
            at: HEADER_SIZE,
            what: format!("freelist count {count} is too large"),
        })?;
        let ids = self.span(HEADER_SIZE + skip * 8, bytes, "freelist ids")?;
        Ok(ids.chunks_exact(8).map(|c| u64_at(c, 0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf_page(entries: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut p = vec![0u8; HEADER_SIZE];
        p[8..10].copy_from_slice(&LEAF.to_le_bytes());
        p[10..12].copy_from_slice(&(entries.len() as u16).to_le_bytes());
        let data_start = HEADER_SIZE + entries.len() * ELEMENT_SIZE;
        let mut data = Vec::new();
        for (i, (k, v)) in entries.iter().enumerate() {
            let at = HEADER_SIZE + i * ELEMENT_SIZE;
            let pos = data_start + data.len() - at;
            let mut e = [0u8; 16];
            e[4..8].copy_from_slice(&(pos as u32).to_le_bytes());
            e[8..12].copy_from_slice(&(k.len() as u32).to_le_bytes());
            e[12..16].copy_from_slice(&(v.len() as u32).to_le_bytes());
            p.extend_from_slice(&e);
            data.extend_from_slice(k);
            data.extend_from_slice(v);
        }
        p.extend_from_slice(&data);
        p
    }

    #[test]
    fn leaf_elements_and_bounds() {
        let buf = leaf_page(&[(b"a", b"1"), (b"bb", b"22")]);
        let p = Page::parse(PageId::Inline, 0, &buf).unwrap();
        assert_eq!(p.leaf(1).unwrap().key, b"bb");
        assert_eq!(p.leaf(1).unwrap().value, b"22");
        assert_eq!(p.used_bytes().unwrap(), buf.len());
        // Every truncation makes some element fail instead of panicking.
        for cut in HEADER_SIZE..buf.len() {
            let p = Page::parse(PageId::Inline, 0, &buf[..cut]).unwrap();
            assert!((0..2).any(|i| p.leaf(i).is_err()), "cut {cut}");
        }
        assert!(Page::parse(PageId::Inline, 0, &buf[..15]).is_err());
    }

    #[test]
    fn absurd_lengths_are_errors() {
        let mut buf = leaf_page(&[(b"a", b"1")]);
        buf[HEADER_SIZE + 12..HEADER_SIZE + 16].copy_from_slice(&u32::MAX.to_le_bytes());
        let p = Page::parse(PageId::Inline, 0, &buf).unwrap();
        let err = p.leaf(0).unwrap_err();
        assert!(err.what.contains("leaf value"), "{}", err.what);
    }
}
