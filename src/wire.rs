//! A zero-copy reader of the protobuf wire format, for hot paths where building owned
//! messages per record would allocate, and the varint every layer writes. Every read is
//! bounds-checked; a malformed message yields [`WireError`] with the offset inside the
//! message — never a panic.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    pub offset: usize,
    pub what: &'static str,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "protobuf offset {}: {}", self.offset, self.what)
    }
}

/// One field's value as it appears on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

/// Iterates the fields of one message: `(field number, value)`.
#[derive(Clone)]
pub struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Fields { buf, pos: 0 }
    }

    /// Offset of the next field inside the message.
    pub fn position(&self) -> usize {
        self.pos
    }

    fn err(&self, what: &'static str) -> WireError {
        WireError {
            offset: self.pos,
            what,
        }
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        let rest = self.buf.len() - self.pos;
        if n > rest {
            return Err(self.err(what));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
}

/// Appends `v` as a base-128 varint (the protobuf encoding; also the snapshot format's and
/// the WAL writer's).
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a varint at `buf[*pos..]`, advancing `pos`. The one-byte varints that are most
/// of them are read inline.
#[inline]
pub fn read_varint(buf: &[u8], pos: &mut usize) -> Result<u64, WireError> {
    match buf.get(*pos) {
        Some(&b) if b < 0x80 => {
            *pos += 1;
            Ok(u64::from(b))
        }
        _ => read_varint_long(buf, pos),
    }
}

#[inline(never)]
fn read_varint_long(buf: &[u8], pos: &mut usize) -> Result<u64, WireError> {
    let mut v: u64 = 0;
    let start = *pos;
    for i in 0..10 {
        let Some(&b) = buf.get(*pos) else {
            return Err(WireError {
                offset: start,
                what: "varint runs past the end of the message",
            });
        };
        *pos += 1;
        if i == 9 && b > 1 {
            return Err(WireError {
                offset: start,
                what: "varint longer than 64 bits",
            });
        }
        v |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Ok(v);
        }
    }
    unreachable!("the loop returns by its tenth byte")
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, Value<'a>), WireError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        Some(self.next_field())
    }
}

impl<'a> Fields<'a> {
    /// The next field; a one-byte key with a one-byte varint or length (most fields of
    /// most messages) is read inline.
    #[inline(always)]
    fn next_field(&mut self) -> Result<(u32, Value<'a>), WireError> {
        let (buf, at) = (self.buf, self.pos);
        if let (Some(&key), Some(&b)) = (buf.get(at), buf.get(at + 1)) {
            // Field numbers 1 to 15 with wire type 0 or 2, and a value or length below 128.
            if (8..0x80).contains(&key) && b < 0x80 {
                let num = u32::from(key >> 3);
                match key & 7 {
                    0 => {
                        self.pos = at + 2;
                        return Ok((num, Value::Varint(u64::from(b))));
                    }
                    2 if usize::from(b) <= buf.len() - at - 2 => {
                        let end = at + 2 + usize::from(b);
                        self.pos = end;
                        return Ok((num, Value::Bytes(&buf[at + 2..end])));
                    }
                    _ => {}
                }
            }
        }
        self.next_field_any()
    }

    #[inline(never)]
    fn next_field_any(&mut self) -> Result<(u32, Value<'a>), WireError> {
        let at = self.pos;
        let key = read_varint(self.buf, &mut self.pos)?;
        let field = key >> 3;
        if field == 0 || field > u64::from(u32::MAX >> 3) {
            self.pos = at;
            return Err(self.err("field number out of range"));
        }
        let v = match key & 7 {
            0 => Value::Varint(read_varint(self.buf, &mut self.pos)?),
            1 => {
                let b = self.take(8, "fixed64 runs past the end of the message")?;
                Value::Fixed64(u64::from_le_bytes(b.try_into().expect("8 bytes")))
            }
            2 => {
                let len = read_varint(self.buf, &mut self.pos)?;
                let len = usize::try_from(len).map_err(|_| self.err("length too large"))?;
                Value::Bytes(self.take(len, "length-delimited field runs past the end")?)
            }
            5 => {
                let b = self.take(4, "fixed32 runs past the end of the message")?;
                Value::Fixed32(u32::from_le_bytes(b.try_into().expect("4 bytes")))
            }
            _ => {
                self.pos = at;
                return Err(self.err("unsupported wire type"));
            }
        };
        Ok((field as u32, v))
    }
}

/// A protobuf string field as text: borrowed when it is valid UTF-8 (checked with the
/// standard library's word-at-a-time validator, several times faster on ASCII than the
/// byte-at-a-time one behind `String::from_utf8_lossy`), else with U+FFFD replacements.
#[inline]
pub fn text_lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(b),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn text_lossy_borrows_valid_text_and_replaces_like_std() {
        let ok = "caf\u{e9} /registry/pods".as_bytes();
        assert!(matches!(
            super::text_lossy(ok),
            std::borrow::Cow::Borrowed(s) if s.as_bytes() == ok
        ));
        for bad in [&b"ab\xffcd"[..], b"\xe2\x82", b"x\xc3(y", b"\xf0\x9f\x98"] {
            assert_eq!(super::text_lossy(bad), String::from_utf8_lossy(bad));
        }
    }

    use super::*;

    #[test]
    fn reads_each_wire_type_and_rejects_truncation() {
        // field 1 varint 300, field 2 bytes "hi", field 3 fixed32 7, field 4 fixed64 9
        let msg = [
            0x08, 0xac, 0x02, 0x12, 0x02, b'h', b'i', 0x1d, 7, 0, 0, 0, 0x21, 9, 0, 0, 0, 0, 0, 0,
            0,
        ];
        let got: Vec<_> = Fields::new(&msg).collect::<Result<_, _>>().unwrap();
        assert_eq!(
            got,
            vec![
                (1, Value::Varint(300)),
                (2, Value::Bytes(b"hi")),
                (3, Value::Fixed32(7)),
                (4, Value::Fixed64(9)),
            ]
        );
        for cut in 1..msg.len() {
            let r: Result<Vec<_>, _> = Fields::new(&msg[..cut]).collect();
            if [3, 7, 12].contains(&cut) {
                assert!(r.is_ok(), "cut at a field boundary {cut}");
            } else {
                assert!(r.is_err(), "cut inside a field at {cut} must fail");
            }
        }
    }

    #[test]
    fn rejects_overlong_varint_and_bad_wire_type() {
        let long = [
            0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
        ];
        assert!(Fields::new(&long).next().unwrap().is_err());
        assert!(Fields::new(&[0x0b]).next().unwrap().is_err()); // wire type 3
        assert!(Fields::new(&[0x00, 0x00]).next().unwrap().is_err()); // field 0
    }
}
