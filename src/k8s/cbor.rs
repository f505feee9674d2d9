//! Objects stored as CBOR (KEP-4222: custom resources written while the apiserver's
//! `CBORServingAndStorage` feature gate is on; every such value starts with the
//! self-described CBOR tag 55799, bytes `d9 d9 f7`). [`to_value`] decodes one into the
//! generic value the apiserver decodes it into — what k8s.io/apimachinery's CBOR serializer
//! (`pkg/runtime/serializer/cbor`, decode options in `internal/modes/decode.go`, on
//! fxamacker/cbor v2.9.1) makes of it for an unstructured object — so that it is then
//! served as JSON exactly like a custom resource stored as JSON.
//!
//! It must accept what that decoder accepts and fail where it fails (with the decoder's
//! error text where reshift can say it). It must never panic, never recurse deeper than
//! [`MAX_DEPTH`] arrays and maps, and never allocate more than a small multiple of the
//! input's length. It never writes JSON itself.
//!
//! The rules, as the decoder applies them:
//! - The whole input must be one well-formed data item, scanned in full before anything is
//!   decoded (so a malformed item anywhere is reported before a value error anywhere):
//!   trailing bytes, a truncated item, reserved additional information (28 to 30), a stray
//!   break, an indefinite-length integer or tag, a one-byte simple value below 32, a
//!   NaN or infinite float (of any width), a bignum tag (2 or 3), a string length past
//!   2^63, more than 2,147,483,647 array elements or 2,097,152 map pairs, and nesting past
//!   10,000 (arrays, maps, and each tag after the first in a chain) are all errors.
//!   Indefinite-length strings, arrays and maps are accepted.
//! - The top level is decoded into a map with string keys: a map, or null (no object); any
//!   other item is an error. Tag 55799 may enclose any item any number of times.
//! - Unsigned and negative integers become int64; one outside int64 is an error (never a
//!   float). Floats of every width become float64 (an integral float stays a float).
//!   false, true and null are kept; undefined and every other simple value are errors.
//! - Byte strings become strings of their bytes, unchecked (the apiserver writes every
//!   string, keys included, as a byte string). Under an "expected later encoding" tag (21
//!   base64url without padding, 22 base64, 23 hex; the nearest enclosing one counts, for
//!   every byte string inside it) they become that encoding of their bytes. Text strings
//!   must be valid UTF-8 (checked per chunk when indefinite).
//! - Tags 0 and 1 (times) must enclose a text string and a number; as a value they become
//!   RFC 3339 text with nanoseconds (tag 1 in UTC; an error when the year leaves 0..9999).
//!   Every other tag is dropped for its content.
//! - Map keys must be strings (byte or text); a null key stands for the key before it in
//!   the same map (or "" when first) — the decoder reuses its key slot — and any other
//!   key is an error. A key seen twice in one map is an error.
//! - After a value error the decoder goes on and reports the first error, except that a
//!   duplicate key in a map replaces the errors found earlier in that map; this module
//!   does the same.
//!
//! Where reshift differs: it decodes at most [`MAX_DEPTH`] nested arrays and maps (the
//! apiserver 10,000; reshift reads JSON custom resources to the same depth); invalid UTF-8
//! in a byte string becomes U+FFFD per invalid byte, as Go's encoder writes it, but as the
//! character rather than the `\ufffd` escape (and two keys differing only in invalid
//! bytes become one); tag 0 accepts only the strict RFC 3339 form (Go falls back to a
//! laxer parser).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

/// The head of the self-described CBOR tag the apiserver writes before every object.
pub const SELF_DESCRIBED: &[u8] = &[0xd9, 0xd9, 0xf7];

/// How many arrays and maps deep reshift decodes: the served JSON is then read back by
/// serde_json, whose limit this is.
pub const MAX_DEPTH: usize = 127;

/// The decoder's own limits (MaxNestedLevels, MaxArrayElements, MaxMapPairs).
const GO_MAX_NESTED: usize = 10_000;
const GO_MAX_ARRAY: u64 = 2_147_483_647;
const GO_MAX_PAIRS: u64 = 2_097_152;

const POS: u8 = 0;
const NEG: u8 = 1;
const BYTES: u8 = 2;
const TEXT: u8 = 3;
const ARRAY: u8 = 4;
const MAP: u8 = 5;
const TAG: u8 = 6;
const SIMPLE: u8 = 7;
const BREAK: u8 = 0xff;

/// Why a value cannot be decoded: the decoder's message, and the offset of the data item
/// it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CborError {
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for CborError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.message, self.offset)
    }
}

impl std::error::Error for CborError {}

fn err(offset: usize, message: impl Into<String>) -> CborError {
    CborError {
        offset,
        message: message.into(),
    }
}

fn eof(offset: usize) -> CborError {
    err(offset, "unexpected EOF")
}

/// The decoder's name of a major type, as its messages say it.
fn type_name(major: u8) -> &'static str {
    match major {
        POS => "positive integer",
        NEG => "negative integer",
        BYTES => "byte string",
        TEXT => "UTF-8 text string",
        ARRAY => "array",
        MAP => "map",
        TAG => "tag",
        _ => "primitives",
    }
}

fn unacceptable(offset: usize, major: u8, what: &str) -> CborError {
    err(
        offset,
        format!(
            "cbor: data item of cbor type {} is not accepted by protocol: {what}",
            type_name(major)
        ),
    )
}

fn cannot(offset: usize, major: u8, go_type: &str, why: Option<String>) -> CborError {
    let mut m = format!(
        "cbor: cannot unmarshal {} into Go value of type {go_type}",
        type_name(major)
    );
    if let Some(w) = why {
        m.push_str(&format!(" ({w})"));
    }
    err(offset, m)
}

/// A negative integer's argument `n` stands for -1-n; its text when that leaves int64.
fn negative_text(n: u64) -> String {
    format!("-{}", u128::from(n) + 1)
}

/// One data item's head: major type, additional information, argument.
#[derive(Debug, Clone, Copy)]
struct Head {
    major: u8,
    ai: u8,
    arg: u64,
}

impl Head {
    fn indefinite(&self) -> bool {
        self.ai == 31
    }
}

/// IEEE 754 half precision to double, exactly.
fn f16_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((bits >> 10) & 0x1f);
    let mant = f64::from(bits & 0x3ff);
    match exp {
        0 => sign * mant * 2f64.powi(-24),
        31 if mant == 0.0 => sign * f64::INFINITY,
        31 => f64::NAN,
        _ => sign * (1024.0 + mant) * 2f64.powi(exp - 25),
    }
}

/// The float a head of major type 7 with a 2, 4 or 8 byte argument holds.
fn float_of(h: Head) -> Option<f64> {
    match h.ai {
        25 => Some(f16_to_f64(h.arg as u16)),
        26 => Some(f64::from(f32::from_bits(h.arg as u32))),
        27 => Some(f64::from_bits(h.arg)),
        _ => None,
    }
}

