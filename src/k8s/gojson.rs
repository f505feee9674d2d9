//! JSON text as Go's encoding/json writes it, which is what the apiserver serves: string
//! escaping (`<`, `>`, `&`, U+2028, U+2029 and control characters as `\u` escapes, each
//! invalid UTF-8 byte as `\ufffd`), float formatting, map keys in sorted order for
//! unstructured objects, and `MarshalIndent`'s two-space layout. It only writes text; it
//! never decides what an object holds.

use serde_json::Value;
use std::fmt::Write as _;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// For each ASCII byte, how Go writes it: 0 as it is, else the letter after the backslash
/// of its short escape (`"`, `\\`, `b`, `f`, `n`, `r`, `t`) or `u` for `\u00XX`.
static ASCII_ESCAPE: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut b = 0;
    while b < 0x20 {
        t[b] = b'u';
        b += 1;
    }
    t[0x08] = b'b';
    t[0x0c] = b'f';
    t[b'\n' as usize] = b'n';
    t[b'\r' as usize] = b'r';
    t[b'\t' as usize] = b't';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t[b'<' as usize] = b'u';
    t[b'>' as usize] = b'u';
    t[b'&' as usize] = b'u';
    t
};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `x` that is not ASCII written as it is (0x80 and above, a
/// control, `"`, `\\`, `<`, `>`, `&`). Lanes above a flagged one may be flagged too, so only
/// the lowest flag is exact (the borrow of a match only runs upwards).
#[inline(always)]
fn flagged(x: u64) -> u64 {
    // Non-zero in the lane of a byte equal to `c`.
    #[inline(always)]
    fn has(x: u64, c: u8) -> u64 {
        let y = x ^ (ONES * u64::from(c));
        y.wrapping_sub(ONES) & !y & HIGH
    }
    (x & HIGH)
        | (x.wrapping_sub(ONES * 0x20) & !x & HIGH)
        | has(x, b'"')
        | has(x, b'\\')
        | has(x, b'<')
        | has(x, b'>')
        | has(x, b'&')
}

/// Whether every byte of `s` is ASCII that Go writes as it is (no control, `"`, `\\`,
/// `<`, `>` or `&`), eight bytes at a time.
#[inline]
pub(crate) fn plain_ascii(s: &[u8]) -> bool {
    let mut words = s.chunks_exact(8);
    for w in &mut words {
        if flagged(u64::from_le_bytes(w.try_into().expect("8 bytes"))) != 0 {
            return false;
        }
    }
    // The tail, padded with a plain byte to a word.
    let tail = words.remainder();
    let mut last = [b'a'; 8];
    last[..tail.len()].copy_from_slice(tail);
    flagged(u64::from_le_bytes(last)) == 0
}

/// Writes `,"name":` (no comma before the first member) for a member name that needs no
/// escaping: the schema's JSON names, which a test checks.
#[inline]
pub fn plain_key(out: &mut String, first: &mut bool, name: &str) {
    debug_assert!(plain_ascii(name.as_bytes()), "{name}");
    let name = name.as_bytes();
    let comma = usize::from(!std::mem::take(first));
    // SAFETY: everything stored is ASCII (`name` is plain ASCII), within the room reserved.
    unsafe {
        let v = out.as_mut_vec();
        v.reserve(name.len() + 4);
        let len = v.len();
        let dst = v.as_mut_ptr().add(len);
        *dst = b',';
        *dst.add(comma) = b'"';
        copy_short(name, dst.add(comma + 1));
        let end = comma + 1 + name.len();
        *dst.add(end) = b'"';
        *dst.add(end + 1) = b':';
        v.set_len(len + end + 2);
    }
}

/// Copies a short slice (a member name) in at most four overlapping word stores, without
/// a call into `memcpy` (a loop would be turned into one).
///
/// # Safety
/// `dst` must be valid for `src.len()` bytes of writes.
#[inline(always)]
unsafe fn copy_short(src: &[u8], dst: *mut u8) {
    use std::ptr::{read_unaligned as rd, write_unaligned as wr};
    let (n, s) = (src.len(), src.as_ptr());
    // SAFETY: every read is within `src` and every write within `n` bytes of `dst`.
    unsafe {
        match n {
            0 => {}
            1..=3 => {
                *dst = *s;
                *dst.add(n / 2) = *s.add(n / 2);
                *dst.add(n - 1) = *s.add(n - 1);
            }
            4..=7 => {
                wr(dst.cast::<u32>(), rd(s.cast::<u32>()));
                wr(dst.add(n - 4).cast::<u32>(), rd(s.add(n - 4).cast::<u32>()));
            }
            8..=16 => {
                wr(dst.cast::<u64>(), rd(s.cast::<u64>()));
                wr(dst.add(n - 8).cast::<u64>(), rd(s.add(n - 8).cast::<u64>()));
            }
            17..=32 => {
                wr(dst.cast::<u64>(), rd(s.cast::<u64>()));
                wr(dst.add(8).cast::<u64>(), rd(s.add(8).cast::<u64>()));
                wr(
                    dst.add(n - 16).cast::<u64>(),
                    rd(s.add(n - 16).cast::<u64>()),
                );
                wr(dst.add(n - 8).cast::<u64>(), rd(s.add(n - 8).cast::<u64>()));
            }
            _ => std::ptr::copy_nonoverlapping(s, dst, n),
        }
    }
}

/// How strings are escaped: Go 1.22 and later write `\b` and `\f` as such; earlier Go
/// writes them as `\u0008` and `\u000c` (Kubernetes 1.30 was the first built with 1.22).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Escape {
    pub short_bf: bool,
}

