//! Rendering of raw keys for people: UTF-8 as is when printable, escapes otherwise.

use std::borrow::Cow;

/// A key as text: printable UTF-8 unchanged; control characters escaped, invalid bytes
/// as `\xNN`.
pub fn printable(b: &[u8]) -> Cow<'_, str> {
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
