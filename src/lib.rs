//! reshift reads an etcd member's files — the bbolt `db`, the WAL and `snap` files —
//! straight off disk, with no etcd running.
//!
//! Layers, bottom up: [`bbolt`] (the B+tree file), [`etcd`] (etcd's schema on it),
//! [`wal`] (the write-ahead log and snap files). The command-line interface in
//! [`cli`] only parses arguments and prints what these return.

pub mod bbolt;
pub mod cli;
pub mod display;
pub mod error;
pub mod etcd;
pub mod fasthash;
pub mod k8s;
pub mod live;
pub mod mapped;
pub mod pb;
pub mod restore;
pub mod serve;
pub mod snapshot;
pub mod source;
pub mod space;
pub mod tempout;
pub mod wal;
pub mod wire;
pub mod writeback;

pub use error::{Error, Result};