impl Escape {
    /// The escaping of the newest Go.
    pub const NEW: Escape = Escape { short_bf: true };
}

/// Writes `s` as a JSON string the way Go's encoder does for a Go string holding these
/// bytes (which need not be UTF-8).
pub fn string(out: &mut String, s: &[u8], esc: Escape) {
    // One pass straight into the output's spare room, a block at a time so that the room
    // reserved for the worst case (six bytes out per byte in) stays small.
    const BLOCK: usize = 4096;
    out.push('"');
    let mut i = 0;
    while i < s.len() {
        let end = s.len().min(i + BLOCK);
        i = escape_block(out, s, i, end, esc);
    }
    out.push('"');
}

/// Escapes `s[i..]` up to `end` (or just past it, to finish a character) onto `out`,
/// returning where it stopped. Runs of bytes written as they are go eight at a time.
#[inline]
fn escape_block(out: &mut String, s: &[u8], mut i: usize, end: usize, esc: Escape) -> usize {
    // Each byte in gives at most six out (`\u00XX`, `\ufffd`; a three-byte U+2028 gives six
    // too), and the word loop stores a whole word where fewer bytes may count: 16 spare.
    let room = (end - i) * 6 + 16;
    // SAFETY: only whole UTF-8 sequences are counted into the length: ASCII bytes, escapes
    // (ASCII), and multi-byte sequences that `utf8_len` validated. Bytes stored past the
    // counted length are overwritten or left outside the string. Every store is below
    // `room` bytes from the old length: each byte consumed before `end` leaves at least six
    // bytes of room behind it, so at a byte before `end` at least 22 remain.
    unsafe {
        let v = out.as_mut_vec();
        v.reserve(room);
        let base = v.len();
        let dst = v.as_mut_ptr().add(base);
        let mut d = 0usize;
        while i < end {
            if i + 8 <= end {
                let w = u64::from_le_bytes(s[i..i + 8].try_into().expect("8 bytes"));
                let m = flagged(w);
                std::ptr::write_unaligned(dst.add(d).cast::<[u8; 8]>(), w.to_le_bytes());
                if m == 0 {
                    i += 8;
                    d += 8;
                    continue;
                }
                let k = (m.trailing_zeros() / 8) as usize;
                i += k;
                d += k;
            } else {
                let b = s[i];
                if b < 0x80 && ASCII_ESCAPE[b as usize] == 0 {
                    *dst.add(d) = b;
                    i += 1;
                    d += 1;
                    continue;
                }
            }
            // `s[i]` needs a look: an escape, or the start of a multi-byte character.
            let b = s[i];
            let put6 = |at: *mut u8, six: [u8; 6]| std::ptr::write_unaligned(at.cast(), six);
            if b < 0x80 {
                let c = ASCII_ESCAPE[b as usize];
                if c != b'u' && (esc.short_bf || (c != b'b' && c != b'f')) {
                    std::ptr::write_unaligned(dst.add(d).cast(), [b'\\', c]);
                    d += 2;
                } else {
                    let (hi, lo) = (HEX[(b >> 4) as usize], HEX[(b & 15) as usize]);
                    put6(dst.add(d), [b'\\', b'u', b'0', b'0', hi, lo]);
                    d += 6;
                }
                i += 1;
                continue;
            }
            match utf8_len(&s[i..]) {
                // Go decodes an invalid byte as utf8.RuneError of width 1.
                0 => {
                    put6(dst.add(d), *b"\\ufffd");
                    d += 6;
                    i += 1;
                }
                3 if b == 0xe2 && s[i + 1] == 0x80 && matches!(s[i + 2], 0xa8 | 0xa9) => {
                    put6(
                        dst.add(d),
                        if s[i + 2] == 0xa8 {
                            *b"\\u2028"
                        } else {
                            *b"\\u2029"
                        },
                    );
                    d += 6;
                    i += 3;
                }
                n => {
                    std::ptr::copy_nonoverlapping(s.as_ptr().add(i), dst.add(d), n);
                    d += n;
                    i += n;
                }
            }
        }
        v.set_len(base + d);
    }
    i
}

