//! Restoring: writing a new etcd db (and, later, a member dir) from any source reshift
//! reads — a data dir with its WAL replayed, a db, an etcdctl snapshot, a reshift snapshot.

pub mod db;
pub mod member;
pub mod placed;
pub mod sinks;
