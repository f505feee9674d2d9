//! A structural check of a bbolt file: every page reachable from the root lies inside
//! the file and the high-water mark, is referenced once, has the expected type, holds
//! sorted keys within its parent's bounds, and is not on the stored freelist; freelist
//! entries are in range and unique; no page is both unreachable and not free.

use super::bucket::{Bucket, MAX_DEPTH, Root};
use super::db::{Db, MetaState};
use super::page::{PageId, type_name};
use serde::Serialize;

/// One problem found, with the page and byte offset it concerns.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Finding {
    pub page: Option<u64>,
    pub offset: u64,
    pub what: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckReport {
    pub page_size: usize,
    pub high_water: u64,
    pub meta_in_use: u8,
    pub reachable_pages: u64,
    pub free_pages: u64,
    /// Whether the freelist is stored in the file (etcd may run bbolt without it).
    pub freelist_stored: bool,
    pub findings: Vec<Finding>,
}

impl CheckReport {
    pub fn ok(&self) -> bool {
        self.findings.is_empty()
    }
}

/// A compact set of page ids.
struct PageSet(Vec<u64>);

impl PageSet {
    fn new(n: u64) -> Self {
        PageSet(vec![0; n.div_ceil(64) as usize])
    }
    /// Inserts `id`; false when it was already present.
    fn insert(&mut self, id: u64) -> bool {
        let (w, b) = ((id / 64) as usize, id % 64);
        let had = self.0[w] & (1 << b) != 0;
        self.0[w] |= 1 << b;
        !had
    }
    fn contains(&self, id: u64) -> bool {
        self.0[(id / 64) as usize] & (1 << (id % 64)) != 0
    }
}

struct Checker<'a> {
    db: Db<'a>,
    /// Pages below this bound exist in the file and under the high-water mark.
    limit: u64,
    reached: PageSet,
    report: CheckReport,
}

