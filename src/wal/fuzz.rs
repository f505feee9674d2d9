//! Fuzz bodies for the WAL layer: arbitrary bytes as one segment through framing, the CRC
//! chain, the log and request decoding; and arbitrary bytes as an entry payload.

use super::{decode_payload, read_log};
use bytes::Bytes;

/// Reads `data` as the only segment of a WAL.
pub fn fuzz_wal_records(data: &[u8]) {
    let wal = super::Wal {
        dir: std::path::PathBuf::from("fuzz"),
        segments: vec![super::reader::Segment {
            name: super::segment::SegmentName {
                seq: 0,
                index: 0,
                file: "0000000000000000-0000000000000000.wal".into(),
            },
            file: std::sync::Arc::from(std::path::Path::new("fuzz.wal")),
            bytes: Bytes::copy_from_slice(data),
        }],
    };
    let log = read_log(&wal);
    for e in log.entries.iter().take(10_000) {
        std::hint::black_box(decode_payload(e.etype, &e.data).view());
    }
}

/// Decodes `data` as the payload of each entry type.
pub fn fuzz_raft_request(data: &[u8]) {
    let b = Bytes::copy_from_slice(data);
    for t in 0..3 {
        std::hint::black_box(decode_payload(t, &b).view());
    }
}