/// The length of the valid UTF-8 sequence at the start of `s` (which starts with a byte
/// >= 0x80), or 0 where Go's decoder would see an invalid byte.
fn utf8_len(s: &[u8]) -> usize {
    let n = match s[0] {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return 0,
    };
    if s.len() < n {
        return 0;
    }
    // from_utf8 rejects overlong forms, surrogates and values past U+10FFFF, as Go does.
    if std::str::from_utf8(&s[..n]).is_ok() {
        n
    } else {
        0
    }
}

/// Writes a float64 as Go's encoder does: the shortest decimal that reads back the same,
/// without an exponent from 1e-6 up to 1e21, with one (`1e+21`, `1e-7`) outside it.
/// NaN and infinities, which Go refuses to encode, come out as `null`.
pub fn float64(out: &mut String, f: f64) {
    float(
        out,
        f,
        f.abs(),
        |out| {
            let _ = write!(out, "{f}");
        },
        |out| {
            let _ = write!(out, "{f:e}");
        },
    );
}

/// A float32 as Go's encoder writes it (shortest decimal for 32 bits).
pub fn float32(out: &mut String, f: f32) {
    float(
        out,
        f64::from(f),
        f64::from(f.abs()),
        |out| {
            let _ = write!(out, "{f}");
        },
        |out| {
            let _ = write!(out, "{f:e}");
        },
    );
}

fn float(
    out: &mut String,
    f: f64,
    abs: f64,
    plain: impl FnOnce(&mut String),
    exp: impl FnOnce(&mut String),
) {
    if !f.is_finite() {
        out.push_str("null");
        return;
    }
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let at = out.len();
        exp(out);
        // Rust writes `1e21`; Go writes `1e+21` (and `1e-7`, as Rust does).
        if let Some(e) = out[at..].find('e') {
            if out.as_bytes().get(at + e + 1) != Some(&b'-') {
                out.insert(at + e + 1, '+');
            }
        }
    } else if f == 0.0 {
        out.push_str(if f.is_sign_negative() { "-0" } else { "0" });
    } else {
        plain(out);
    }
}

