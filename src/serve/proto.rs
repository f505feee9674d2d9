//! `application/vnd.kubernetes.protobuf` answers: the `k8s\0` envelope (runtime.Unknown)
//! around an object whose ObjectMeta gains the served `resourceVersion`, and a kind's List
//! message (ListMeta, then the items) written in pieces so that a whole list can stream.
//! Field numbers: runtime.Unknown {1 TypeMeta {1 apiVersion, 2 kind}, 2 raw, 3
//! contentEncoding, 4 contentType}; every built-in object {1 ObjectMeta {…, 5 uid, 6
//! resourceVersion, 7 generation, …}}; every List {1 ListMeta {1 selfLink, 2
//! resourceVersion, 3 continue}, 2 items}. It only rewrites the one field; every other
//! byte is copied from the stored value.

use crate::k8s::value::PROTOBUF_MAGIC;
use crate::wire::{WireError, put_varint, read_varint};

pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// Appends a length-delimited field.
fn put_bytes(out: &mut Vec<u8>, field: u64, b: &[u8]) {
    put_varint(out, field << 3 | 2);
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// The size of a length-delimited field holding `n` bytes.
fn field_len(field: u64, n: usize) -> usize {
    varint_len(field << 3 | 2) + varint_len(n as u64) + n
}

fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// One field of a message: (number, wire type, its bytes from tag to end, its payload when
/// length-delimited).
struct Field<'a> {
    number: u64,
    whole: &'a [u8],
    payload: Option<&'a [u8]>,
}

/// The fields of `msg` in wire order, with their extents.
fn fields(msg: &[u8]) -> Result<Vec<Field<'_>>, WireError> {
    let mut out = Vec::new();
    let mut pos = 0;
    let bad = |offset: usize, what: &'static str| WireError { offset, what };
    while pos < msg.len() {
        let start = pos;
        let tag = read_varint(msg, &mut pos)?;
        let (number, wt) = (tag >> 3, tag & 7);
        if number == 0 {
            return Err(bad(start, "field number 0"));
        }
        let mut payload = None;
        match wt {
            0 => {
                read_varint(msg, &mut pos)?;
            }
            1 => pos += 8,
            5 => pos += 4,
            2 => {
                let n = read_varint(msg, &mut pos)?;
                let end = usize::try_from(n)
                    .ok()
                    .and_then(|n| pos.checked_add(n))
                    .filter(|&e| e <= msg.len())
                    .ok_or_else(|| bad(pos, "length-delimited field runs past the message"))?;
                payload = Some(&msg[pos..end]);
                pos = end;
            }
            _ => return Err(bad(start, "unsupported wire type (groups)")),
        }
        if pos > msg.len() {
            return Err(bad(start, "fixed-width field runs past the message"));
        }
        out.push(Field {
            number,
            whole: &msg[start..pos],
            payload,
        });
    }
    Ok(out)
}

/// ObjectMeta with field 6 (resourceVersion) set to `rv`: any stored field 6 is replaced,
/// and the field is written where Go's marshaller puts it, before the first field
/// numbered above 6.
fn meta_with_rv(meta: &[u8], rv: &str) -> Result<Vec<u8>, WireError> {
    let mut out = Vec::with_capacity(meta.len() + rv.len() + 2);
    let mut done = false;
    for f in fields(meta)? {
        if f.number == 6 {
            continue;
        }
        if f.number > 6 && !done {
            put_bytes(&mut out, 6, rv.as_bytes());
            done = true;
        }
        out.extend_from_slice(f.whole);
    }
    if !done {
        put_bytes(&mut out, 6, rv.as_bytes());
    }
    Ok(out)
}

/// A stored object's bytes (the envelope's raw) as served at `resource_version`: its
/// ObjectMeta (field 1) carries the revision; everything else is as stored.
pub fn served_raw(raw: &[u8], resource_version: i64) -> Result<Vec<u8>, WireError> {
    let rv = resource_version.to_string();
    let mut out = Vec::with_capacity(raw.len() + rv.len() + 8);
    let mut seen = false;
    for f in fields(raw)? {
        match (f.number, f.payload) {
            (1, Some(meta)) if !seen => {
                seen = true;
                put_bytes(&mut out, 1, &meta_with_rv(meta, &rv)?);
            }
            _ => out.extend_from_slice(f.whole),
        }
    }
    if !seen {
        // An object without metadata on the wire: Go writes field 1 first.
        let mut m = Vec::new();
        put_bytes(&mut m, 6, rv.as_bytes());
        let mut head = Vec::with_capacity(out.len() + m.len() + 4);
        put_bytes(&mut head, 1, &m);
        head.extend_from_slice(&out);
        return Ok(head);
    }
    Ok(out)
}

