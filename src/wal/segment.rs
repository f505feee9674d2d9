//! WAL segment files: `<seq>-<index>.wal`, each number 16 lowercase hex digits — the
//! segment's sequence number and the raft index of its first entry.

use crate::error::{Error, Result};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SegmentName {
    pub seq: u64,
    pub index: u64,
    pub file: String,
}

/// Parses a segment file name; `None` for anything else.
pub fn parse_name(name: &str) -> Option<SegmentName> {
    let stem = name.strip_suffix(".wal")?;
    let (seq, index) = stem.split_once('-')?;
    if seq.len() != 16 || index.len() != 16 {
        return None;
    }
    Some(SegmentName {
        seq: u64::from_str_radix(seq, 16).ok()?,
        index: u64::from_str_radix(index, 16).ok()?,
        file: name.to_string(),
    })
}

/// The segments in `dir`, in order; an error when their sequence numbers are not
/// contiguous (a segment is missing) or there are none.
pub fn list(dir: &Path) -> Result<Vec<SegmentName>> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut names = Vec::new();
    for e in rd {
        let e = e.map_err(|e| Error::io(dir, e))?;
        if let Some(n) = e.file_name().to_str().and_then(parse_name) {
            names.push(n);
        }
    }
    names.sort_by_key(|n| n.seq);
    if names.is_empty() {
        return Err(Error::invalid(format!(
            "{}: no WAL segments (<seq>-<index>.wal)",
            dir.display()
        )));
    }
    for w in names.windows(2) {
        if w[1].seq != w[0].seq + 1 {
            return Err(Error::invalid(format!(
                "{}: WAL segments not contiguous: {} is followed by {}",
                dir.display(),
                w[0].file,
                w[1].file
            )));
        }
        if w[1].index < w[0].index {
            return Err(Error::invalid(format!(
                "{}: WAL segment {} starts at an index below {}'s",
                dir.display(),
                w[1].file,
                w[0].file
            )));
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let n = parse_name("000000000000000a-00000000000003e8.wal").unwrap();
        assert_eq!((n.seq, n.index), (10, 1000));
        assert!(parse_name("0-0.wal").is_none());
        assert!(parse_name("000000000000000a-00000000000003e8.tmp").is_none());
        assert!(parse_name("000000000000000g-00000000000003e8.wal").is_none());
    }
}
