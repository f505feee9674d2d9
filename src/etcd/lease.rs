//! The `lease` bucket: key = lease ID as 8-byte big-endian, value = leasepb.Lease.

use super::buckets::Buckets;
use super::schema;
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

pub fn read_leases(db: &impl Buckets) -> Result<Vec<LeaseInfo>> {
    let mut out = Vec::new();
    for (key, value) in db.entries(schema::LEASE)? {
        let l = leasepb::Lease::decode(value)
            .map_err(|err| db.fault(value, format!("lease bucket: leasepb.Lease: {err}")))?;
        let key_id = <[u8; 8]>::try_from(key)
            .map(i64::from_be_bytes)
            .map_err(|_| {
                db.fault(
                    key,
                    format!("lease bucket: key of {} bytes, expected 8", key.len()),
                )
            })?;
        if key_id != l.id {
            return Err(db.fault(
                key,
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
