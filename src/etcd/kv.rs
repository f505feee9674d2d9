//! mvccpb.KeyValue, decoded without copying: the value of every revision key.
//! Fields: 1 key (bytes), 2 create_revision, 3 mod_revision, 4 version, 5 value (bytes),
//! 6 lease (all int64 varints).

use crate::wire::put_varint;
use crate::wire::{Fields, Value, WireError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyValueRef<'a> {
    pub key: &'a [u8],
    pub create_revision: i64,
    pub mod_revision: i64,
    pub version: i64,
    pub value: &'a [u8],
    pub lease: i64,
}

impl<'a> KeyValueRef<'a> {
    /// Decodes an encoded KeyValue. Unknown fields are skipped; a field of the wrong wire
    /// type is an error.
    pub fn decode(buf: &'a [u8]) -> Result<Self, WireError> {
        let mut kv = KeyValueRef::default();
        let mut f = Fields::new(buf);
        while let Some(r) = f.next() {
            let at = f.position();
            let wrong = WireError {
                offset: at,
                what: "KeyValue field has the wrong wire type",
            };
            match r? {
                (1, Value::Bytes(b)) => kv.key = b,
                (5, Value::Bytes(b)) => kv.value = b,
                (2, Value::Varint(v)) => kv.create_revision = v as i64,
                (3, Value::Varint(v)) => kv.mod_revision = v as i64,
                (4, Value::Varint(v)) => kv.version = v as i64,
                (6, Value::Varint(v)) => kv.lease = v as i64,
                (1..=6, _) => return Err(wrong),
                _ => {}
            }
        }
        Ok(kv)
    }

    /// Encodes a KeyValue the way etcd's Go code does (zero fields omitted, field order).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.key.len() + self.value.len() + 40);
        put_bytes(&mut out, 1, self.key);
        put_varint_field(&mut out, 2, self.create_revision as u64);
        put_varint_field(&mut out, 3, self.mod_revision as u64);
        put_varint_field(&mut out, 4, self.version as u64);
        put_bytes(&mut out, 5, self.value);
        put_varint_field(&mut out, 6, self.lease as u64);
        out
    }
}

fn put_varint_field(out: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        put_varint(out, u64::from(field) << 3);
        put_varint(out, v);
    }
}

fn put_bytes(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    if !b.is_empty() {
        put_varint(out, (u64::from(field) << 3) | 2);
        put_varint(out, b.len() as u64);
        out.extend_from_slice(b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn matches_prost_both_ways() {
        let m = crate::pb::mvccpb::KeyValue {
            key: b"/registry/pods/a".to_vec().into(),
            create_revision: 5,
            mod_revision: 900,
            version: 3,
            value: vec![7u8; 300].into(),
            lease: 0x1234_5678_9abc,
        };
        let enc = m.encode_to_vec();
        let kv = KeyValueRef::decode(&enc).unwrap();
        assert_eq!(kv.key, b"/registry/pods/a");
        assert_eq!(
            (kv.create_revision, kv.mod_revision, kv.version),
            (5, 900, 3)
        );
        assert_eq!(kv.value.len(), 300);
        assert_eq!(kv.lease, 0x1234_5678_9abc);
        assert_eq!(kv.encode(), enc);
        for cut in 0..enc.len() {
            // Truncations either fail or decode a prefix of the fields: never panic.
            let _ = KeyValueRef::decode(&enc[..cut]);
        }
        assert!(KeyValueRef::decode(&[0x08, 0x01]).is_err(), "key as varint");
    }
}
