//! Revision keys of etcd's `key` bucket: 8-byte big-endian main revision, `_`, 8-byte
//! big-endian sub revision (17 bytes), plus a trailing `t` for a tombstone (18 bytes).

use std::fmt;

pub const REV_KEY_LEN: usize = 17;
pub const TOMBSTONE_KEY_LEN: usize = 18;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Revision {
    pub main: i64,
    pub sub: i64,
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.main, self.sub)
    }
}

/// A parsed `key`-bucket key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevKey {
    pub rev: Revision,
    pub tombstone: bool,
}

/// Parses a revision key; `Err` says what is wrong with it.
pub fn parse_rev_key(b: &[u8]) -> Result<RevKey, &'static str> {
    let tombstone = match b.len() {
        REV_KEY_LEN => false,
        TOMBSTONE_KEY_LEN if b[17] == b't' => true,
        TOMBSTONE_KEY_LEN => return Err("an 18-byte revision key must end in 't'"),
        _ => return Err("a revision key must be 17 or 18 bytes"),
    };
    if b[8] != b'_' {
        return Err("byte 8 of a revision key must be '_'");
    }
    let main = i64::from_be_bytes(b[0..8].try_into().expect("8 bytes"));
    let sub = i64::from_be_bytes(b[9..17].try_into().expect("8 bytes"));
    Ok(RevKey {
        rev: Revision { main, sub },
        tombstone,
    })
}

/// Encodes a revision key (17 bytes, or 18 with the tombstone mark).
pub fn encode_rev_key(rev: Revision, tombstone: bool) -> Vec<u8> {
    let mut k = Vec::with_capacity(TOMBSTONE_KEY_LEN);
    k.extend_from_slice(&rev.main.to_be_bytes());
    k.push(b'_');
    k.extend_from_slice(&rev.sub.to_be_bytes());
    if tombstone {
        k.push(b't');
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects() {
        let r = Revision { main: 300, sub: 2 };
        let k = encode_rev_key(r, false);
        assert_eq!(
            parse_rev_key(&k),
            Ok(RevKey {
                rev: r,
                tombstone: false
            })
        );
        let t = encode_rev_key(r, true);
        assert_eq!(
            parse_rev_key(&t),
            Ok(RevKey {
                rev: r,
                tombstone: true
            })
        );
        let mut bad = t.clone();
        bad[17] = b'x';
        assert!(parse_rev_key(&bad).is_err());
        let mut bad = k.clone();
        bad[8] = b'-';
        assert!(parse_rev_key(&bad).is_err());
        assert!(parse_rev_key(&k[..16]).is_err());
        // Big-endian keys sort by revision.
        assert!(
            encode_rev_key(Revision { main: 255, sub: 9 }, false)
                < encode_rev_key(Revision { main: 256, sub: 0 }, false)
        );
    }
}