impl Checker<'_> {
    fn find(&mut self, page: Option<u64>, offset: u64, what: impl Into<String>) {
        // Bound the report: a file of garbage must not produce millions of lines.
        if self.report.findings.len() < 10_000 {
            self.report.findings.push(Finding {
                page,
                offset,
                what: what.into(),
            });
        }
    }

    /// Claims pages `id ..= id + overflow` as reachable; false if any is out of range or
    /// already claimed.
    fn claim(&mut self, id: u64, overflow: u64, by: &str) -> bool {
        let ps = self.db.page_size() as u64;
        let end = id.checked_add(overflow);
        if id < 2 || end.is_none_or(|e| e >= self.limit) {
            self.find(
                Some(id),
                id.saturating_mul(ps),
                format!(
                    "{by} references page {id} (+{overflow} overflow), outside the pages 2..{}",
                    self.limit
                ),
            );
            return false;
        }
        for p in id..=id + overflow {
            if !self.reached.insert(p) {
                self.find(
                    Some(p),
                    p * ps,
                    format!("page {p} referenced more than once (again by {by})"),
                );
                return false;
            }
        }
        self.report.reachable_pages += overflow + 1;
        true
    }

    fn check_bucket(&mut self, b: Bucket<'_>, name: &[u8], nesting: usize) {
        let label = format!("bucket {:?}", String::from_utf8_lossy(name));
        match b.root() {
            Root::File(id) => self.check_tree(id, &label, nesting, None, None, 0),
            Root::Inline(p) => self.check_leaf_entries(p, &label, nesting, None, None),
        }
    }

    fn check_tree(
        &mut self,
        id: u64,
        by: &str,
        nesting: usize,
        lo: Option<&[u8]>,
        hi: Option<&[u8]>,
        depth: usize,
    ) {
        let ps = self.db.page_size() as u64;
        if depth >= MAX_DEPTH {
            self.find(
                Some(id),
                id * ps,
                format!("{by}: tree deeper than {MAX_DEPTH} levels"),
            );
            return;
        }
        if id >= self.limit || id < 2 {
            self.claim(id, 0, by);
            return;
        }
        let page = match self.db.page(id) {
            Ok(p) => p,
            Err(e) => {
                self.find(Some(id), id * ps, e.to_string());
                return;
            }
        };
        if !self.claim(id, u64::from(page.overflow), by) {
            return;
        }
        if page.is_leaf() {
            self.check_leaf_entries(page, by, nesting, lo, hi);
        } else if page.is_branch() {
            if page.is_empty() {
                self.find(
                    Some(id),
                    page.offset,
                    format!("{by}: branch page {id} is empty"),
                );
            }
            let mut prev: Option<&[u8]> = None;
            for i in 0..page.len() {
                let e = match page.branch(i) {
                    Ok(e) => e,
                    Err(f) => {
                        self.find(Some(id), page.offset + f.at as u64, f.what);
                        return;
                    }
                };
                self.key_order(id, page.offset, i, e.key, prev, lo, hi, by);
                let next_key = if i + 1 < page.len() {
                    page.branch(i + 1).ok().map(|n| n.key)
                } else {
                    hi
                };
                // The first child inherits the parent's lower bound: keys >= lo.
                let child_lo = if i == 0 {
                    lo.or(Some(e.key))
                } else {
                    Some(e.key)
                };
                self.check_tree(e.child, by, nesting, child_lo, next_key, depth + 1);
                prev = Some(e.key);
            }
        } else {
            self.find(
                Some(id),
                page.offset,
                format!(
                    "{by}: page {id} is a {} page ({:#x}), expected branch or leaf",
                    type_name(page.flags),
                    page.flags
                ),
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn key_order(
        &mut self,
        id: u64,
        offset: u64,
        i: usize,
        key: &[u8],
        prev: Option<&[u8]>,
        lo: Option<&[u8]>,
        hi: Option<&[u8]>,
        by: &str,
    ) {
        if prev.is_some_and(|p| p >= key) {
            self.find(
                Some(id),
                offset,
                format!("{by}: page {id} element {i}: keys not strictly increasing"),
            );
        }
        if lo.is_some_and(|l| key < l) || hi.is_some_and(|h| key >= h) {
            self.find(
                Some(id),
                offset,
                format!("{by}: page {id} element {i}: key outside the range its parent gives"),
            );
        }
    }

    fn check_leaf_entries(
        &mut self,
        page: super::page::Page<'_>,
        by: &str,
        nesting: usize,
        lo: Option<&[u8]>,
        hi: Option<&[u8]>,
    ) {
        let id = match page.id {
            PageId::File(id) => Some(id),
            PageId::Inline => None,
        };
        let mut prev: Option<&[u8]> = None;
        for i in 0..page.len() {
            let e = match page.leaf(i) {
                Ok(e) => e,
                Err(f) => {
                    self.find(id, page.offset + f.at as u64, format!("{by}: {}", f.what));
                    return;
                }
            };
            self.key_order(id.unwrap_or(0), page.offset, i, e.key, prev, lo, hi, by);
            prev = Some(e.key);
            if e.is_bucket() {
                if nesting + 1 >= MAX_DEPTH {
                    self.find(
                        id,
                        page.offset,
                        format!("{by}: buckets nested deeper than {MAX_DEPTH}"),
                    );
                    continue;
                }
                match Bucket::from_elem(self.db, &e) {
                    Ok(child) => self.check_bucket(child, e.key, nesting + 1),
                    Err(err) => self.find(id, page.offset, err.to_string()),
                }
            }
        }
    }

    fn check_freelist(&mut self) {
        let meta = *self.db.meta();
        let ps = self.db.page_size() as u64;
        self.report.freelist_stored = meta.has_freelist();
        if !meta.has_freelist() {
            // Without a stored freelist every unreachable page is free.
            self.report.free_pages = self.limit.saturating_sub(2 + self.report.reachable_pages);
            return;
        }
        let page = match self.db.page(meta.freelist) {
            Ok(p) => p,
            Err(e) => {
                self.find(
                    Some(meta.freelist),
                    meta.freelist.saturating_mul(ps),
                    e.to_string(),
                );
                return;
            }
        };
        if page.flags != super::page::FREELIST {
            self.find(
                Some(meta.freelist),
                page.offset,
                format!(
                    "freelist page {} is a {} page",
                    meta.freelist,
                    type_name(page.flags)
                ),
            );
            return;
        }
        if !self.claim(
            meta.freelist,
            u64::from(page.overflow),
            "the meta's freelist",
        ) {
            return;
        }
        let ids = match page.freelist_ids() {
            Ok(ids) => ids,
            Err(f) => {
                self.find(Some(meta.freelist), page.offset + f.at as u64, f.what);
                return;
            }
        };
        let mut free = PageSet::new(self.limit);
        for fid in ids {
            if fid < 2 || fid >= self.limit {
                self.find(
                    Some(meta.freelist),
                    page.offset,
                    format!("freelist holds page {fid}, outside 2..{}", self.limit),
                );
            } else if self.reached.contains(fid) {
                self.find(
                    Some(fid),
                    fid * ps,
                    format!("page {fid} is both in use and on the freelist"),
                );
            } else if !free.insert(fid) {
                self.find(
                    Some(fid),
                    fid * ps,
                    format!("page {fid} is on the freelist twice"),
                );
            } else {
                self.report.free_pages += 1;
            }
        }
        for p in 2..self.limit {
            if !self.reached.contains(p) && !free.contains(p) {
                self.find(
                    Some(p),
                    p * ps,
                    format!("page {p} is neither reachable nor free"),
                );
            }
        }
    }
}

/// Checks the structure of `db`. Faults in the meta page not in use are findings too.
pub fn check(db: &Db<'_>) -> CheckReport {
    let meta = *db.meta();
    let ps = db.page_size() as u64;
    let file_pages = db.data().len() as u64 / ps;
    let (in_use, metas) = db.metas();
    let mut c = Checker {
        db: *db,
        limit: meta.high_water.min(file_pages),
        reached: PageSet::new(meta.high_water.min(file_pages)),
        report: CheckReport {
            page_size: db.page_size(),
            high_water: meta.high_water,
            meta_in_use: in_use,
            ..Default::default()
        },
    };
    for (i, m) in metas.iter().enumerate() {
        if let MetaState::Invalid(f) = m {
            c.find(Some(i as u64), i as u64 * ps, format!("meta page {i}: {f}"));
        }
    }
    if file_pages < meta.high_water {
        c.find(
            None,
            db.data().len() as u64,
            format!(
                "file has {} bytes, the high-water mark needs {} pages of {ps}: file truncated",
                db.data().len(),
                meta.high_water
            ),
        );
    }
    c.check_bucket(db.root_bucket(), b"", 0);
    c.check_freelist();
    c.report
}
