//! Rendering of raw keys for people: UTF-8 as is when printable, escapes otherwise.

use std::borrow::Cow;

/// A key as text: printable UTF-8 unchanged; control characters escaped, invalid bytes
/// as `\xNN`.
pub fn printable(b: &[u8]) -> Cow<'_, str> {
    // Most keys are printable ASCII: one pass over the bytes, no character decoding.
    if printable_ascii(b) {
        return Cow::Borrowed(std::str::from_utf8(b).unwrap_or_default());
    }
    match std::str::from_utf8(b) {
        Ok(s) if !s.chars().any(char::is_control) => Cow::Borrowed(s),
        _ => {
            let mut out = String::with_capacity(b.len() + 8);
            for chunk in b.utf8_chunks() {
                for c in chunk.valid().chars() {
                    if c.is_control() {
                        out.extend(c.escape_default());
                    } else {
                        out.push(c);
                    }
                }
                for x in chunk.invalid() {
                    out.push_str(&format!("\\x{x:02x}"));
                }
            }
            Cow::Owned(out)
        }
    }
}

/// Whether every byte is printable ASCII (0x20 to 0x7e), eight bytes at a time.
#[inline]
pub fn printable_ascii(b: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut words = b.chunks_exact(8);
    for w in &mut words {
        let x = u64::from_le_bytes(w.try_into().expect("8 bytes"));
        // a byte below 0x20, or a byte of 0x7f and above
        let low = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
        let high = (x.wrapping_add(ONES) | x) & HIGH;
        if low | high != 0 {
            return false;
        }
    }
    words.remainder().iter().all(|&c| (0x20..0x7f).contains(&c))
}

#[cfg(test)]
mod tests {
    use super::{printable, printable_ascii};
    use std::borrow::Cow;

    #[test]
    fn printable_escapes_only_what_it_must() {
        let cases: &[(&[u8], &str)] = &[
            (
                b"/registry/pods/default/web-1",
                "/registry/pods/default/web-1",
            ),
            (b" ~", " ~"),
            (
                "/registry/configmaps/é/ü".as_bytes(),
                "/registry/configmaps/é/ü",
            ),
            (b"a\x7fb", "a\\u{7f}b"),
            (b"a\nb\x00", "a\\nb\\u{0}"),
            (b"a\xffb", "a\\xffb"),
            (b"", ""),
        ];
        for (raw, want) in cases {
            assert_eq!(printable(raw), *want, "{raw:?}");
        }
        assert!(matches!(printable(b"/registry/a"), Cow::Borrowed(_)));
        assert!(matches!(printable("é".as_bytes()), Cow::Borrowed(_)));
    }

    #[test]
    fn printable_agrees_with_the_plain_test() {
        for n in 0..=255u8 {
            for len in [1, 7, 8, 9, 17] {
                let mut b = vec![b'a'; len];
                b[len / 2] = n;
                assert_eq!(printable_ascii(&b), (0x20..0x7f).contains(&n), "{n} {len}");
            }
        }
    }
}