fn type_meta(api_version: &str, kind: &str) -> Vec<u8> {
    let mut tm = Vec::with_capacity(api_version.len() + kind.len() + 4);
    put_bytes(&mut tm, 1, api_version.as_bytes());
    put_bytes(&mut tm, 2, kind.as_bytes());
    tm
}

/// The whole answer for one object: magic, then runtime.Unknown as the apiserver's
/// protobuf serializer writes it (contentEncoding and contentType present and empty).
pub fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + api_version.len() + kind.len() + 16);
    out.extend_from_slice(PROTOBUF_MAGIC);
    put_bytes(&mut out, 1, &type_meta(api_version, kind));
    put_bytes(&mut out, 2, raw);
    put_bytes(&mut out, 3, b"");
    put_bytes(&mut out, 4, b"");
    out
}

/// ListMeta {1 selfLink "", 2 resourceVersion, 3 continue}, as Go writes it (strings
/// always, remainingItemCount only when set: never here).
fn list_meta(resource_version: i64, cont: &str) -> Vec<u8> {
    let mut m = Vec::new();
    put_bytes(&mut m, 1, b"");
    put_bytes(&mut m, 2, resource_version.to_string().as_bytes());
    put_bytes(&mut m, 3, cont.as_bytes());
    m
}

/// A List answer written in pieces: [`List::head`], then each item's
/// [`List::item`], then [`List::TAIL`]. The item sizes are needed first, as the
/// envelope's raw field is length-prefixed.
pub struct List;

impl List {
    /// Everything before the first item: magic, TypeMeta, the raw field's tag and length
    /// (for items of the given sizes), ListMeta.
    pub fn head(
        api_version: &str,
        list_kind: &str,
        resource_version: i64,
        cont: &str,
        item_sizes: impl Iterator<Item = usize>,
    ) -> Vec<u8> {
        let meta = list_meta(resource_version, cont);
        let raw_len = field_len(1, meta.len()) + item_sizes.map(|n| field_len(2, n)).sum::<usize>();
        let mut out = Vec::with_capacity(meta.len() + 64);
        out.extend_from_slice(PROTOBUF_MAGIC);
        put_bytes(&mut out, 1, &type_meta(api_version, list_kind));
        put_varint(&mut out, 2 << 3 | 2);
        put_varint(&mut out, raw_len as u64);
        put_bytes(&mut out, 1, &meta);
        out
    }

    /// One item (the List message's field 2), appended to `out`.
    pub fn item(out: &mut Vec<u8>, raw: &[u8]) {
        put_bytes(out, 2, raw);
    }

    /// After the last item: contentEncoding and contentType, empty.
    pub const TAIL: &'static [u8] = &[3 << 3 | 2, 0, 4 << 3 | 2, 0];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_version_goes_in_field_order() {
        // ObjectMeta {1 "a", 5 "u", 6 "", 7 varint 3}.
        let meta = [0x0a, 1, b'a', 0x2a, 1, b'u', 0x32, 0, 0x38, 3];
        let mut obj = vec![0x0a, meta.len() as u8];
        obj.extend_from_slice(&meta);
        obj.extend_from_slice(&[0x12, 1, b'x']);
        let got = served_raw(&obj, 42).unwrap();
        let want_meta = [0x0a, 1, b'a', 0x2a, 1, b'u', 0x32, 2, b'4', b'2', 0x38, 3];
        let mut want = vec![0x0a, want_meta.len() as u8];
        want.extend_from_slice(&want_meta);
        want.extend_from_slice(&[0x12, 1, b'x']);
        assert_eq!(got, want);
        // Absent: inserted before field 7.
        let meta = [0x0a, 1, b'a', 0x38, 3];
        let obj = [&[0x0a, meta.len() as u8][..], &meta].concat();
        let got = served_raw(&obj, 7).unwrap();
        assert_eq!(got, [0x0a, 8, 0x0a, 1, b'a', 0x32, 1, b'7', 0x38, 3]);
        // Truncated input is an error, not a panic.
        assert!(served_raw(&[0x0a, 9, 1], 1).is_err());
    }
}