/// Reads the head at `*off` and moves past it, checked as the decoder's well-formedness
/// scan checks a head.
fn read_head(data: &[u8], off: &mut usize) -> Result<Head, CborError> {
    let at = *off;
    let &b = data.get(at).ok_or_else(|| eof(at))?;
    let (major, ai) = (b >> 5, b & 0x1f);
    let invalid_ai = || {
        err(
            at,
            format!(
                "cbor: invalid additional information {ai} for type {}",
                type_name(major)
            ),
        )
    };
    let n = match ai {
        0..=23 => {
            *off = at + 1;
            return Ok(Head {
                major,
                ai,
                arg: u64::from(ai),
            });
        }
        24 => 1,
        25 => 2,
        26 => 4,
        27 => 8,
        31 => {
            return match major {
                POS | NEG | TAG => Err(invalid_ai()),
                SIMPLE => Err(err(at, "cbor: unexpected \"break\" code")),
                _ => {
                    *off = at + 1;
                    Ok(Head { major, ai, arg: 0 })
                }
            };
        }
        _ => return Err(invalid_ai()),
    };
    let arg_bytes = data.get(at + 1..at + 1 + n).ok_or_else(|| eof(at))?;
    let arg = arg_bytes.iter().fold(0u64, |a, &x| (a << 8) | u64::from(x));
    *off = at + 1 + n;
    let h = Head { major, ai, arg };
    if major == SIMPLE {
        if n == 1 && arg < 32 {
            return Err(err(
                at,
                format!("cbor: invalid simple value {arg} for type primitives"),
            ));
        }
        if let Some(f) = float_of(h) {
            if f.is_nan() {
                return Err(unacceptable(at, SIMPLE, "floating-point NaN"));
            }
            if f.is_infinite() {
                return Err(unacceptable(at, SIMPLE, "floating-point infinity"));
            }
        }
    }
    Ok(h)
}

/// What the well-formedness scan still has open.
enum Frame {
    /// A definite-length array or map: items left, and the nesting level they are at.
    Items { left: u64, level: usize },
    /// An indefinite-length array or map: items ended so far, whether one is under way.
    UntilBreak {
        map: bool,
        level: usize,
        done: u64,
        open: bool,
    },
    /// An indefinite-length string: definite-length chunks of its major type.
    Chunks { major: u8, level: usize },
}

/// Checks that one well-formed data item starts at `start`, as the decoder's scan does
/// (the same checks, in the same order, with the same limits), and returns where it ends.
/// Iterative: nesting costs heap, bounded by the input's length.
fn scan(data: &[u8], start: usize) -> Result<usize, CborError> {
    let mut off = start;
    let mut level = 0usize;
    let mut stack: Vec<Frame> = Vec::new();
    'item: loop {
        let at = off;
        let h = read_head(data, &mut off)?;
        match h.major {
            BYTES | TEXT if h.indefinite() => stack.push(Frame::Chunks {
                major: h.major,
                level,
            }),
            BYTES | TEXT => {
                if h.arg > i64::MAX as u64 {
                    return Err(err(
                        at,
                        format!(
                            "cbor: {} length {} is too large, causing integer overflow",
                            type_name(h.major),
                            h.arg
                        ),
                    ));
                }
                if ((data.len() - off) as u64) < h.arg {
                    return Err(eof(at));
                }
                off += h.arg as usize;
            }
            ARRAY | MAP => {
                let inner = level + 1;
                if inner > GO_MAX_NESTED {
                    return Err(err(
                        at,
                        format!("cbor: exceeded max nested level {GO_MAX_NESTED}"),
                    ));
                }
                let map = h.major == MAP;
                if h.indefinite() {
                    stack.push(Frame::UntilBreak {
                        map,
                        level: inner,
                        done: 0,
                        open: false,
                    });
                } else {
                    if h.arg > i64::MAX as u64 {
                        return Err(err(
                            at,
                            format!(
                                "cbor: {} length {} is too large, it would cause integer overflow",
                                type_name(h.major),
                                h.arg
                            ),
                        ));
                    }
                    if !map && h.arg > GO_MAX_ARRAY {
                        return Err(err(
                            at,
                            format!(
                                "cbor: exceeded max number of elements {GO_MAX_ARRAY} for CBOR array"
                            ),
                        ));
                    }
                    if map && h.arg > GO_MAX_PAIRS {
                        return Err(err(
                            at,
                            format!(
                                "cbor: exceeded max number of key-value pairs {GO_MAX_PAIRS} for CBOR map"
                            ),
                        ));
                    }
                    let left = if map { h.arg * 2 } else { h.arg };
                    stack.push(Frame::Items { left, level: inner });
                }
            }
            TAG => {
                // A chain of tags is read in a loop; each after the first is a level.
                let mut num = h.arg;
                loop {
                    let Some(&next) = data.get(off) else {
                        return Err(eof(off));
                    };
                    if num == 2 || num == 3 {
                        return Err(unacceptable(at, TAG, "bignum"));
                    }
                    if next >> 5 != TAG {
                        break;
                    }
                    num = read_head(data, &mut off)?.arg;
                    level += 1;
                    if level > GO_MAX_NESTED {
                        return Err(err(
                            at,
                            format!("cbor: exceeded max nested level {GO_MAX_NESTED}"),
                        ));
                    }
                }
                // The content is the rest of this item.
                continue 'item;
            }
            _ => {}
        }
        // This item is read (or a container opened): find the next one to scan.
        loop {
            let Some(top) = stack.last_mut() else {
                return Ok(off);
            };
            match top {
                Frame::Items { left, level: l } => {
                    if *left == 0 {
                        stack.pop();
                    } else {
                        *left -= 1;
                        level = *l;
                        continue 'item;
                    }
                }
                Frame::UntilBreak {
                    map,
                    level: l,
                    done,
                    open,
                } => {
                    if *open {
                        *open = false;
                        *done += 1;
                        if !*map && *done > GO_MAX_ARRAY {
                            return Err(err(
                                off,
                                format!(
                                    "cbor: exceeded max number of elements {GO_MAX_ARRAY} for CBOR array"
                                ),
                            ));
                        }
                        if *map && *done % 2 == 0 && *done / 2 > GO_MAX_PAIRS {
                            return Err(err(
                                off,
                                format!(
                                    "cbor: exceeded max number of key-value pairs {GO_MAX_PAIRS} for CBOR map"
                                ),
                            ));
                        }
                    }
                    let Some(&b) = data.get(off) else {
                        return Err(eof(off));
                    };
                    if b == BREAK {
                        if *map && *done % 2 == 1 {
                            return Err(err(off, "cbor: unexpected \"break\" code"));
                        }
                        off += 1;
                        stack.pop();
                    } else {
                        *open = true;
                        level = *l;
                        continue 'item;
                    }
                }
                Frame::Chunks { major, level: l } => {
                    let Some(&b) = data.get(off) else {
                        return Err(eof(off));
                    };
                    if b == BREAK {
                        off += 1;
                        stack.pop();
                        continue;
                    }
                    let name = type_name(*major);
                    if b >> 5 != *major {
                        return Err(err(
                            off,
                            format!(
                                "cbor: wrong element type {} for indefinite-length {name}",
                                type_name(b >> 5)
                            ),
                        ));
                    }
                    if b & 0x1f == 31 {
                        return Err(err(
                            off,
                            format!("cbor: indefinite-length {name} chunk is not definite-length"),
                        ));
                    }
                    level = *l;
                    continue 'item;
                }
            }
        }
    }
}

/// The decoder's check of a tag against the head of its content (times must enclose a
/// string or a number, bignums a byte string).
fn check_tag(num: u64, at: usize, next: u8) -> Result<(), CborError> {
    let t = next >> 5;
    let got = type_name(t);
    match num {
        0 if t != TEXT => Err(err(
            at,
            format!("cbor: tag number 0 must be followed by text string, got {got}"),
        )),
        1 if t != POS && t != NEG && !(0xf9..=0xfb).contains(&next) => Err(err(
            at,
            format!(
                "cbor: tag number 1 must be followed by integer or floating-point number, got {got}"
            ),
        )),
        2 | 3 if t != BYTES => Err(err(
            at,
            format!("cbor: tag number 2 or 3 must be followed by byte string, got {got}"),
        )),
        _ => Ok(()),
    }
}

