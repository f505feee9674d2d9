//! The `meta` bucket: the raft index the db has applied, compaction marks, and what
//! newer etcd versions add (term, conf state, storage version), each optional.

use super::buckets::Buckets;
use super::revision::parse_rev_key;
use super::schema;
use crate::error::Result;
use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct EtcdMeta {
    pub consistent_index: Option<u64>,
    pub term: Option<u64>,
    pub scheduled_compact_revision: Option<i64>,
    pub finished_compact_revision: Option<i64>,
    pub conf_state: Option<String>,
    pub storage_version: Option<String>,
}

impl EtcdMeta {
    /// The compaction etcd would consider done when it opens this db.
    pub fn compact_revision(&self) -> i64 {
        self.finished_compact_revision.unwrap_or(0)
    }
}

pub fn read_meta(db: &impl Buckets) -> Result<EtcdMeta> {
    let mut m = EtcdMeta::default();
    let u64_be = |v: &[u8], name: &str| -> Result<u64> {
        <[u8; 8]>::try_from(v).map(u64::from_be_bytes).map_err(|_| {
            db.fault(
                v,
                format!("meta/{name}: expected 8 bytes, found {}", v.len()),
            )
        })
    };
    let rev = |v: &[u8], name: &str| -> Result<i64> {
        parse_rev_key(v)
            .map(|r| r.rev.main)
            .map_err(|e| db.fault(v, format!("meta/{name}: {e}")))
    };
    if let Some(v) = db.get(schema::META, schema::CONSISTENT_INDEX)? {
        m.consistent_index = Some(u64_be(v, "consistent_index")?);
    }
    if let Some(v) = db.get(schema::META, schema::TERM)? {
        m.term = Some(u64_be(v, "term")?);
    }
    if let Some(v) = db.get(schema::META, schema::SCHEDULED_COMPACT)? {
        m.scheduled_compact_revision = Some(rev(v, "scheduledCompactRev")?);
    }
    if let Some(v) = db.get(schema::META, schema::FINISHED_COMPACT)? {
        m.finished_compact_revision = Some(rev(v, "finishedCompactRev")?);
    }
    if let Some(v) = db.get(schema::META, schema::CONF_STATE)? {
        m.conf_state = Some(String::from_utf8_lossy(v).into_owned());
    }
    if let Some(v) = db.get(schema::META, schema::STORAGE_VERSION)? {
        m.storage_version = Some(String::from_utf8_lossy(v).into_owned());
    }
    Ok(m)
}
