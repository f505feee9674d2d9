//! Record framing inside a segment. Each record is an 8-byte little-endian length word —
//! the record's size in its low 56 bits; when the top bit is set, the low 3 bits of the top
//! byte count padding bytes that follow — then an encoded walpb.Record
//! `{1: type, 2: crc, 3: data}`, then the padding, so records stay 8-byte aligned.
//! A zero length word marks the end of the written part (etcd preallocates with zeros).

use crate::wire::{Fields, Value};

/// etcd refuses records of this size or more.
pub const MAX_RECORD: u64 = 10 * 1024 * 1024;
const SECTOR: usize = 512;

pub const METADATA: i64 = 1;
pub const ENTRY: i64 = 2;
pub const STATE: i64 = 3;
pub const CRC: i64 = 4;
pub const SNAPSHOT: i64 = 5;

pub fn type_name(t: i64) -> &'static str {
    match t {
        METADATA => "metadata",
        ENTRY => "entry",
        STATE => "state",
        CRC => "crc",
        SNAPSHOT => "snapshot",
        _ => "unknown",
    }
}

/// One framed record, with positions relative to the segment start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    pub offset: usize,
    pub rtype: i64,
    pub crc: u32,
    pub data: &'a [u8],
    /// Offset of `data` inside the segment.
    pub data_offset: usize,
    /// Where the next frame starts.
    pub next: usize,
}

/// What stopped framing at an offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The end of the written part: end of file or a zero length word.
    End,
    /// A record cut short or partly zero: what a crash during a write leaves.
    Torn(String),
    /// Bytes that no writer could have left.
    Corrupt(String),
}

/// Where the first non-zero byte of `b` is. The tail etcd preallocates with zeros can be
/// tens of megabytes, so this looks at 32 bytes per step and only then at single bytes.
pub fn first_nonzero(b: &[u8]) -> Option<usize> {
    let mut blocks = b.chunks_exact(32);
    for (i, block) in blocks.by_ref().enumerate() {
        let mut or = 0u64;
        for w in block.chunks_exact(8) {
            or |= u64::from_ne_bytes(w.try_into().expect("8 bytes"));
        }
        if or != 0 {
            let at = i * 32;
            return block.iter().position(|&x| x != 0).map(|p| at + p);
        }
    }
    let tail = blocks.remainder();
    let at = b.len() - tail.len();
    tail.iter().position(|&x| x != 0).map(|p| at + p)
}

/// Whether part of a record's bytes lies in a 512-byte sector that is all zeros — etcd's
/// sign that the write of this record was torn.
pub fn has_zero_sector(seg: &[u8], start: usize, end: usize) -> bool {
    let mut at = start;
    while at < end {
        let chunk_end = ((at / SECTOR) + 1) * SECTOR;
        let chunk_end = chunk_end.min(end);
        if first_nonzero(&seg[at..chunk_end]).is_none() {
            return true;
        }
        at = chunk_end;
    }
    false
}