/// A Go string of these bytes as text: each byte that does not start a valid UTF-8
/// sequence becomes U+FFFD, as Go's encoder sees it.
fn go_string(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    let mut rest = b;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                return out;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(good).unwrap_or_default());
                out.push('\u{fffd}');
                rest = bad.get(1..).unwrap_or_default();
            }
        }
    }
}

/// A Go string of these bytes quoted as `%#v` writes it (for duplicate-key messages).
fn go_quote(b: &[u8]) -> String {
    let mut out = String::from("\"");
    let mut rest = b;
    while !rest.is_empty() {
        let valid = match std::str::from_utf8(rest) {
            Ok(s) => s,
            Err(e) => std::str::from_utf8(&rest[..e.valid_up_to()]).unwrap_or_default(),
        };
        for c in valid.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\x07' => out.push_str("\\a"),
                '\x08' => out.push_str("\\b"),
                '\x0c' => out.push_str("\\f"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\x0b' => out.push_str("\\v"),
                c if (c as u32) < 0x20 || c == '\x7f' => {
                    out.push_str(&format!("\\x{:02x}", c as u32));
                }
                c if c != ' ' && (c.is_control() || c.is_whitespace()) => {
                    if (c as u32) < 0x10000 {
                        out.push_str(&format!("\\u{:04x}", c as u32));
                    } else {
                        out.push_str(&format!("\\U{:08x}", c as u32));
                    }
                }
                c => out.push(c),
            }
        }
        rest = &rest[valid.len()..];
        if let Some((&bad, after)) = rest.split_first() {
            out.push_str(&format!("\\x{bad:02x}"));
            rest = after;
        }
    }
    out.push('"');
    out
}

fn days_in(month: u32, year: i64) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A fraction of a second as RFC3339Nano writes it: `.` and up to nine digits, trailing
/// zeros dropped; nothing for zero.
fn nanos_text(nsec: u32) -> String {
    if nsec == 0 {
        return String::new();
    }
    let s = format!(".{nsec:09}");
    s.trim_end_matches('0').to_string()
}

/// Seconds and nanoseconds since the epoch as Go's Time.MarshalText writes them in UTC;
/// an error where the year leaves 0..9999.
fn unix_text(sec: i64, nsec: i64) -> Result<String, &'static str> {
    let (mut sec, mut nsec) = (i128::from(sec), i128::from(nsec));
    if nsec < 0 {
        sec -= 1;
        nsec += 1_000_000_000;
    }
    let days = sec.div_euclid(86_400);
    let rem = sec.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i128::from(m <= 2);
    if !(0..=9999).contains(&y) {
        return Err("Time.MarshalText: year outside of range [0,9999]");
    }
    Ok(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        nanos_text(nsec as u32)
    ))
}

/// A strict RFC 3339 time (`2006-01-02T15:04:05[.frac](Z|±hh:mm)`, fields in range) as
/// Go parses it and writes it back with nanoseconds: the same fields, the fraction cut to
/// nine digits without trailing zeros, a zero offset as `Z`.
fn rfc3339_text(s: &[u8]) -> Option<String> {
    let num = |r: std::ops::Range<usize>, lo: u32, hi: u32| -> Option<u32> {
        let d = s.get(r)?;
        if !d.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let v = d.iter().fold(0u32, |a, &c| a * 10 + u32::from(c - b'0'));
        (lo..=hi).contains(&v).then_some(v)
    };
    let at = |i: usize, c: u8| s.get(i) == Some(&c);
    if s.len() < 20 || !(at(4, b'-') && at(7, b'-') && at(10, b'T') && at(13, b':') && at(16, b':'))
    {
        return None;
    }
    let year = num(0..4, 0, 9999)?;
    let month = num(5..7, 1, 12)?;
    let day = num(8..10, 1, days_in(month, i64::from(year)))?;
    let hour = num(11..13, 0, 23)?;
    let min = num(14..16, 0, 59)?;
    let sec = num(17..19, 0, 59)?;
    let mut i = 19;
    let mut nsec = 0u32;
    if at(i, b'.') && s.get(i + 1).is_some_and(u8::is_ascii_digit) {
        let mut j = i + 1;
        while s.get(j).is_some_and(u8::is_ascii_digit) {
            if j - i <= 9 {
                nsec = nsec * 10 + u32::from(s[j] - b'0');
            }
            j += 1;
        }
        for _ in (j - i - 1).min(9)..9 {
            nsec *= 10;
        }
        i = j;
    }
    let zone = &s[i..];
    let offset = if zone == b"Z" {
        0
    } else {
        if zone.len() != 6 || !(zone[0] == b'+' || zone[0] == b'-') || zone[3] != b':' {
            return None;
        }
        let hh = num(i + 1..i + 3, 0, 23)?;
        let mm = num(i + 4..i + 6, 0, 59)?;
        hh * 60 + mm
    };
    let zone_text = if offset == 0 {
        "Z".to_string()
    } else {
        String::from_utf8_lossy(zone).into_owned()
    };
    Some(format!(
        "{year:04}-{month:02}-{day:02}T{hour:02}:{min:02}:{sec:02}{}{zone_text}",
        nanos_text(nsec)
    ))
}

/// The value pass over input the scan has accepted. Every read is still checked.
struct Decoder<'a> {
    data: &'a [u8],
    off: usize,
    /// Expected-later-encoding tags (21 to 23) enclosing the item being decoded.
    later: Vec<u64>,
    /// Set by an error that ends decoding at once (reshift's depth limit, or input the
    /// scan should have refused).
    fatal: bool,
}

impl<'a> Decoder<'a> {
    fn head(&mut self) -> Result<Head, CborError> {
        read_head(self.data, &mut self.off).inspect_err(|_| self.fatal = true)
    }

    /// Moves past the item starting at `start`.
    fn skip_from(&mut self, start: usize) {
        match scan(self.data, start) {
            Ok(end) => self.off = end,
            Err(_) => {
                self.off = self.data.len();
                self.fatal = true;
            }
        }
    }

    /// Whether a container with `n` items (None: until a break) has another after `i`.
    fn more(&mut self, n: Option<u64>, i: u64) -> Result<bool, CborError> {
        match n {
            Some(n) => Ok(i < n),
            None => match self.data.get(self.off) {
                Some(&BREAK) => {
                    self.off += 1;
                    Ok(false)
                }
                Some(_) => Ok(true),
                None => {
                    self.fatal = true;
                    Err(eof(self.off))
                }
            },
        }
    }

    /// Reads the tags in front of an item: checks each against what follows it, pushes
    /// expected-later-encoding tags, and returns a time tag (0 or 1, necessarily the last).
    fn tags(&mut self) -> Result<Option<u64>, CborError> {
        let mut time = None;
        while self.data.get(self.off).is_some_and(|b| b >> 5 == TAG) {
            let at = self.off;
            let num = self.head()?.arg;
            let next = *self.data.get(self.off).ok_or_else(|| {
                self.fatal = true;
                eof(self.off)
            })?;
            check_tag(num, at, next)?;
            match num {
                0 | 1 => time = Some(num),
                21..=23 => self.later.push(num),
                _ => {}
            }
        }
        Ok(time)
    }

