//! Rendering of raw keys for people: UTF-8 as is when printable, escapes otherwise.

use std::borrow::Cow;

/// A key as text: printable UTF-8 unchanged; control characters escaped, invalid bytes
/// as `\xNN`.
pub fn printable(b: &[u8]) -> Cow<'_, str> {
    // Most keys are printable ASCII: one pass over the bytes, no character decoding.
    if b.iter().all(|&x| (0x20..0x7f).contains(&x)) {
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

#[cfg(test)]
mod tests {
    use super::printable;
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
}
