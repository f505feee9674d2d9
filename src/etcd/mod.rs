//! etcd's schema on the bbolt file: revision keys and mvccpb.KeyValue records in `key`,
//! applied index and compaction marks in `meta`, and the other buckets etcd keeps.

pub mod auth;
pub mod authz;
pub mod buckets;
pub mod cluster;
pub mod conf;
pub mod diff;
pub mod hash;
pub mod inspect;
pub mod json;
pub mod keyspace;
pub mod kv;
pub mod lease;
pub mod meta;
pub mod open;
pub mod quorum;
pub mod replay;
pub mod revision;
pub mod schema;
pub mod schema_check;
pub mod skipped;
pub mod verify;

pub use keyspace::{Keyspace, RevRecord};
pub use kv::KeyValueRef;
pub use meta::{EtcdMeta, read_meta};
pub use revision::{RevKey, Revision, parse_rev_key};