/// Reads the frame at `off` of segment bytes `seg`.
pub fn read_frame(seg: &[u8], off: usize) -> Result<Frame<'_>, Stop> {
    let rest = seg.len() - off.min(seg.len());
    if rest == 0 {
        return Err(Stop::End);
    }
    if rest < 8 {
        return Err(if first_nonzero(&seg[off..]).is_none() {
            Stop::End
        } else {
            Stop::Torn(format!("{rest} bytes left, too few for a length word"))
        });
    }
    let word = u64::from_le_bytes(seg[off..off + 8].try_into().expect("8 bytes"));
    if word == 0 {
        return Err(Stop::End);
    }
    let len = word & 0x00ff_ffff_ffff_ffff;
    let pad = if word >> 63 == 1 { (word >> 56) & 7 } else { 0 };
    if len + pad >= MAX_RECORD {
        return Err(Stop::Corrupt(format!(
            "record length {len} is over etcd's {MAX_RECORD}-byte limit"
        )));
    }
    let (len, pad) = (len as usize, pad as usize);
    let start = off + 8;
    if len + pad > seg.len() - start {
        return Err(Stop::Torn(format!(
            "record of {len} bytes runs past the end of the segment ({} bytes left)",
            seg.len() - start
        )));
    }
    let body = &seg[start..start + len];
    let (mut rtype, mut crc, mut data, mut data_at) = (0i64, 0u32, &body[..0], start);
    let mut f = Fields::new(body);
    loop {
        match f.next() {
            None => break,
            Some(Ok((1, Value::Varint(v)))) => rtype = v as i64,
            Some(Ok((2, Value::Varint(v)))) => crc = v as u32,
            Some(Ok((3, Value::Bytes(b)))) => {
                data = b;
                data_at = b.as_ptr() as usize - seg.as_ptr() as usize;
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                return Err(if has_zero_sector(seg, start, start + len + pad) {
                    Stop::Torn(format!("record partly zero: {e}"))
                } else {
                    Stop::Corrupt(format!("walpb.Record does not decode: {e}"))
                });
            }
        }
    }
    Ok(Frame {
        offset: off,
        rtype,
        crc,
        data,
        data_offset: data_at,
        next: start + len + pad,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(rtype: u8, crc: u32, data: &[u8]) -> Vec<u8> {
        let mut rec = vec![0x08, rtype];
        rec.push(0x10);
        crate::wire::put_varint(&mut rec, u64::from(crc));
        rec.push(0x1a);
        crate::wire::put_varint(&mut rec, data.len() as u64);
        rec.extend_from_slice(data);
        let pad = (8 - rec.len() % 8) % 8;
        let mut word = rec.len() as u64;
        if pad > 0 {
            word |= (0x80 | pad as u64) << 56;
        }
        let mut out = word.to_le_bytes().to_vec();
        out.extend_from_slice(&rec);
        out.resize(out.len() + pad, 0);
        out
    }

    #[test]
    fn first_nonzero_finds_the_first_set_byte_at_every_offset() {
        assert_eq!(first_nonzero(&[]), None);
        for len in [1usize, 7, 31, 32, 33, 64, 100, 1000] {
            assert_eq!(first_nonzero(&vec![0u8; len]), None, "len {len}");
            for at in 0..len {
                let mut b = vec![0u8; len];
                b[at] = 0x80;
                if at + 1 < len {
                    b[len - 1] = 1;
                }
                assert_eq!(first_nonzero(&b), Some(at), "len {len} at {at}");
            }
        }
    }

    #[test]
    fn frames_pad_and_stop() {
        let mut seg = frame(2, 7, b"hello");
        let second = seg.len();
        seg.extend(frame(3, 9, b"x"));
        let f = read_frame(&seg, 0).unwrap();
        assert_eq!((f.rtype, f.crc, f.data), (2, 7, &b"hello"[..]));
        assert_eq!(&seg[f.data_offset..f.data_offset + 5], b"hello");
        assert_eq!(f.next, second);
        assert_eq!(f.next % 8, 0);
        let f_next = f.next;
        let g_next = read_frame(&seg, f_next).unwrap().next;
        assert_eq!(g_next, seg.len());
        assert_eq!(read_frame(&seg, g_next), Err(Stop::End));
        seg.extend([0u8; 64]);
        assert_eq!(read_frame(&seg, g_next), Err(Stop::End));
        // Cut inside the second record: torn.
        assert!(matches!(
            read_frame(&seg[..second + 12], second),
            Err(Stop::Torn(_))
        ));
        // An absurd length is refused before anything is read or allocated.
        let mut bad = seg.clone();
        bad[second..second + 8].copy_from_slice(&(u64::MAX >> 9).to_le_bytes());
        assert!(matches!(read_frame(&bad, second), Err(Stop::Corrupt(_))));
    }
}
