//! Per-bucket counts and sizes: entries, pages by type, and bytes allocated versus used.

use super::bucket::{Bucket, MAX_DEPTH, Root, Visited};
use super::page::Page;
use crate::error::Result;
use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct BucketStats {
    /// The bucket's name (lossy UTF-8); empty for the root.
    pub name: String,
    /// Key/value entries directly in this bucket (nested buckets not counted).
    pub keys: u64,
    /// Nested buckets directly in this bucket.
    pub buckets: u64,
    pub inline: bool,
    /// Levels of the B+tree (1 for a single leaf).
    pub depth: u32,
    pub branch_pages: u64,
    pub leaf_pages: u64,
    pub overflow_pages: u64,
    pub key_bytes: u64,
    pub value_bytes: u64,
    /// Bytes of file pages the tree occupies (0 for an inline bucket).
    pub bytes_allocated: u64,
    /// Bytes of those pages holding headers, elements, keys and values.
    pub bytes_used: u64,
    pub children: Vec<BucketStats>,
}

impl BucketStats {
    /// Entries in this bucket and every bucket below it.
    pub fn total_keys(&self) -> u64 {
        self.keys
            + self
                .children
                .iter()
                .map(BucketStats::total_keys)
                .sum::<u64>()
    }
}

/// Statistics of `bucket` and, recursively, its nested buckets.
pub fn bucket_stats(bucket: &Bucket<'_>, name: &[u8]) -> Result<BucketStats> {
    // One walk over every nested bucket: a page shared by two buckets is damage too.
    stats_at(bucket, name, 0, &mut Visited::new())
}

fn stats_at(
    bucket: &Bucket<'_>,
    name: &[u8],
    nesting: usize,
    seen: &mut Visited,
) -> Result<BucketStats> {
    let db = *bucket.db();
    let mut s = BucketStats {
        name: String::from_utf8_lossy(name).into_owned(),
        inline: bucket.is_inline(),
        ..Default::default()
    };
    let mut stack: Vec<(Page<'_>, u32)> = vec![(bucket.root_page()?, 1)];
    while let Some((page, level)) = stack.pop() {
        if level as usize > MAX_DEPTH {
            return Err(db.fault_at(page.offset, format!("tree deeper than {MAX_DEPTH} levels")));
        }
        seen.visit(&db, &page)?;
        s.depth = s.depth.max(level);
        let fault = |f| db.page_fault(&page, f);
        s.bytes_used += page.used_bytes().map_err(fault)? as u64;
        if !matches!(bucket.root(), Root::Inline(_)) {
            s.bytes_allocated += (u64::from(page.overflow) + 1) * db.page_size() as u64;
            s.overflow_pages += u64::from(page.overflow);
        }
        if page.is_branch() {
            s.branch_pages += 1;
            for i in 0..page.len() {
                let child = page.branch(i).map_err(fault)?.child;
                stack.push((db.tree_page(child)?, level + 1));
            }
            continue;
        }
        s.leaf_pages += 1;
        for i in 0..page.len() {
            let e = page.leaf(i).map_err(fault)?;
            if e.is_bucket() {
                if nesting + 1 >= MAX_DEPTH {
                    return Err(db.fault_at(page.offset, "buckets nested too deeply"));
                }
                s.buckets += 1;
                let child = Bucket::from_elem(db, &e)?;
                s.children.push(stats_at(&child, e.key, nesting + 1, seen)?);
            } else {
                s.keys += 1;
                s.key_bytes += e.key.len() as u64;
                s.value_bytes += e.value.len() as u64;
            }
        }
    }
    s.children.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(s)
}
