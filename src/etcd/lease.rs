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

/// Every lease. A damaged record (a value that does not decode, a key that is not the
/// value's ID) is skipped and noted in [`super::skipped`]; the others are returned.
pub fn read_leases(db: &impl Buckets) -> Result<Vec<LeaseInfo>> {
    let mut out = Vec::new();
    for (key, value) in db.entries(schema::LEASE)? {
        if let Err(why) = super::schema_check::lease_record(key, value) {
            super::skipped::skip(format!("lease bucket: {}", db.fault(key, why)));
            continue;
        }
        let l = leasepb::Lease::decode(value)
            .map_err(|err| db.fault(value, format!("lease bucket: leasepb.Lease: {err}")))?;
        out.push(LeaseInfo {
            id: l.id,
            ttl: l.ttl,
            remaining_ttl: l.remaining_ttl,
        });
    }
    Ok(out)
}
