//! Writing a new WAL segment: records framed and padded to 8 bytes, each carrying the
//! running CRC-32C, starting with a crc record — what etcd reads back.

use super::record::{CRC, ENTRY, METADATA, SNAPSHOT, STATE};
use crate::wire::put_varint;

/// A segment being built in memory.
#[derive(Default)]
pub struct SegmentWriter {
    pub bytes: Vec<u8>,
    crc: u32,
}

fn field_varint(out: &mut Vec<u8>, field: u64, v: u64) {
    put_varint(out, field << 3);
    put_varint(out, v);
}

fn field_bytes(out: &mut Vec<u8>, field: u64, b: &[u8]) {
    put_varint(out, (field << 3) | 2);
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

impl SegmentWriter {
    /// A new first segment: the crc record, the member's metadata and an empty snapshot
    /// marker, as etcd begins a WAL.
    pub fn new(node_id: u64, cluster_id: u64) -> Self {
        let mut w = SegmentWriter::default();
        w.record(CRC, None);
        let mut md = Vec::new();
        field_varint(&mut md, 1, node_id);
        field_varint(&mut md, 2, cluster_id);
        w.record(METADATA, Some(&md));
        w.snapshot(0, 0);
        w
    }

    fn record(&mut self, rtype: i64, data: Option<&[u8]>) {
        let mut rec = Vec::new();
        if let Some(d) = data {
            self.crc = crc32c::crc32c_append(self.crc, d);
        }
        field_varint(&mut rec, 1, rtype as u64);
        field_varint(&mut rec, 2, u64::from(self.crc));
        if let Some(d) = data {
            field_bytes(&mut rec, 3, d);
        }
        let pad = (8 - rec.len() % 8) % 8;
        let mut word = rec.len() as u64;
        if pad > 0 {
            word |= (0x80 | pad as u64) << 56;
        }
        self.bytes.extend_from_slice(&word.to_le_bytes());
        self.bytes.extend_from_slice(&rec);
        self.bytes.resize(self.bytes.len() + pad, 0);
    }

    pub fn snapshot(&mut self, index: u64, term: u64) {
        let mut s = Vec::new();
        field_varint(&mut s, 1, index);
        field_varint(&mut s, 2, term);
        self.record(SNAPSHOT, Some(&s));
    }

    /// A raft entry of type `etype` (0 normal, 1 conf change).
    pub fn entry(&mut self, term: u64, index: u64, etype: u64, data: &[u8]) {
        let mut e = Vec::new();
        field_varint(&mut e, 1, etype);
        field_varint(&mut e, 2, term);
        field_varint(&mut e, 3, index);
        field_bytes(&mut e, 4, data);
        self.record(ENTRY, Some(&e));
    }

    pub fn hard_state(&mut self, term: u64, vote: u64, commit: u64) {
        let mut h = Vec::new();
        field_varint(&mut h, 1, term);
        field_varint(&mut h, 2, vote);
        field_varint(&mut h, 3, commit);
        self.record(STATE, Some(&h));
    }
}

/// An encoded raft ConfChange adding `node_id` with `context`.
pub fn add_node(node_id: u64, context: &[u8]) -> Vec<u8> {
    let mut c = Vec::new();
    field_varint(&mut c, 1, 0);
    field_varint(&mut c, 2, 0);
    field_varint(&mut c, 3, node_id);
    field_bytes(&mut c, 4, context);
    c
}