/// Writes a JSON value as Go writes a generic (unstructured) value: object keys sorted by
/// their bytes, numbers as int64 where they are integral and fit, else float64.
pub fn unstructured(out: &mut String, v: &Value, esc: Escape) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                let _ = write!(out, "{i}");
            } else {
                float64(out, n.as_f64().unwrap_or(f64::NAN));
            }
        }
        Value::String(s) => string(out, s.as_bytes(), esc),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                unstructured(out, x, esc);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<(&String, &Value)> = m.iter().collect();
            keys.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (k, x)) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                string(out, k.as_bytes(), esc);
                out.push(':');
                unstructured(out, x, esc);
            }
            out.push('}');
        }
    }
}

/// Writes a JSON tree read by [`super::jsontree`] as Go writes the generic value its
/// decoder makes of it: object keys sorted by their bytes, numbers as int64 where the text
/// is an integer that fits, float64 otherwise. A number out of float64's range is an error,
/// as in Go.
pub fn unstructured_tree(
    out: &mut String,
    v: &super::jsontree::J<'_>,
    esc: Escape,
) -> Result<(), String> {
    use super::jsontree::{GoNumber, J, go_number};
    match v {
        J::Null => out.push_str("null"),
        J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        J::Num(n) => match go_number(n) {
            Some(GoNumber::Int(i)) => {
                let _ = write!(out, "{i}");
            }
            Some(GoNumber::Float(f)) => float64(out, f),
            None => {
                return Err(format!(
                    "cannot unmarshal number {n} into Go value of type float64"
                ));
            }
        },
        J::Str(s, _) => string(out, s.as_bytes(), esc),
        J::Arr(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                unstructured_tree(out, x, esc)?;
            }
            out.push(']');
        }
        J::Obj(m) => {
            let mut keys: Vec<usize> = (0..m.len()).collect();
            keys.sort_by(|&a, &b| m[a].0.as_bytes().cmp(m[b].0.as_bytes()));
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                string(out, m[k].0.as_bytes(), esc);
                out.push(':');
                unstructured_tree(out, &m[k].1, esc)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

/// Appends the JSON text `raw` compacted as Go's encoder writes the output of a
/// `MarshalJSON` method: insignificant white space dropped, `<`, `>`, `&`, U+2028 and U+2029
/// escaped, everything else (key order, number text, escapes) kept. Returns false, writing
/// nothing, where `raw` is not valid JSON.
pub fn compact(out: &mut String, raw: &[u8]) -> bool {
    if serde_json::from_slice::<serde::de::IgnoredAny>(raw).is_err() {
        return false;
    }
    // Valid JSON is UTF-8.
    let Ok(text) = std::str::from_utf8(raw) else {
        return false;
    };
    let mut in_str = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_str {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_str = false,
                _ => {}
            }
            match c {
                '<' => out.push_str("\\u003c"),
                '>' => out.push_str("\\u003e"),
                '&' => out.push_str("\\u0026"),
                '\u{2028}' => out.push_str("\\u2028"),
                '\u{2029}' => out.push_str("\\u2029"),
                c => out.push(c),
            }
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            in_str = c == '"';
            out.push(c);
        }
    }
    true
}

/// Writes a JSON string from its text between the quotes as written (escapes kept), as
/// Go's compaction of embedded JSON does: `<`, `>`, `&`, U+2028 and U+2029 escaped, every
/// other byte kept (an invalid UTF-8 byte, which a Go string may hold, becomes U+FFFD).
pub fn compact_string(out: &mut String, text: &[u8]) {
    out.push('"');
    for chunk in text.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '<' => out.push_str("\\u003c"),
                '>' => out.push_str("\\u003e"),
                '&' => out.push_str("\\u0026"),
                '\u{2028}' => out.push_str("\\u2028"),
                '\u{2029}' => out.push_str("\\u2029"),
                c => out.push(c),
            }
        }
        for _ in chunk.invalid() {
            out.push('\u{fffd}');
        }
    }
    out.push('"');
}

