//! What the commands share: output formats, opening an input, printing keys.

use crate::bbolt::Db;
use crate::error::Result;
use crate::etcd::Keyspace;
use crate::source::Source;
use std::borrow::Cow;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// The input every read command takes.
#[derive(Debug, clap::Args)]
pub struct Input {
    /// A data dir (DIR/member/snap/db), a member dir, a db file, or an `etcdctl snapshot save` file.
    pub path: PathBuf,
}

impl Input {
    pub fn open(&self) -> Result<Source> {
        Source::open(&self.path)
    }

    /// Opens the input, builds its keyspace and hands both to `f`.
    pub fn with_keyspace<R>(
        &self,
        f: impl FnOnce(&Source, &Db<'_>, &Keyspace<'_>) -> Result<R>,
    ) -> Result<R> {
        let src = self.open()?;
        let db = src.db()?;
        let ks = Keyspace::build(&db)?;
        f(&src, &db, &ks)
    }
}

/// A key for a table: UTF-8 as is when printable, otherwise with `\xNN` escapes.
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

/// Writes `v` as one line of JSON.
pub fn json_line(out: &mut dyn Write, v: &impl serde::Serialize) -> Result<()> {
    serde_json::to_writer(&mut *out, v)
        .map_err(std::io::Error::from)
        .map_err(stdout_err)?;
    out.write_all(b"\n").map_err(stdout_err)
}

pub fn stdout_err(e: std::io::Error) -> crate::Error {
    crate::Error::io("<stdout>", e)
}

/// Parses a key given on the command line; `\xNN` escapes allow arbitrary bytes.
pub fn key_arg(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') && i + 4 <= b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 2..i + 4])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_escapes() {
        let raw = b"/a\x00b\xffc\n";
        let shown = printable(raw);
        assert_eq!(shown, "/a\\u{0}b\\xffc\\n");
        assert_eq!(key_arg("/a\\x00b\\xffc"), b"/a\x00b\xffc");
        assert_eq!(key_arg("plain\\x"), b"plain\\x");
    }
}
