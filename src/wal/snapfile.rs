//! `member/snap/<term>-<index>.snap` files: snappb `{1: crc, 2: data}` where `crc` is the
//! CRC-32C of `data` and `data` an encoded raftpb.Snapshot (its metadata: conf state, index,
//! term). `<n>.snap.db` files are dbs received from a leader.

use crate::error::{Error, FileName, Result};
use crate::mapped::Mapped;
use crate::pb::{raftpb, snappb};
use prost::Message;
use serde::Serialize;
use std::path::Path;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SnapInfo {
    pub file: String,
    pub term: u64,
    pub index: u64,
    pub voters: Vec<u64>,
    pub learners: Vec<u64>,
    /// Bytes of the v2 store the snapshot carries.
    pub data_bytes: usize,
}

/// Reads and verifies one `.snap` file.
pub fn read_snap(path: &Path) -> Result<SnapInfo> {
    let m = Mapped::open(path)?;
    let name: &FileName = m.name();
    let bytes = m.bytes();
    if bytes.is_empty() {
        return Err(Error::corrupt(name, 0, "empty snap file"));
    }
    let s = snappb::Snapshot::decode(bytes)
        .map_err(|e| Error::corrupt(name, 0, format!("snappb.snapshot does not decode: {e}")))?;
    let data = s.data.unwrap_or_default();
    let want = s.crc.unwrap_or(0);
    let got = crc32c::crc32c(&data);
    if want != got {
        return Err(Error::corrupt(
            name,
            0,
            format!("snap file CRC is {want:#010x}, its data gives {got:#010x}"),
        ));
    }
    let snap = raftpb::Snapshot::decode(data.clone())
        .map_err(|e| Error::corrupt(name, 0, format!("raftpb.Snapshot does not decode: {e}")))?;
    let md = snap.metadata.unwrap_or_default();
    let cs = md.conf_state.unwrap_or_default();
    let info = SnapInfo {
        file: path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
        term: md.term.unwrap_or(0),
        index: md.index.unwrap_or(0),
        voters: cs.voters,
        learners: cs.learners,
        data_bytes: snap.data.map_or(0, |d| d.len()),
    };
    if let Some((t, i)) = parse_snap_name(&info.file) {
        if (t, i) != (info.term, info.index) {
            return Err(Error::corrupt(
                name,
                0,
                format!(
                    "file name says term {t} index {i}, contents say term {} index {}",
                    info.term, info.index
                ),
            ));
        }
    }
    Ok(info)
}

/// `<term>-<index>.snap`, 16 hex digits each.
pub fn parse_snap_name(name: &str) -> Option<(u64, u64)> {
    let (t, i) = name.strip_suffix(".snap")?.split_once('-')?;
    if t.len() != 16 || i.len() != 16 {
        return None;
    }
    Some((
        u64::from_str_radix(t, 16).ok()?,
        u64::from_str_radix(i, 16).ok()?,
    ))
}

/// Every `.snap` file in `dir`, oldest first, each read and verified.
pub fn read_snaps(dir: &Path) -> Result<Vec<Result<SnapInfo>>> {
    let mut names: Vec<(u64, u64, std::path::PathBuf)> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let n = e.file_name().to_str()?.to_string();
            let (t, i) = parse_snap_name(&n)?;
            Some((t, i, e.path()))
        })
        .collect();
    names.sort();
    Ok(names.into_iter().map(|(_, _, p)| read_snap(&p)).collect())
}
