//! Names of the buckets etcd keeps in its bbolt file, and of the keys in `meta`.

pub const KEY: &[u8] = b"key";
pub const META: &[u8] = b"meta";
pub const LEASE: &[u8] = b"lease";
pub const MEMBERS: &[u8] = b"members";
pub const MEMBERS_REMOVED: &[u8] = b"members_removed";
pub const CLUSTER: &[u8] = b"cluster";
pub const AUTH: &[u8] = b"auth";
pub const AUTH_USERS: &[u8] = b"authUsers";
pub const AUTH_ROLES: &[u8] = b"authRoles";
pub const ALARM: &[u8] = b"alarm";

pub const CONSISTENT_INDEX: &[u8] = b"consistent_index";
/// Added by etcd 3.5: the raft term of the consistent index.
pub const TERM: &[u8] = b"term";
pub const SCHEDULED_COMPACT: &[u8] = b"scheduledCompactRev";
pub const FINISHED_COMPACT: &[u8] = b"finishedCompactRev";
/// Added by etcd 3.5: the raft configuration as JSON.
pub const CONF_STATE: &[u8] = b"confState";
/// Added by etcd 3.6.
pub const STORAGE_VERSION: &[u8] = b"storageVersion";
