//! Buckets: a B+tree rooted at a file page, or a small "inline" bucket whose single leaf
//! page is stored inside its parent's value.

use super::cursor::{Cursor, Entries};
use super::db::Db;
use super::page::{BUCKET_HEADER_SIZE, LeafElem, Page, PageId, u64_at};
use crate::error::Result;

/// Deepest B+tree or bucket nesting followed before the input is called corrupt; it
/// bounds every walk, so a page cycle cannot hang a reader.
pub const MAX_DEPTH: usize = 64;

/// The file pages one walk has reached, so that each is visited at most once: a page
/// reached twice (a subtree shared by two parents, which bbolt never writes) is damage,
/// and without this check a few shared pages multiply a walk's work exponentially. A
/// bitset grown as page ids are met (ids are checked against the high-water mark first).
#[derive(Debug, Default, Clone)]
pub struct Visited(Vec<u64>);

impl Visited {
    pub fn new() -> Self {
        Visited(Vec::new())
    }

    /// Marks `page` as reached; a damage error when it already was. Inline pages (no id)
    /// are not tracked.
    pub fn visit(&mut self, db: &Db<'_>, page: &Page<'_>) -> Result<()> {
        let PageId::File(id) = page.id else {
            return Ok(());
        };
        let (w, b) = ((id / 64) as usize, id % 64);
        if w >= self.0.len() {
            self.0.resize(w + 1, 0);
        }
        if self.0[w] & (1 << b) != 0 {
            return Err(db.fault_at(
                page.offset,
                format!("page {id} reached twice: two parents share a subtree (damage)"),
            ));
        }
        self.0[w] |= 1 << b;
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Root<'a> {
    File(u64),
    Inline(Page<'a>),
}

#[derive(Debug, Clone, Copy)]
pub struct Bucket<'a> {
    db: Db<'a>,
    root: Root<'a>,
    sequence: u64,
}

impl<'a> Db<'a> {
    /// The top-level bucket whose keys are the named buckets.
    pub fn root_bucket(&self) -> Bucket<'a> {
        Bucket {
            db: *self,
            root: Root::File(self.meta().root),
            sequence: self.meta().sequence,
        }
    }

    /// The bucket at `path` (each element a bucket name, outermost first), if it exists.
    pub fn bucket(&self, path: &[&[u8]]) -> Result<Option<Bucket<'a>>> {
        let mut b = self.root_bucket();
        for name in path {
            match b.bucket(name)? {
                Some(next) => b = next,
                None => return Ok(None),
            }
        }
        Ok(Some(b))
    }
}

impl<'a> Bucket<'a> {
    /// The bucket whose header is `elem`'s value (`elem` must carry the bucket flag).
    pub fn from_elem(db: Db<'a>, elem: &LeafElem<'a>) -> Result<Bucket<'a>> {
        let v = elem.value;
        let at = db.offset_of(v);
        if v.len() < BUCKET_HEADER_SIZE {
            return Err(db.fault_at(
                at,
                format!(
                    "bucket {:?}: header needs {BUCKET_HEADER_SIZE} bytes, value has {}",
                    String::from_utf8_lossy(elem.key),
                    v.len()
                ),
            ));
        }
        let root = u64_at(v, 0);
        let sequence = u64_at(v, 8);
        let root = if root == 0 {
            let body = &v[BUCKET_HEADER_SIZE..];
            let at = at + BUCKET_HEADER_SIZE as u64;
            let page = Page::parse(PageId::Inline, at, body).map_err(|f| {
                db.fault_at(
                    at,
                    format!(
                        "inline bucket {:?}: {}",
                        String::from_utf8_lossy(elem.key),
                        f.what
                    ),
                )
            })?;
            if !page.is_leaf() {
                return Err(db.fault_at(
                    at,
                    format!(
                        "inline bucket {:?}: page flags {:#x}, expected a leaf",
                        String::from_utf8_lossy(elem.key),
                        page.flags
                    ),
                ));
            }
            Root::Inline(page)
        } else {
            Root::File(root)
        };
        Ok(Bucket { db, root, sequence })
    }

    pub fn db(&self) -> &Db<'a> {
        &self.db
    }

    pub fn root(&self) -> Root<'a> {
        self.root
    }

    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    pub fn is_inline(&self) -> bool {
        matches!(self.root, Root::Inline(_))
    }

    pub fn root_page(&self) -> Result<Page<'a>> {
        match self.root {
            Root::File(id) => self.db.tree_page(id),
            Root::Inline(p) => Ok(p),
        }
    }

    pub fn cursor(&self) -> Cursor<'a> {
        Cursor::new(*self)
    }

    /// Every entry in key order (nested buckets appear as entries with the bucket flag).
    pub fn iter(&self) -> Entries<'a> {
        Entries::all(self.cursor())
    }

    /// Entries whose key starts with `prefix`, in key order.
    pub fn prefix(&self, prefix: &'a [u8]) -> Entries<'a> {
        Entries::prefix(self.cursor(), prefix)
    }

    /// Entries with `from <= key`, in key order.
    pub fn from(&self, from: &'a [u8]) -> Entries<'a> {
        Entries::from(self.cursor(), from)
    }

    /// The element stored under exactly `key`.
    pub fn get_elem(&self, key: &[u8]) -> Result<Option<LeafElem<'a>>> {
        let mut c = self.cursor();
        Ok(c.seek(key)?.filter(|e| e.key == key))
    }

    /// The value of `key`, if present and not a bucket.
    pub fn get(&self, key: &[u8]) -> Result<Option<&'a [u8]>> {
        Ok(self
            .get_elem(key)?
            .filter(|e| !e.is_bucket())
            .map(|e| e.value))
    }

    /// The nested bucket `name`, if present.
    pub fn bucket(&self, name: &[u8]) -> Result<Option<Bucket<'a>>> {
        match self.get_elem(name)? {
            Some(e) if e.is_bucket() => Ok(Some(Bucket::from_elem(self.db, &e)?)),
            _ => Ok(None),
        }
    }

    /// Leaf pages of this bucket's tree in key order, found by walking its branch pages.
    /// Used to scan a large bucket on several cores.
    pub fn leaf_pages(&self) -> Result<Vec<Page<'a>>> {
        let root = self.root_page()?;
        let mut seen = Visited::new();
        seen.visit(&self.db, &root)?;
        let mut leaves = Vec::new();
        // Depth-first, left to right; each frame is a branch page and its next child.
        let mut stack: Vec<(Page<'a>, usize)> = Vec::new();
        if root.is_leaf() {
            leaves.push(root);
            return Ok(leaves);
        }
        stack.push((root, 0));
        while let Some((page, next)) = stack.last_mut() {
            if *next >= page.len() {
                stack.pop();
                continue;
            }
            let child_id = page
                .branch(*next)
                .map_err(|f| self.db.page_fault(page, f))?
                .child;
            *next += 1;
            let child = self.db.tree_page(child_id)?;
            seen.visit(&self.db, &child)?;
            if child.is_leaf() {
                leaves.push(child);
            } else {
                if stack.len() >= MAX_DEPTH {
                    return Err(self.db.fault_at(
                        child.offset,
                        format!(
                            "tree deeper than {MAX_DEPTH} levels at page {child_id}: a page cycle?"
                        ),
                    ));
                }
                stack.push((child, 0));
            }
        }
        Ok(leaves)
    }
}
