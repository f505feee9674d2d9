//! A read-only bbolt database over a byte slice (normally a read-only map of the file).

use super::meta::{Meta, MetaFault};
use super::page::{HEADER_SIZE, Page, PageFault, PageId};
use crate::error::{Error, FileName, Result};

/// The outcome of reading one meta page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaState {
    Valid(Meta),
    Invalid(MetaFault),
}

/// A bbolt database. `Copy`: it borrows the bytes and the file name.
#[derive(Debug, Clone, Copy)]
pub struct Db<'a> {
    data: &'a [u8],
    file: &'a FileName,
    page_size: usize,
    meta: Meta,
    /// Which meta page (0 or 1) is in use.
    meta_page: u8,
    metas: [MetaState; 2],
}

/// Page sizes tried, in order, to find meta page 1 when meta page 0 is unreadable.
const PAGE_SIZE_GUESSES: [usize; 8] = [4096, 512, 1024, 2048, 8192, 16384, 32768, 65536];

impl<'a> Db<'a> {
    /// Reads both meta pages and picks the valid one with the higher txid. Fails when
    /// neither is valid, naming both faults.
    pub fn open(data: &'a [u8], file: &'a FileName) -> Result<Db<'a>> {
        if data.is_empty() {
            return Err(Error::corrupt(
                file,
                0,
                "empty file: expected a bbolt database",
            ));
        }
        let m0 = meta_at(data, 0);
        // Page 1 sits one page in; its size comes from meta 0 when that is readable.
        let m1 = match m0 {
            MetaState::Valid(m) => meta_at(data, m.page_size as usize),
            MetaState::Invalid(_) => PAGE_SIZE_GUESSES
                .iter()
                .map(|&ps| (ps, meta_at(data, ps)))
                .find(|(ps, s)| matches!(s, MetaState::Valid(m) if m.page_size as usize == *ps))
                .map_or_else(|| meta_at(data, 4096), |(_, s)| s),
        };
        let metas = [m0, m1];
        let (meta, meta_page) = match (m0, m1) {
            (MetaState::Valid(a), MetaState::Valid(b)) if b.txid > a.txid => (b, 1),
            (MetaState::Valid(a), _) => (a, 0),
            (MetaState::Invalid(_), MetaState::Valid(b)) => (b, 1),
            (MetaState::Invalid(f0), MetaState::Invalid(f1)) => {
                return Err(Error::corrupt(
                    file,
                    0,
                    format!("not a bbolt database: meta page 0: {f0}; meta page 1: {f1}"),
                ));
            }
        };
        let db = Db {
            data,
            file,
            page_size: meta.page_size as usize,
            meta,
            meta_page,
            metas,
        };
        if meta.root < 2 || meta.root >= meta.high_water {
            return Err(db.fault_at(
                u64::from(meta_page) * meta.page_size as u64,
                format!(
                    "meta page {meta_page}: root page {} outside 2..{}",
                    meta.root, meta.high_water
                ),
            ));
        }
        Ok(db)
    }

    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    pub fn file(&self) -> &'a FileName {
        self.file
    }

    pub fn page_size(&self) -> usize {
        self.page_size
    }

    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    /// Which meta page is in use (0 or 1), and the state of both.
    pub fn metas(&self) -> (u8, [MetaState; 2]) {
        (self.meta_page, self.metas)
    }

    /// Bytes of the file the database uses: high-water page count times page size.
    pub fn used_size(&self) -> u64 {
        self.meta.high_water.saturating_mul(self.page_size as u64)
    }

    pub(crate) fn fault_at(&self, offset: u64, what: impl std::fmt::Display) -> Error {
        Error::corrupt(self.file, offset, what)
    }

    /// Turns a fault inside `page` into a crate error naming the file and offset.
    pub(crate) fn page_fault(&self, page: &Page<'_>, f: PageFault) -> Error {
        let where_ = match page.id {
            PageId::File(id) => format!("page {id}"),
            PageId::Inline => "inline bucket page".to_string(),
        };
        self.fault_at(page.offset + f.at as u64, format!("{where_}: {}", f.what))
    }

    /// Offset of a slice that lies inside the mapped file.
    pub(crate) fn offset_of(&self, s: &[u8]) -> u64 {
        (s.as_ptr() as usize).wrapping_sub(self.data.as_ptr() as usize) as u64
    }

    /// The file page `id` with its overflow pages, checked to lie inside the high-water
    /// mark and the file, and to carry its own id in its header.
    pub fn page(&self, id: u64) -> Result<Page<'a>> {
        let ps = self.page_size as u64;
        if id >= self.meta.high_water {
            return Err(self.fault_at(
                id.saturating_mul(ps),
                format!(
                    "page {id} referenced beyond the high-water mark {}",
                    self.meta.high_water
                ),
            ));
        }
        let offset = id * ps;
        let len = self.data.len() as u64;
        if offset + HEADER_SIZE as u64 > len {
            return Err(self.fault_at(
                offset,
                format!("page {id} lies beyond the end of the file ({len} bytes): file truncated?"),
            ));
        }
        let head = Page::parse(PageId::File(id), offset, &self.data[offset as usize..])
            .map_err(|f| self.fault_at(offset, f.what))?;
        let span = (u64::from(head.overflow) + 1) * ps;
        if offset + span > len || id + u64::from(head.overflow) >= self.meta.high_water {
            return Err(self.fault_at(
                offset,
                format!(
                    "page {id} with {} overflow pages runs past the end of the file ({len} bytes) or the high-water mark",
                    head.overflow
                ),
            ));
        }
        let page = Page {
            data: &self.data[offset as usize..(offset + span) as usize],
            ..head
        };
        if page.stored_id() != id {
            return Err(self.fault_at(
                offset,
                format!("page {id} header says it is page {}", page.stored_id()),
            ));
        }
        Ok(page)
    }

    /// A tree page (branch or leaf) of a bucket.
    pub fn tree_page(&self, id: u64) -> Result<Page<'a>> {
        let p = self.page(id)?;
        if !p.is_branch() && !p.is_leaf() {
            return Err(self.fault_at(
                p.offset,
                format!(
                    "page {id} is a {} page ({:#x}) where a branch or leaf page was expected",
                    super::page::type_name(p.flags),
                    p.flags
                ),
            ));
        }
        if p.is_branch() && p.is_empty() {
            return Err(self.fault_at(p.offset, format!("branch page {id} has no elements")));
        }
        Ok(p)
    }
}

fn meta_at(data: &[u8], offset: usize) -> MetaState {
    match data.get(offset..) {
        Some(page) => match Meta::parse(page) {
            Ok(m) => MetaState::Valid(m),
            Err(f) => MetaState::Invalid(f),
        },
        None => MetaState::Invalid(MetaFault::Truncated { have: 0 }),
    }
}