    /// The bytes of a string whose head is `h`; a text string's must be valid UTF-8
    /// (each chunk on its own, as the decoder checks them).
    fn string(&mut self, h: Head) -> Result<Cow<'a, [u8]>, CborError> {
        let text = h.major == TEXT;
        let data = self.data;
        let chunk = |d: &mut Self, len: u64| -> Result<&'a [u8], CborError> {
            let at = d.off;
            let b = usize::try_from(len)
                .ok()
                .and_then(|n| data.get(at..at.checked_add(n)?))
                .ok_or_else(|| {
                    d.fatal = true;
                    eof(at)
                })?;
            d.off = at + b.len();
            if text && std::str::from_utf8(b).is_err() {
                return Err(err(at, "cbor: invalid UTF-8 string"));
            }
            Ok(b)
        };
        if !h.indefinite() {
            return chunk(self, h.arg).map(Cow::Borrowed);
        }
        let mut all = Vec::new();
        while self.more(None, 0)? {
            let c = self.head()?;
            all.extend_from_slice(chunk(self, c.arg)?);
        }
        Ok(Cow::Owned(all))
    }

    /// A byte string's bytes as the nearest expected-later-encoding tag has them written.
    fn encoded(&self, b: Cow<'a, [u8]>) -> Cow<'a, [u8]> {
        match self.later.last() {
            Some(21) => Cow::Owned(URL_SAFE_NO_PAD.encode(&b).into_bytes()),
            Some(22) => Cow::Owned(STANDARD.encode(&b).into_bytes()),
            Some(23) => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                Cow::Owned(
                    b.iter()
                        .flat_map(|&x| [HEX[usize::from(x >> 4)], HEX[usize::from(x & 15)]])
                        .collect(),
                )
            }
            _ => b,
        }
    }

    /// The error for an item of head `h` (at `at`) that cannot go into a Go `go_type`.
    fn mismatch(&self, h: Head, at: usize, go_type: &str) -> CborError {
        match h.major {
            NEG if h.arg > i64::MAX as u64 => cannot(
                at,
                NEG,
                go_type,
                Some(format!("{} overflows Go's int64", negative_text(h.arg))),
            ),
            SIMPLE if h.ai < 20 || h.ai == 23 || h.ai == 24 => unacceptable(
                at,
                SIMPLE,
                &format!("simple value {} is not recognized", h.arg),
            ),
            m => cannot(at, m, go_type, None),
        }
    }

    /// Runs `f` for the item at the cursor; on an error, leaves the cursor after the item
    /// (as the decoder does, to go on with the next one) and drops the item's tags.
    fn item<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, CborError>,
    ) -> Result<T, CborError> {
        let (start, mark) = (self.off, self.later.len());
        let r = f(self);
        self.later.truncate(mark);
        if r.is_err() && !self.fatal {
            self.skip_from(start);
        }
        r
    }

    /// The top level, decoded into a map with string keys: a map, or null.
    fn top(&mut self) -> Result<Value, CborError> {
        self.tags()?;
        let at = self.off;
        let h = self.head()?;
        match h.major {
            MAP => self.map(h, at, 1).map(Value::Object),
            SIMPLE if h.ai == 22 => Ok(Value::Null),
            TEXT => {
                self.string(h)?;
                Err(self.mismatch(h, at, "map[string]interface {}"))
            }
            _ => Err(self.mismatch(h, at, "map[string]interface {}")),
        }
    }

    /// A map key, decoded into a Go string; None for null, which leaves the key slot as it
    /// was.
    fn key(&mut self) -> Result<Option<Cow<'a, [u8]>>, CborError> {
        self.item(|d| {
            d.tags()?;
            let at = d.off;
            let h = d.head()?;
            match h.major {
                BYTES => {
                    let b = d.string(h)?;
                    Ok(Some(d.encoded(b)))
                }
                TEXT => d.string(h).map(Some),
                SIMPLE if h.ai == 22 => Ok(None),
                _ => Err(d.mismatch(h, at, "string")),
            }
        })
    }

    /// Any value, decoded into a Go `interface{}`, `level` deep in arrays and maps.
    fn any(&mut self, level: usize) -> Result<Value, CborError> {
        self.item(|d| {
            let time = d.tags()?;
            let at = d.off;
            let h = d.head()?;
            if let Some(tag) = time {
                return d.time(tag, h, at).map(Value::String);
            }
            match h.major {
                POS if h.arg > i64::MAX as u64 => Err(cannot(
                    at,
                    POS,
                    "int64",
                    Some(format!("{} overflows Go's int64", h.arg)),
                )),
                POS => Ok(Value::from(h.arg as i64)),
                NEG if h.arg > i64::MAX as u64 => Err(d.mismatch(h, at, "int64")),
                NEG => Ok(Value::from(-1 - h.arg as i64)),
                BYTES => {
                    let b = d.string(h)?;
                    Ok(Value::String(go_string(&d.encoded(b))))
                }
                TEXT => Ok(Value::String(go_string(&d.string(h)?))),
                ARRAY => d.array(h, at, level + 1),
                MAP => d.map(h, at, level + 1).map(Value::Object),
                _ => match (h.ai, float_of(h)) {
                    (_, Some(f)) => Ok(Value::from(f)),
                    (20, _) => Ok(Value::Bool(false)),
                    (21, _) => Ok(Value::Bool(true)),
                    (22, _) => Ok(Value::Null),
                    _ => Err(d.mismatch(h, at, "interface {}")),
                },
            }
        })
    }

    fn too_deep(&mut self, at: usize, level: usize) -> Result<(), CborError> {
        if level > MAX_DEPTH {
            self.fatal = true;
            return Err(err(
                at,
                format!(
                    "arrays and maps nested more than {MAX_DEPTH} deep (the apiserver reads up to {GO_MAX_NESTED}; reshift stops here)"
                ),
            ));
        }
        Ok(())
    }

    /// Room to reserve for `n` items: never more than the bytes left could hold.
    fn room(&self, n: Option<u64>) -> usize {
        let left = self.data.len().saturating_sub(self.off);
        n.map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX).min(left))
    }

    fn array(&mut self, h: Head, at: usize, level: usize) -> Result<Value, CborError> {
        self.too_deep(at, level)?;
        let n = (!h.indefinite()).then_some(h.arg);
        let mut out = Vec::with_capacity(self.room(n));
        let mut first = None;
        let mut i = 0;
        while self.more(n, i)? {
            match self.any(level) {
                Ok(v) => out.push(v),
                Err(e) if self.fatal => return Err(e),
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
            i += 1;
        }
        first.map_or(Ok(Value::Array(out)), Err)
    }

    fn map(&mut self, h: Head, at: usize, level: usize) -> Result<Map<String, Value>, CborError> {
        self.too_deep(at, level)?;
        let n = (!h.indefinite()).then_some(h.arg);
        let room = self.room(n) / 2;
        let mut out = Map::with_capacity(room);
        // Keys compare as the Go strings they decode to: by their bytes.
        let mut seen: HashSet<Cow<'a, [u8]>> = HashSet::with_capacity(room);
        let mut key: Cow<'a, [u8]> = Cow::Borrowed(b"");
        let mut first = None;
        let mut i = 0;
        while self.more(n, i)? {
            let entry = self.off;
            match self.key() {
                Ok(Some(k)) => key = k,
                Ok(None) => {}
                Err(e) if self.fatal => return Err(e),
                Err(e) => {
                    first.get_or_insert(e);
                    let v = self.off;
                    self.skip_from(v);
                    i += 1;
                    continue;
                }
            }
            let v = match self.any(level) {
                Ok(v) => v,
                Err(e) if self.fatal => return Err(e),
                Err(e) => {
                    first.get_or_insert(e);
                    i += 1;
                    continue;
                }
            };
            if !seen.insert(key.clone()) {
                let e = err(
                    entry,
                    format!(
                        "cbor: found duplicate map key {} at map element index {i}",
                        go_quote(&key)
                    ),
                );
                i += 1;
                while self.more(n, i)? {
                    for _ in 0..2 {
                        let s = self.off;
                        self.skip_from(s);
                    }
                    i += 1;
                }
                return Err(e);
            }
            out.insert(go_string(&key), v);
            i += 1;
        }
        first.map_or(Ok(out), Err)
    }

    /// A time tag's content (head `h` at `at`) as RFC 3339 text with nanoseconds.
    fn time(&mut self, tag: u64, h: Head, at: usize) -> Result<String, CborError> {
        const TIME: &str = "time.Time";
        let unrepresentable = |e: &str| {
            err(
                at,
                format!(
                    "cbor: decoded time cannot be represented in RFC3339 format with sub-second precision: {e}"
                ),
            )
        };
        match (tag, h.major) {
            (0, TEXT) => {
                let s = self.string(h)?;
                rfc3339_text(&s).ok_or_else(|| {
                    err(
                        at,
                        format!(
                            "cbor: cannot set {} for time.Time: not a strict RFC 3339 time (reshift reads only that form)",
                            String::from_utf8_lossy(&s)
                        ),
                    )
                })
            }
            (1, POS) if h.arg > i64::MAX as u64 => Err(cannot(
                at,
                POS,
                TIME,
                Some(format!("{} overflows Go's int64", h.arg)),
            )),
            (1, POS) => unix_text(h.arg as i64, 0).map_err(unrepresentable),
            (1, NEG) if h.arg > i64::MAX as u64 => Err(cannot(
                at,
                NEG,
                TIME,
                Some(format!("{} overflows Go's int64", negative_text(h.arg))),
            )),
            (1, NEG) => unix_text(-1 - h.arg as i64, 0).map_err(unrepresentable),
            (1, SIMPLE) if float_of(h).is_some() => {
                let f = float_of(h).unwrap_or_default();
                let secs = f.trunc();
                if !(-9.223_372_036_854_776e18..=9.223_372_036_854_776e18).contains(&secs) {
                    let g = format!("{f:e}");
                    let g = match g.split_once('e') {
                        Some((m, e)) if !e.starts_with('-') => {
                            format!("{m}e+{e:0>2}")
                        }
                        _ => g,
                    };
                    return Err(cannot(
                        at,
                        SIMPLE,
                        TIME,
                        Some(format!("{g} overflows Go's int64")),
                    ));
                }
                let nsec = ((f - secs) * 1e9) as i64;
                unix_text(secs as i64, nsec).map_err(unrepresentable)
            }
            _ => {
                // The tag check lets nothing else through.
                self.fatal = true;
                Err(cannot(at, h.major, TIME, None))
            }
        }
    }
}

