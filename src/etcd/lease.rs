//! The `lease` bucket: key = lease ID as 8-byte big-endian, value = leasepb.Lease.

use super::schema;
use crate::bbolt::Db;
use crate::error::Result;
use crate::pb::leasepb;
use prost::Message;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeaseInfo {
    pub id: i64,
    /// The granted TTL in seconds.
    pub ttl: i64,
    /// The remaining TTL checkpointed by etcd (0 when never checkpointed).
    pub remaining_ttl: i64,
}

pub fn read_leases(db: &Db<'_>) -> Result<Vec<LeaseInfo>> {
    let Some(b) = db.bucket(&[schema::LEASE])? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for e in b.iter() {
        let e = e?;
        let l = leasepb::Lease::decode(e.value).map_err(|err| {
            db.fault_at(
                db.offset_of(e.value),
                format!("lease bucket: leasepb.Lease: {err}"),
            )
        })?;
        let key_id = <[u8; 8]>::try_from(e.key)
            .map(i64::from_be_bytes)
            .map_err(|_| {
                db.fault_at(
                    db.offset_of(e.key),
                    format!("lease bucket: key of {} bytes, expected 8", e.key.len()),
                )
            })?;
        if key_id != l.id {
            return Err(db.fault_at(
                db.offset_of(e.key),
                format!(
                    "lease bucket: key says lease {key_id:x}, value says {:x}",
                    l.id
                ),
            ));
        }
        out.push(LeaseInfo {
            id: l.id,
            ttl: l.ttl,
            remaining_ttl: l.remaining_ttl,
        });
    }
    Ok(out)
}
