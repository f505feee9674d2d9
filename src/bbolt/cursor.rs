//! A zero-copy cursor over one bucket's B+tree: keys and values are slices of the map.

use super::bucket::{Bucket, MAX_DEPTH, Visited};
use super::page::{LeafElem, Page};
use crate::error::Result;
use std::cmp::Ordering;

#[derive(Debug, Clone, Copy)]
struct Frame<'a> {
    page: Page<'a>,
    index: usize,
}

/// Walks a bucket's entries in key order. Positions are only valid for the life of the map.
pub struct Cursor<'a> {
    bucket: Bucket<'a>,
    stack: Vec<Frame<'a>>,
    /// The pages an iteration has reached (from its first step on; a lookup, one path
    /// down, needs none).
    visited: Option<Visited>,
}

impl<'a> Cursor<'a> {
    pub fn new(bucket: Bucket<'a>) -> Self {
        Cursor {
            bucket,
            stack: Vec::with_capacity(8),
            visited: None,
        }
    }

    fn push(&mut self, page: Page<'a>, index: usize) -> Result<()> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(self.bucket.db().fault_at(
                page.offset,
                format!("tree deeper than {MAX_DEPTH} levels: a page cycle?"),
            ));
        }
        self.stack.push(Frame { page, index });
        Ok(())
    }

    fn child_of(&self, f: &Frame<'a>) -> Result<Page<'a>> {
        let db = self.bucket.db();
        let e = f
            .page
            .branch(f.index)
            .map_err(|x| db.page_fault(&f.page, x))?;
        db.tree_page(e.child)
    }

    /// From the top frame, follows first children down to a leaf.
    fn descend_first(&mut self) -> Result<()> {
        loop {
            let top = *self.stack.last().expect("descend from a frame");
            if top.page.is_leaf() {
                return Ok(());
            }
            let child = self.child_of(&top)?;
            if let Some(v) = &mut self.visited {
                v.visit(self.bucket.db(), &child)?;
            }
            self.push(child, 0)?;
        }
    }

    fn current(&self) -> Result<Option<LeafElem<'a>>> {
        let Some(top) = self.stack.last() else {
            return Ok(None);
        };
        if top.index >= top.page.len() {
            return Ok(None);
        }
        top.page
            .leaf(top.index)
            .map(Some)
            .map_err(|f| self.bucket.db().page_fault(&top.page, f))
    }

    /// Positions at the first entry.
    pub fn first(&mut self) -> Result<Option<LeafElem<'a>>> {
        self.stack.clear();
        self.visited = None;
        let root = self.bucket.root_page()?;
        self.push(root, 0)?;
        self.descend_first()?;
        if self.stack.last().is_some_and(|f| f.page.is_empty()) {
            return self.next_entry();
        }
        self.current()
    }

    /// Moves to the next entry. After the last one (or before any positioning) it returns
    /// `None` and stays there.
    pub fn next_entry(&mut self) -> Result<Option<LeafElem<'a>>> {
        if self.visited.is_none() {
            // An iteration starts here: the pages on the current path are reached.
            let mut v = Visited::new();
            for f in &self.stack {
                v.visit(self.bucket.db(), &f.page)?;
            }
            self.visited = Some(v);
        }
        loop {
            // The deepest frame that still has an element to its right.
            let Some(i) = self.stack.iter().rposition(|f| f.index + 1 < f.page.len()) else {
                self.stack.clear();
                return Ok(None);
            };
            self.stack.truncate(i + 1);
            self.stack[i].index += 1;
            self.descend_first()?;
            // Skip empty leaves (possible only in a damaged or unusual file).
            if self.stack.last().is_some_and(|f| !f.page.is_empty()) {
                return self.current();
            }
        }
    }

    /// The last entry, found by following last children down (no iteration: the cursor
    /// is left unpositioned). `None` for an empty bucket, or when the rightmost leaf is
    /// empty (possible only in a damaged or unusual file; the caller then scans).
    pub fn last(&mut self) -> Result<Option<LeafElem<'a>>> {
        self.stack.clear();
        self.visited = None;
        let mut page = self.bucket.root_page()?;
        loop {
            if page.is_empty() {
                self.stack.clear();
                return Ok(None);
            }
            self.push(page, page.len() - 1)?;
            if page.is_leaf() {
                let e = self.current();
                self.stack.clear();
                return e;
            }
            let top = *self.stack.last().expect("just pushed");
            page = self.child_of(&top)?;
        }
    }

    /// Positions at the first entry whose key is `>= key`.
    pub fn seek(&mut self, key: &[u8]) -> Result<Option<LeafElem<'a>>> {
        self.stack.clear();
        self.visited = None;
        let db = *self.bucket.db();
        let mut page = self.bucket.root_page()?;
        loop {
            // First index whose key is >= the sought key.
            let (mut lo, mut hi) = (0usize, page.len());
            let mut exact = false;
            while lo < hi {
                let mid = (lo + hi) / 2;
                let k = page.key(mid).map_err(|f| db.page_fault(&page, f))?;
                match k.cmp(key) {
                    Ordering::Less => lo = mid + 1,
                    Ordering::Equal => {
                        lo = mid;
                        exact = true;
                        break;
                    }
                    Ordering::Greater => hi = mid,
                }
            }
            if page.is_leaf() {
                self.push(page, lo)?;
                if lo >= page.len() {
                    return self.next_entry();
                }
                return self.current();
            }
            // In a branch the child holding `key` is the last one whose first key <= key.
            let idx = if exact || lo == 0 { lo } else { lo - 1 };
            self.push(page, idx)?;
            let top = *self.stack.last().expect("just pushed");
            page = self.child_of(&top)?;
        }
    }
}

enum Start<'a> {
    First,
    Seek(&'a [u8]),
}

/// An iterator over a bucket's entries, optionally bounded by a key prefix. An error ends
/// the iteration after it is yielded.
pub struct Entries<'a> {
    cursor: Cursor<'a>,
    start: Option<Start<'a>>,
    prefix: Option<&'a [u8]>,
    done: bool,
}

impl<'a> Entries<'a> {
    pub(crate) fn all(cursor: Cursor<'a>) -> Self {
        Entries {
            cursor,
            start: Some(Start::First),
            prefix: None,
            done: false,
        }
    }

    pub(crate) fn prefix(cursor: Cursor<'a>, prefix: &'a [u8]) -> Self {
        Entries {
            cursor,
            start: Some(Start::Seek(prefix)),
            prefix: Some(prefix),
            done: false,
        }
    }

    pub(crate) fn from(cursor: Cursor<'a>, from: &'a [u8]) -> Self {
        Entries {
            cursor,
            start: Some(Start::Seek(from)),
            prefix: None,
            done: false,
        }
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<LeafElem<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = match self.start.take() {
            Some(Start::First) => self.cursor.first(),
            Some(Start::Seek(k)) => self.cursor.seek(k),
            None => self.cursor.next_entry(),
        };
        match r {
            Ok(Some(e)) if self.prefix.is_none_or(|p| e.key.starts_with(p)) => Some(Ok(e)),
            Ok(_) => {
                self.done = true;
                None
            }
            Err(err) => {
                self.done = true;
                Some(Err(err))
            }
        }
    }
}