/// Decodes a stored CBOR value as the apiserver decodes it into an unstructured object:
/// a map becomes an object (integers int64, floats float64), a top-level null is
/// `Value::Null`, and everything the apiserver's decoder refuses is an error with its
/// reason. The self-described tag in front is optional here, as it is to the decoder.
pub fn to_value(bytes: &[u8]) -> Result<Value, CborError> {
    if bytes.is_empty() {
        return Err(err(0, "EOF"));
    }
    let end = scan(bytes, 0)?;
    if end != bytes.len() {
        return Err(err(
            end,
            format!(
                "cbor: {} bytes of extraneous data starting at index {end}",
                bytes.len() - end
            ),
        ));
    }
    let mut d = Decoder {
        data: bytes,
        off: 0,
        later: Vec::new(),
        fatal: false,
    };
    d.top()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::object::{decode_object, decode_object_json, describe};
    use crate::k8s::render::View;
    use crate::k8s::schema::Release;

    /// A generic value as the apiserver holds an unstructured object.
    #[derive(Clone)]
    enum G {
        Null,
        Bool(bool),
        Int(i64),
        Float(f64),
        Str(String),
        Arr(Vec<G>),
        Map(Vec<(String, G)>),
    }

    fn s(x: &str) -> G {
        G::Str(x.to_string())
    }

    fn m(entries: &[(&str, G)]) -> G {
        G::Map(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    /// A head with its argument in the fewest bytes.
    fn head(out: &mut Vec<u8>, major: u8, arg: u64) {
        let m = major << 5;
        match arg {
            0..=23 => out.push(m | arg as u8),
            24..=0xff => out.extend([m | 24, arg as u8]),
            0x100..=0xffff => {
                out.push(m | 25);
                out.extend((arg as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                out.push(m | 26);
                out.extend((arg as u32).to_be_bytes());
            }
            _ => {
                out.push(m | 27);
                out.extend(arg.to_be_bytes());
            }
        }
    }

    /// The half-precision bits of `f` when it holds it exactly.
    fn exact_f16(f: f64) -> Option<u16> {
        let sign = if f.is_sign_negative() { 0x8000u16 } else { 0 };
        let a = f.abs();
        if a == 0.0 {
            return Some(sign);
        }
        if a < 2f64.powi(-14) {
            let mant = a * 2f64.powi(24);
            return (mant.fract() == 0.0 && mant <= 1023.0).then_some(sign | mant as u16);
        }
        let e = ((a.to_bits() >> 52) & 0x7ff) as i32 - 1023;
        if e > 15 {
            return None;
        }
        let mant = a * 2f64.powi(10 - e);
        (mant.fract() == 0.0).then(|| sign | (((e + 15) as u16) << 10) | (mant as u16 - 1024))
    }

    /// Encodes as the apiserver's encoder does: strings and keys as byte strings, keys
    /// sorted by their encoded bytes, definite lengths, integers and floats in their
    /// shortest exact form.
    fn enc(v: &G, out: &mut Vec<u8>) {
        match v {
            G::Null => out.push(0xf6),
            G::Bool(b) => out.push(if *b { 0xf5 } else { 0xf4 }),
            G::Int(i) if *i >= 0 => head(out, 0, *i as u64),
            G::Int(i) => head(out, 1, !(*i) as u64),
            G::Float(f) => {
                if let Some(h) = exact_f16(*f) {
                    out.push(0xf9);
                    out.extend(h.to_be_bytes());
                } else if f64::from(*f as f32) == *f {
                    out.push(0xfa);
                    out.extend((*f as f32).to_bits().to_be_bytes());
                } else {
                    out.push(0xfb);
                    out.extend(f.to_bits().to_be_bytes());
                }
            }
            G::Str(x) => {
                head(out, 2, x.len() as u64);
                out.extend(x.as_bytes());
            }
            G::Arr(a) => {
                head(out, 4, a.len() as u64);
                a.iter().for_each(|x| enc(x, out));
            }
            G::Map(entries) => {
                let mut kv: Vec<(Vec<u8>, Vec<u8>)> = entries
                    .iter()
                    .map(|(k, v)| {
                        let (mut kb, mut vb) = (Vec::new(), Vec::new());
                        enc(&G::Str(k.clone()), &mut kb);
                        enc(v, &mut vb);
                        (kb, vb)
                    })
                    .collect();
                kv.sort();
                head(out, 5, kv.len() as u64);
                for (k, v) in kv {
                    out.extend(k);
                    out.extend(v);
                }
            }
        }
    }

    fn stored(v: &G) -> Vec<u8> {
        let mut out = SELF_DESCRIBED.to_vec();
        enc(v, &mut out);
        out
    }

    fn served(value: &[u8]) -> Result<String, String> {
        decode_object_json(value, &View::served(Release::NEWEST, 42))
    }

    /// `tail` (hex) after the self-described tag.
    fn raw(tail: &str) -> Vec<u8> {
        let h: Vec<u8> = tail.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
        let mut out = SELF_DESCRIBED.to_vec();
        for p in h.chunks(2) {
            out.push(u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap());
        }
        out
    }

    /// The served JSON of `{"apiVersion":"v1","kind":"K","x": <tail>}` with the value's
    /// encoding (hex) given.
    fn x(value_hex: &str) -> Result<String, String> {
        served(&raw(&format!(
            "a3 44 6b696e64 41 4b 41 78 {value_hex} 4a 61706956657273696f6e 42 7631"
        )))
    }

    fn widget() -> G {
        m(&[
            ("apiVersion", s("example.com/v1")),
            ("kind", s("Widget")),
            (
                "metadata",
                m(&[
                    ("name", s("w1")),
                    ("namespace", s("default")),
                    ("uid", s("0b7c6f5e-1111-2222-3333-444455556666")),
                    ("generation", G::Int(3)),
                    ("creationTimestamp", s("2024-01-02T03:04:05Z")),
                    ("labels", m(&[("tier", s("web")), ("app", s("shop"))])),
                    ("annotations", m(&[("note", s("<b>&amp;</b>"))])),
                    ("finalizers", G::Arr(vec![s("example.com/cleanup")])),
                ]),
            ),
            (
                "spec",
                m(&[
                    (
                        "ints",
                        G::Arr(
                            [
                                0,
                                1,
                                23,
                                24,
                                255,
                                256,
                                65535,
                                65536,
                                4294967296,
                                -1,
                                -24,
                                -25,
                                -256,
                                -257,
                                9007199254740993,
                                i64::MAX,
                                i64::MIN,
                            ]
                            .map(G::Int)
                            .to_vec(),
                        ),
                    ),
                    (
                        "floats",
                        G::Arr(
                            [
                                1.0,
                                0.5,
                                -0.0,
                                1.5,
                                65504.0,
                                5.960464477539063e-8,
                                100000.0,
                                3.4028234663852886e38,
                                0.1,
                                1e21,
                                1e-7,
                                -2.5e-10,
                                123456789012345680000.0,
                            ]
                            .map(G::Float)
                            .to_vec(),
                        ),
                    ),
                    ("yes", G::Bool(true)),
                    ("no", G::Bool(false)),
                    ("nothing", G::Null),
                    ("html", s("<a href=\"x\">&</a>")),
                    ("seps", s("a\u{2028}b\u{2029}c\u{1}\t")),
                    ("text", s("é🚀")),
                    ("empty", s("")),
                    ("emptyMap", m(&[])),
                    ("emptyList", G::Arr(vec![])),
                    (
                        "deep",
                        m(&[("a", G::Arr(vec![m(&[("b", G::Arr(vec![G::Null]))])]))]),
                    ),
                ]),
            ),
        ])
    }

    const WIDGET_SERVED: &str = concat!(
        r#"{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"annotations":{"note":"\u003cb\u003e\u0026amp;\u003c/b\u003e"},"#,
        r#""creationTimestamp":"2024-01-02T03:04:05Z","finalizers":["example.com/cleanup"],"generation":3,"#,
        r#""labels":{"app":"shop","tier":"web"},"name":"w1","namespace":"default","resourceVersion":"42","#,
        r#""uid":"0b7c6f5e-1111-2222-3333-444455556666"},"spec":{"deep":{"a":[{"b":[null]}]},"#,
        r#""empty":"","emptyList":[],"emptyMap":{},"#,
        r#""floats":[1,0.5,-0,1.5,65504,5.960464477539063e-8,100000,3.4028234663852886e+38,0.1,1e+21,1e-7,-2.5e-10,123456789012345680000],"#,
        r#""html":"\u003ca href=\"x\"\u003e\u0026\u003c/a\u003e","#,
        r#""ints":[0,1,23,24,255,256,65535,65536,4294967296,-1,-24,-25,-256,-257,9007199254740993,9223372036854775807,-9223372036854775808],"#,
        r#""no":false,"nothing":null,"seps":"a\u2028b\u2029c\u0001\t","text":"é🚀","yes":true}}"#
    );

    #[test]
    fn stored_as_the_apiserver_writes_it() {
        let v = stored(&widget());
        // The shape the apiserver writes: the tag, then a map of byte-string keys sorted
        // by their encoded bytes (shorter first).
        assert_eq!(&v[..9], b"\xd9\xd9\xf7\xa4\x44kind");
        assert_eq!(served(&v).unwrap(), WIDGET_SERVED);
        // The floats went in at every width.
        for f in [
            &[0xf9, 0x3c, 0x00][..],
            &[0xf9, 0x80, 0x00],
            &[0xfa, 0x47, 0xc3, 0x50, 0x00],
        ] {
            assert!(v.windows(f.len()).any(|w| w == f), "{f:x?}");
        }
        assert!(
            v.windows(9)
                .any(|w| w == [0xfb, 0x44, 0x4b, 0x1a, 0xe4, 0xd6, 0xe2, 0xef, 0x50])
        );
    }

    #[test]
    fn same_text_as_the_json_path() {
        let json = r#"{"kind":"Widget","apiVersion":"example.com/v1","metadata":{"name":"w1","namespace":"default","uid":"0b7c6f5e-1111-2222-3333-444455556666","generation":3,"creationTimestamp":"2024-01-02T03:04:05Z","labels":{"tier":"web","app":"shop"},"annotations":{"note":"<b>&amp;</b>"},"finalizers":["example.com/cleanup"]},"spec":{"ints":[0,1,23,24,255,256,65535,65536,4294967296,-1,-24,-25,-256,-257,9007199254740993,9223372036854775807,-9223372036854775808],"floats":[1.0,0.5,-0.0,1.5,65504.0,5.960464477539063e-8,100000.0,3.4028234663852886e38,0.1,1e21,1e-7,-2.5e-10,123456789012345680000.0],"yes":true,"no":false,"nothing":null,"html":"<a href=\"x\">&</a>","seps":"a\u2028b\u2029c\u0001\t","text":"é🚀","empty":"","emptyMap":{},"emptyList":[],"deep":{"a":[{"b":[null]}]}}}"#;
        assert_eq!(served(json.as_bytes()).unwrap(), WIDGET_SERVED);
    }

    #[test]
    fn metadata_for_summaries() {
        let v = stored(&widget());
        let o = describe(b"/registry/example.com/widgets/default/w1", &v, "/registry");
        assert_eq!(o.encoding, "cbor");
        assert_eq!((&*o.api_version, &*o.kind), ("example.com/v1", "Widget"));
        assert!(o.error.is_none(), "{:?}", o.error);
        let md = o.metadata.unwrap();
        assert_eq!(
            (&*md.name, &*md.namespace, md.generation),
            ("w1", "default", 3)
        );
        assert_eq!(md.labels.get("tier").map(|x| &**x), Some("web"));
        assert_eq!(md.finalizers.len(), 1);
        // An undecodable value says why.
        let bad = raw("a1 41 61 f7");
        let o = describe(
            b"/registry/example.com/widgets/default/w2",
            &bad,
            "/registry",
        );
        assert_eq!(o.encoding, "cbor");
        let e = o.error.unwrap();
        assert!(
            e.starts_with("CBOR: cbor: data item of cbor type primitives"),
            "{e}"
        );
        // decode_object reads the served text back.
        let d = decode_object(&v, &View::STORED).unwrap();
        assert_eq!(d["spec"]["ints"][15], serde_json::json!(i64::MAX));
    }

    #[test]
    fn other_encodings_of_the_same_values() {
        // Text-string keys and values; non-shortest heads and floats.
        assert_eq!(
            x("63 616263").unwrap(),
            r#"{"apiVersion":"v1","kind":"K","metadata":{"resourceVersion":"42"},"x":"abc"}"#
        );
        let v = |hex: &str| {
            let t = x(hex).unwrap();
            let at = t.find(r#""x":"#).unwrap() + 4;
            t[at..t.len() - 1].to_string()
        };
        assert_eq!(v("1b 0000000000000005"), "5");
        assert_eq!(v("fb 3ff8000000000000"), "1.5");
        assert_eq!(v("fa 3f000000"), "0.5");
        assert_eq!(v("fb 4000000000000000"), "2");
        assert_eq!(v("f9 0001"), "5.960464477539063e-8");
        assert_eq!(v("f9 7bff"), "65504");
        assert_eq!(v("fa 7f7fffff"), "3.4028234663852886e+38");
        // Indefinite lengths.
        assert_eq!(v("5f 41 61 42 6263 ff"), r#""abc""#);
        assert_eq!(v("7f 61 61 62 6263 ff"), r#""abc""#);
        assert_eq!(v("9f 01 9f ff 80 ff"), "[1,[],[]]");
        assert_eq!(v("bf 41 62 02 61 61 01 ff"), r#"{"a":1,"b":2}"#);
        // Tag 55799 anywhere, any number of times; unknown tags give their content.
        assert_eq!(v("d9d9f7 d9d9f7 82 d9d9f7 01 d9 03e8 c6 02"), "[1,2]");
        // Expected later encodings: the nearest enclosing tag counts, for every byte string
        // inside it, keys included; text strings are left alone.
        assert_eq!(v("d6 43 010203"), r#""AQID""#);
        assert_eq!(v("d5 42 fbff"), r#""-_8""#);
        assert_eq!(v("d7 42 fbff"), r#""fbff""#);
        assert_eq!(
            v("d6 a2 41 6b 82 41 ff d5 41 ff 61 74 63 616263"),
            r#"{"aw==":["/w==","_w"],"t":"abc"}"#
        );
        // Times: tag 0 text and tag 1 numbers become RFC 3339 text with nanoseconds.
        assert_eq!(
            v("c0 74 323032342d30312d30325430333a30343a30355a"),
            r#""2024-01-02T03:04:05Z""#
        );
        assert_eq!(
            v(
                "c0 78 26 323032342d30312d30325430333a30343a30352e3132333435363738393132332b30313a3030"
            ),
            r#""2024-01-02T03:04:05.123456789+01:00""#
        );
        assert_eq!(
            v("c0 78 1b 323032342d30312d30325430333a30343a30352e352d30303a3030"),
            r#""2024-01-02T03:04:05.5Z""#
        );
        assert_eq!(v("c1 1a 65937d25"), r#""2024-01-02T03:04:05Z""#);
        assert_eq!(v("c1 20"), r#""1969-12-31T23:59:59Z""#);
        assert_eq!(v("c1 f9 b800"), r#""1969-12-31T23:59:59.5Z""#);
        assert_eq!(v("c1 fb 41d964df49500000"), r#""2024-01-02T03:04:05.25Z""#);
        // Null keys: the first is "", a later one repeats the key before it.
        assert_eq!(v("a2 f6 01 41 62 02"), r#"{"":1,"b":2}"#);
        assert!(
            x("a2 41 61 01 f6 02")
                .unwrap_err()
                .contains(r#"duplicate map key "a" at map element index 1"#)
        );
        // A top-level null is no object.
        assert_eq!(
            served(&raw("f6")).unwrap_err(),
            "CBOR value is not an object"
        );
        // Invalid UTF-8 in a byte string is kept as Go's encoder sees it.
        assert_eq!(v("43 61ff62"), "\"a\u{fffd}b\"");
    }

    fn rejects(hex: &str, want: &str) {
        let e = x(hex).unwrap_err();
        assert!(e.starts_with("CBOR: ") && e.contains(want), "{hex}: {e}");
    }

    fn rejects_whole(value: &[u8], want: &str) {
        let e = served(value).unwrap_err();
        assert!(e.starts_with("CBOR: ") && e.contains(want), "{e}");
    }

    #[test]
    fn rejects_what_the_apiserver_rejects() {
        // Malformed.
        rejects_whole(
            &raw("a0 00"),
            "cbor: 1 bytes of extraneous data starting at index 4",
        );
        rejects_whole(&raw("a1 41 61"), "unexpected EOF");
        rejects_whole(&raw("a1 41 61 44 6162"), "unexpected EOF");
        rejects_whole(&raw("a1 41 61 19 01"), "unexpected EOF");
        rejects(
            "1c",
            "cbor: invalid additional information 28 for type positive integer",
        );
        rejects(
            "5e",
            "cbor: invalid additional information 30 for type byte string",
        );
        rejects(
            "1f",
            "cbor: invalid additional information 31 for type positive integer",
        );
        rejects("df", "cbor: invalid additional information 31 for type tag");
        rejects("ff", "cbor: unexpected \"break\" code");
        rejects("f8 10", "cbor: invalid simple value 16 for type primitives");
        rejects(
            "5f 61 61 ff",
            "cbor: wrong element type UTF-8 text string for indefinite-length byte string",
        );
        rejects(
            "5f 5f ff ff",
            "cbor: indefinite-length byte string chunk is not definite-length",
        );
        rejects("bf 41 61 ff", "cbor: unexpected \"break\" code");
        rejects_whole(&raw("a1 41 61 9f 01"), "unexpected EOF");
        rejects(
            "5b ffffffffffffffff",
            "cbor: byte string length 18446744073709551615 is too large, causing integer overflow",
        );
        rejects(
            "9b ffffffffffffffff",
            "cbor: array length 18446744073709551615 is too large, it would cause integer overflow",
        );
        rejects(
            "9b 0000000080000000",
            "cbor: exceeded max number of elements 2147483647 for CBOR array",
        );
        rejects(
            "bb 0000000000200001",
            "cbor: exceeded max number of key-value pairs 2097152 for CBOR map",
        );
        // Floats without a JSON form, at every width.
        for f in ["f9 7e00", "fa 7fc00000", "fb 7ff8000000000001"] {
            rejects(f, "is not accepted by protocol: floating-point NaN");
        }
        for f in ["f9 7c00", "f9 fc00", "fa ff800000", "fb 7ff0000000000000"] {
            rejects(f, "is not accepted by protocol: floating-point infinity");
        }
        rejects(
            "c2 41 01",
            "cbor: data item of cbor type tag is not accepted by protocol: bignum",
        );
        rejects("c3 41 01", "bignum");
        rejects("d9 03e8 c2 41 01", "bignum");
        // Simple values other than false, true and null; undefined.
        rejects(
            "f7",
            "cbor: data item of cbor type primitives is not accepted by protocol: simple value 23 is not recognized",
        );
        rejects("e0", "simple value 0 is not recognized");
        rejects("f8 20", "simple value 32 is not recognized");
        rejects("f8 ff", "simple value 255 is not recognized");
        // Integers outside int64 (never floats).
        rejects(
            "1b ffffffffffffffff",
            "cbor: cannot unmarshal positive integer into Go value of type int64 (18446744073709551615 overflows Go's int64)",
        );
        rejects(
            "1b 8000000000000000",
            "(9223372036854775808 overflows Go's int64)",
        );
        rejects(
            "3b 8000000000000000",
            "cbor: cannot unmarshal negative integer into Go value of type int64 (-9223372036854775809 overflows Go's int64)",
        );
        rejects(
            "3b ffffffffffffffff",
            "(-18446744073709551616 overflows Go's int64)",
        );
        // Text strings must be UTF-8, each chunk on its own.
        rejects("62 c328", "cbor: invalid UTF-8 string");
        rejects("7f 62 61c3 61 a9 ff", "cbor: invalid UTF-8 string");
        rejects("a1 62 c328 01", "cbor: invalid UTF-8 string");
        // Map keys: strings only, each once.
        rejects(
            "a2 41 61 01 41 61 02",
            r#"cbor: found duplicate map key "a" at map element index 1"#,
        );
        rejects("a2 41 61 01 61 61 02", r#"duplicate map key "a""#);
        rejects(
            "a2 d6 41 00 01 64 41413d3d 02",
            r#"duplicate map key "AA==""#,
        );
        rejects(
            "a1 01 02",
            "cbor: cannot unmarshal positive integer into Go value of type string",
        );
        rejects(
            "a1 20 02",
            "cbor: cannot unmarshal negative integer into Go value of type string",
        );
        rejects(
            "a1 80 02",
            "cbor: cannot unmarshal array into Go value of type string",
        );
        rejects(
            "a1 a0 02",
            "cbor: cannot unmarshal map into Go value of type string",
        );
        rejects(
            "a1 f5 02",
            "cbor: cannot unmarshal primitives into Go value of type string",
        );
        rejects(
            "a1 f9 3c00 02",
            "cbor: cannot unmarshal primitives into Go value of type string",
        );
        rejects("a1 f7 02", "simple value 23 is not recognized");
        rejects(
            "a1 c1 01 02",
            "cbor: cannot unmarshal positive integer into Go value of type string",
        );
        // Tags with content they cannot have.
        rejects(
            "c0 01",
            "cbor: tag number 0 must be followed by text string, got positive integer",
        );
        rejects(
            "c0 41 61",
            "cbor: tag number 0 must be followed by text string, got byte string",
        );
        rejects(
            "c1 41 61",
            "cbor: tag number 1 must be followed by integer or floating-point number, got byte string",
        );
        rejects("c1 f5", "got primitives");
        rejects("c1 c1 01", "got tag");
        rejects(
            "c0 6a 323032312d30322d3330",
            "cbor: cannot set 2021-02-30 for time.Time",
        );
        rejects(
            "c0 74 323032312d30322d33305430303a30303a30305a",
            "cbor: cannot set 2021-02-30T00:00:00Z for time.Time",
        );
        rejects(
            "c1 1b 000000e8d4a51000",
            "Time.MarshalText: year outside of range [0,9999]",
        );
        rejects("c1 3b 000000e8d4a51000", "year outside of range");
        rejects(
            "c1 fb 43e0000000000001",
            "(9.223372036854778e+18 overflows Go's int64)",
        );
        rejects(
            "c1 1b 8000000000000000",
            "cbor: cannot unmarshal positive integer into Go value of type time.Time (9223372036854775808 overflows Go's int64)",
        );
        // The top level is a map or null.
        rejects_whole(
            &raw("80"),
            "cbor: cannot unmarshal array into Go value of type map[string]interface {}",
        );
        rejects_whole(
            &raw("41 61"),
            "cbor: cannot unmarshal byte string into Go value of type map[string]interface {}",
        );
        rejects_whole(
            &raw("61 61"),
            "cbor: cannot unmarshal UTF-8 text string into Go value of type map[string]interface {}",
        );
        rejects_whole(&raw("61 ff"), "cbor: invalid UTF-8 string");
        rejects_whole(
            &raw("01"),
            "cbor: cannot unmarshal positive integer into Go value of type map[string]interface {}",
        );
        rejects_whole(
            &raw("f5"),
            "cbor: cannot unmarshal primitives into Go value of type map[string]interface {}",
        );
        rejects_whole(&raw("f7"), "simple value 23 is not recognized");
        rejects_whole(
            &raw("c0 61 61"),
            "cbor: cannot unmarshal UTF-8 text string into Go value of type map[string]interface {}",
        );
        rejects_whole(
            &raw("c1 80"),
            "cbor: tag number 1 must be followed by integer or floating-point number, got array",
        );
        assert_eq!(to_value(&[]).unwrap_err().message, "EOF");
    }

    #[test]
    fn which_error_wins() {
        // Malformed input anywhere comes before a value error anywhere.
        rejects("82 f7 1c", "invalid additional information 28");
        // Otherwise the first error, in order...
        rejects("82 f7 1b ffffffffffffffff", "simple value 23");
        rejects("82 82 f7 01 a2 41 61 01 41 61 02", "simple value 23");
        // ...except that a duplicate key replaces the errors before it in its map.
        rejects(
            "a3 41 61 f7 41 62 01 41 62 02",
            r#"duplicate map key "b" at map element index 2"#,
        );
        rejects(
            "a3 41 61 a1 41 63 f7 41 62 01 41 62 02",
            r#"duplicate map key "b""#,
        );
        // A key that fails skips its value (which is then never checked).
        rejects(
            "a2 01 f7 41 61 1b ffffffffffffffff",
            "positive integer into Go value of type string",
        );
    }

    /// `n` arrays, one inside the other, around an empty one.
    fn nested(n: usize) -> String {
        "81".repeat(n - 1) + "80"
    }

    #[test]
    fn nesting_limits() {
        // reshift's own limit: MAX_DEPTH arrays and maps, the top-level map included; the
        // served text then reads back.
        let ok = raw(&format!("a1 41 61 {}", nested(MAX_DEPTH - 1)));
        assert!(served(&ok).is_ok());
        assert!(decode_object(&ok, &View::STORED).is_ok());
        let deep = raw(&format!("a1 41 61 {}", nested(MAX_DEPTH)));
        rejects_whole(&deep, "arrays and maps nested more than 127 deep");
        let o = describe(b"k", &deep, "/registry");
        assert!(o.error.unwrap().contains("nested more than 127 deep"));
        // The apiserver's: 10,000 levels, checked before anything is decoded.
        rejects_whole(
            &raw(&format!("a1 41 61 {}", nested(10_000))),
            "cbor: exceeded max nested level 10000",
        );
        rejects_whole(
            &raw(&format!("a1 41 61 {}", "9f".repeat(10_000))),
            "cbor: exceeded max nested level 10000",
        );
        // Each tag after the first in a chain counts as a level.
        let tags = |n: usize| {
            raw(&format!(
                "a3 44 6b696e64 41 4b 41 78 {} 01 4a 61706956657273696f6e 42 7631",
                "d903e8".repeat(n)
            ))
        };
        assert!(served(&tags(10_000)).unwrap().contains(r#""x":1"#));
        rejects_whole(&tags(10_001), "cbor: exceeded max nested level 10000");
    }

    #[test]
    fn never_panics() {
        let mut inputs = vec![stored(&widget())];
        inputs.push(raw("a2 41 61 9f 5f 41 61 ff bf 61 62 c1 fb 41d964df49500000 ff ff d6 a1 41 6b 42 0102 41 62 f9 3c00"));
        for v in inputs {
            for cut in 0..v.len() {
                let _ = to_value(&v[..cut]);
                let _ = served(&v[..cut]);
            }
            for i in 3..v.len() {
                for b in [
                    0x00, 0x1b, 0x1f, 0x3b, 0x5b, 0x5f, 0x7f, 0x9b, 0x9f, 0xbb, 0xbf, 0xc0, 0xc1,
                    0xc2, 0xd6, 0xf7, 0xf9, 0xfb, 0xff,
                ] {
                    let mut w = v.clone();
                    w[i] = b;
                    let _ = served(&w);
                    let _ = describe(b"k", &w, "/registry");
                }
            }
        }
    }

    #[test]
    fn halves() {
        assert_eq!(f16_to_f64(0x3c00), 1.0);
        assert_eq!(f16_to_f64(0xc000), -2.0);
        assert_eq!(f16_to_f64(0x0001), 2f64.powi(-24));
        assert_eq!(f16_to_f64(0x03ff), 1023.0 * 2f64.powi(-24));
        assert_eq!(f16_to_f64(0x0400), 2f64.powi(-14));
        assert_eq!(f16_to_f64(0x7bff), 65504.0);
        assert!(f16_to_f64(0x8000).is_sign_negative());
        assert_eq!(f16_to_f64(0xfc00), f64::NEG_INFINITY);
        assert!(f16_to_f64(0x7e00).is_nan());
    }
}