/// Re-lays compact JSON text out as Go's `MarshalIndent(v, "", "  ")` does (what
/// `?pretty=true` and `kubectl get -o json` print): one member or element a line, two spaces
/// a level, `": "` after keys, and `{}` / `[]` for empty objects and arrays. Escapes are kept
/// as they are.
pub fn indent(compact: &str) -> String {
    let b = compact.as_bytes();
    let mut out = String::with_capacity(compact.len() + compact.len() / 2);
    let mut depth = 0usize;
    let mut i = 0;
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        for _ in 0..depth {
            out.push_str("  ");
        }
    };
    while i < b.len() {
        let c = b[i];
        match c {
            b'"' => {
                let start = i;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i = (i + 1).min(b.len());
                out.push_str(&compact[start..i]);
                continue;
            }
            b'{' | b'[' => {
                let close = if c == b'{' { b'}' } else { b']' };
                if b.get(i + 1) == Some(&close) {
                    out.push(c as char);
                    out.push(close as char);
                    i += 2;
                    continue;
                }
                out.push(c as char);
                depth += 1;
                newline(&mut out, depth);
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c as char);
            }
            b',' => {
                out.push(',');
                newline(&mut out, depth);
            }
            b':' => out.push_str(": "),
            b' ' | b'\n' | b'\t' | b'\r' => {}
            _ => {
                // A run of a literal or number: copy up to the next structural byte.
                let start = i;
                while i < b.len() && !b"{}[],:\" \n\t\r".contains(&b[i]) {
                    i += 1;
                }
                out.push_str(&compact[start..i]);
                continue;
            }
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(b: &[u8]) -> String {
        let mut o = String::new();
        string(&mut o, b, Escape::NEW);
        o
    }

    /// The escaper as it was written first (a table scan after a UTF-8 check, then a byte at
    /// a time for invalid text): what [`string`] must keep writing.
    fn string_reference(out: &mut String, s: &[u8], esc: Escape) {
        // Most strings are ASCII with nothing to escape: one pass, then copied whole.
        if plain_ascii(s) {
            out.reserve(s.len() + 2);
            out.push('"');
            // SAFETY: plain_ascii checked that every byte is below 0x80, so `s` is UTF-8.
            out.push_str(unsafe { std::str::from_utf8_unchecked(s) });
            out.push('"');
            return;
        }
        // Valid UTF-8 (nearly always): escape by bytes, with no per-character decoding.
        if let Ok(text) = std::str::from_utf8(s) {
            out.reserve(text.len() + 2);
            out.push('"');
            let mut run = 0;
            let mut next = 0;
            while next < s.len() {
                // Skip, through a table, the bytes that are written as they are.
                let Some(off) = s[next..]
                    .iter()
                    .position(|&b| b == 0xe2 || (b < 0x80 && ASCII_ESCAPE[b as usize] != 0))
                else {
                    break;
                };
                let i = next + off;
                let b = s[i];
                next = i + 1;
                if b == 0xe2
                    && !(s.get(i + 1) == Some(&0x80) && matches!(s.get(i + 2), Some(0xa8 | 0xa9)))
                {
                    continue;
                }
                out.push_str(&text[run..i]);
                run = i + 1;
                match b {
                    b'"' => out.push_str("\\\""),
                    b'\\' => out.push_str("\\\\"),
                    b'\n' => out.push_str("\\n"),
                    b'\r' => out.push_str("\\r"),
                    b'\t' => out.push_str("\\t"),
                    0x08 if esc.short_bf => out.push_str("\\b"),
                    0x0c if esc.short_bf => out.push_str("\\f"),
                    0xe2 => {
                        out.push_str(if s[i + 2] == 0xa8 {
                            "\\u2028"
                        } else {
                            "\\u2029"
                        });
                        run = i + 3;
                    }
                    _ => {
                        out.push_str("\\u00");
                        out.push(HEX[(b >> 4) as usize] as char);
                        out.push(HEX[(b & 15) as usize] as char);
                    }
                }
            }
            out.push_str(&text[run..]);
            out.push('"');
            return;
        }
        out.push('"');
        let mut i = 0;
        let mut run = 0;
        // SAFETY-free: every push below is of ASCII or of a checked UTF-8 slice.
        let push_run = |out: &mut String, from: usize, to: usize| {
            if from < to {
                out.push_str(std::str::from_utf8(&s[from..to]).expect("validated run"));
            }
        };
        while i < s.len() {
            let b = s[i];
            if b < 0x80 {
                let short = match b {
                    b'"' => Some('"'),
                    b'\\' => Some('\\'),
                    b'\n' => Some('n'),
                    b'\r' => Some('r'),
                    b'\t' => Some('t'),
                    0x08 if esc.short_bf => Some('b'),
                    0x0c if esc.short_bf => Some('f'),
                    _ => None,
                };
                if let Some(c) = short {
                    push_run(out, run, i);
                    out.push('\\');
                    out.push(c);
                    run = i + 1;
                } else if b < 0x20 || b == b'<' || b == b'>' || b == b'&' {
                    push_run(out, run, i);
                    out.push_str("\\u00");
                    out.push(HEX[(b >> 4) as usize] as char);
                    out.push(HEX[(b & 15) as usize] as char);
                    run = i + 1;
                }
                i += 1;
                continue;
            }
            let n = utf8_len(&s[i..]);
            if n == 0 {
                // Go decodes an invalid byte as utf8.RuneError of width 1.
                push_run(out, run, i);
                out.push_str("\\ufffd");
                i += 1;
                run = i;
                continue;
            }
            if n == 3 && s[i] == 0xe2 && s[i + 1] == 0x80 && (s[i + 2] == 0xa8 || s[i + 2] == 0xa9)
            {
                push_run(out, run, i);
                out.push_str(if s[i + 2] == 0xa8 {
                    "\\u2028"
                } else {
                    "\\u2029"
                });
                run = i + 3;
            }
            i += n;
        }
        push_run(out, run, s.len());
        out.push('"');
    }

    #[test]
    fn string_writes_what_the_reference_writes() {
        // Every byte alone and between plain runs of each length around a word; then
        // pseudo-random mixes of plain bytes, escapes and (in)valid multi-byte text.
        let check = |v: &[u8]| {
            for esc in [Escape::NEW, Escape { short_bf: false }] {
                let (mut a, mut b) = (String::from("x"), String::from("x"));
                string(&mut a, v, esc);
                string_reference(&mut b, v, esc);
                assert_eq!(a, b, "{v:?}");
            }
        };
        for b in 0..=255u8 {
            for pre in 0..10 {
                for post in [0usize, 1, 2, 3, 8, 9] {
                    let mut v = vec![b'a'; pre];
                    v.push(b);
                    v.extend(std::iter::repeat_n(b'z', post));
                    check(&v);
                }
            }
        }
        let pieces: [&[u8]; 12] = [
            b"plain text",
            b"\"",
            b"<&>",
            b"\x01\x08\x0c\x1f",
            "\u{2028}\u{2029}".as_bytes(),
            "\u{e9}\u{1f680}\u{fffd}".as_bytes(),
            b"\xe2\x80",
            b"\xe2\x80\xa7",
            b"\xff\xc0\x80",
            b"\xed\xa0\x80",
            b"\xf0\x9f\x98",
            b"\n\r\t\\",
        ];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            let mut v = Vec::new();
            for _ in 0..(x % 7) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                v.extend_from_slice(pieces[(x % 12) as usize]);
                v.extend(std::iter::repeat_n(b'q', ((x >> 8) % 11) as usize));
            }
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            check(&v);
        }
        // Longer than a block, with a character across the block's end.
        let mut v = vec![b'a'; 4095];
        v.extend_from_slice("\u{2028}\u{1f680}<".as_bytes());
        v.extend(std::iter::repeat_n(b'\x01', 9000));
        check(&v);
        check(&v[1..]);
        check(&v[2..]);
    }

    #[test]
    fn plain_ascii_is_exactly_the_bytes_written_as_they_are() {
        // Every byte, alone and at each place of a word and its tail, beside plain ones.
        for b in 0..=255u8 {
            let want = b < 0x80 && ASCII_ESCAPE[b as usize] == 0;
            for len in [1usize, 7, 8, 9, 16, 17] {
                for at in 0..len {
                    let mut v = vec![b'a'; len];
                    v[at] = b;
                    assert_eq!(plain_ascii(&v), want, "byte {b:#x} at {at} of {len}");
                }
            }
        }
        assert!(plain_ascii(b""));
        // A flagged lane must not hide or invent another: a zero byte below a match.
        assert!(!plain_ascii(b"\x00\"aaaaaa"));
        assert!(plain_ascii(b"\x21\x23aaaaaa"));
    }

    #[test]
    fn strings_escape_as_go_does() {
        assert_eq!(
            s(b"<a href=\"x\">&</a>"),
            r#""\u003ca href=\"x\"\u003e\u0026\u003c/a\u003e""#
        );
        assert_eq!(s("\u{2028}x\u{2029}".as_bytes()), r#""\u2028x\u2029""#);
        assert_eq!(s(b"\x00\x01\x1f\x7f"), "\"\\u0000\\u0001\\u001f\x7f\"");
        assert_eq!(s(b"\x08\x0c\n\r\t"), r#""\b\f\n\r\t""#);
        let mut old = String::new();
        string(&mut old, b"\x08\x0c", Escape { short_bf: false });
        assert_eq!(old, r#""\u0008\u000c""#);
        // Each invalid byte is one replacement; a valid U+FFFD stays as it is.
        assert_eq!(s(b"a\xe2\x82b\xff"), r#""a\ufffd\ufffdb\ufffd""#);
        assert_eq!(s("\u{fffd}é🚀".as_bytes()), "\"\u{fffd}é🚀\"");
        assert_eq!(s(b"\xed\xa0\x80"), r#""\ufffd\ufffd\ufffd""#);
        assert_eq!(s(b"/"), r#""/""#);
    }

    #[test]
    fn floats_format_as_go_does() {
        let f = |x: f64| {
            let mut o = String::new();
            float64(&mut o, x);
            o
        };
        assert_eq!(f(0.0), "0");
        assert_eq!(f(1.0), "1");
        assert_eq!(f(12345678.9), "12345678.9");
        assert_eq!(f(0.000001), "0.000001");
        assert_eq!(f(0.0000001), "1e-7");
        assert_eq!(f(1e21), "1e+21");
        assert_eq!(f(1.5e300), "1.5e+300");
        assert_eq!(f(-2.5e-10), "-2.5e-10");
        assert_eq!(f(123456789012345680000.0), "123456789012345680000");
        assert_eq!(f(f64::NAN), "null");
        let mut o = String::new();
        float32(&mut o, 0.1);
        assert_eq!(o, "0.1");
    }

    #[test]
    fn unstructured_sorts_keys_and_keeps_integers() {
        let v: Value = serde_json::from_str(
            r#"{"z":1,"a":{"y":true,"b":null},"big":9007199254740993,"r":1.0,"f":0.5,"u":18446744073709551615}"#,
        )
        .unwrap();
        let mut o = String::new();
        unstructured(&mut o, &v, Escape::NEW);
        assert_eq!(
            o,
            r#"{"a":{"b":null,"y":true},"big":9007199254740993,"f":0.5,"r":1,"u":18446744073709552000,"z":1}"#
        );
    }

    #[test]
    fn compact_keeps_text_and_escapes_html() {
        let mut o = String::new();
        assert!(compact(
            &mut o,
            b" { \"b\" : [1.0, \"<\\u00e9 x>\"], \"a\":{} }"
        ));
        assert_eq!(o, r#"{"b":[1.0,"\u003c\u00e9 x\u003e"],"a":{}}"#);
        assert!(!compact(&mut o, b"{nope"));
    }

    #[test]
    fn indent_matches_marshal_indent() {
        assert_eq!(
            indent(r#"{"a":[],"b":{},"c":[1,{"d":"x,\"y\":"}],"e":null}"#),
            "{\n  \"a\": [],\n  \"b\": {},\n  \"c\": [\n    1,\n    {\n      \"d\": \"x,\\\"y\\\":\"\n    }\n  ],\n  \"e\": null\n}"
        );
    }
}
