//! A read-only reader of bbolt files, the B+tree store behind etcd's `member/snap/db`.
//!
//! [`Db::open`] reads both meta pages and uses the valid one with the higher txid; pages
//! are borrowed from the caller's bytes (normally a read-only map), so keys and values
//! are returned as slices without copying. Every length read from the file is checked
//! before use; a damaged file gives an [`Error::Corrupt`](crate::Error::Corrupt) naming
//! the offset, and every walk is depth-bounded.

mod bucket;
mod check;
mod cursor;
mod db;
pub mod fuzz;
pub mod meta;
pub mod page;
mod stats;
pub mod writer;

pub use bucket::{Bucket, MAX_DEPTH, Root};
pub use check::{CheckReport, Finding, check};
pub use cursor::{Cursor, Entries};
pub use db::{Db, MetaState};
pub use meta::Meta;
pub use page::{LeafElem, Page, PageId};
pub use stats::{BucketStats, bucket_stats};
