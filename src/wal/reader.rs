//! Reading a WAL directory: every record of every segment, in order, with the CRC-32C
//! chain verified across records and segments.
//!
//! The chain: a running CRC starts at 0; each record other than a crc record extends it
//! with its data and must carry the result; a crc record (first in every segment) carries
//! the running value so far and restarts the chain from it.

use super::record::{CRC, Stop, first_nonzero, has_zero_sector, read_frame};
use super::segment::{SegmentName, list};
use crate::error::{Error, FileName, Result};
use crate::mapped::Mapped;
use bytes::Bytes;
use serde::Serialize;
use std::path::{Path, PathBuf};

pub struct Segment {
    pub name: SegmentName,
    pub file: FileName,
    pub bytes: Bytes,
}

/// An opened WAL directory; segments are mapped read-only.
pub struct Wal {
    pub dir: PathBuf,
    pub segments: Vec<Segment>,
}

/// One record, with its data as a zero-copy slice of the segment.
#[derive(Debug, Clone)]
pub struct Record {
    pub segment: usize,
    pub offset: usize,
    pub rtype: i64,
    pub crc: u32,
    pub data: Bytes,
}

/// How reading ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Ending {
    /// Every record was read; the rest of the last segment is zeros.
    Clean,
    /// The last segment ends in a partly written record (normal after a crash).
    Torn {
        segment: String,
        offset: u64,
        reason: String,
    },
    /// Bytes no writer could have left; records from here on are not trusted.
    Damaged {
        segment: String,
        offset: u64,
        reason: String,
    },
}

impl Ending {
    /// The damage as an error naming file and offset, if reading stopped at damage.
    pub fn damage(&self, wal: &Wal) -> Option<Error> {
        match self {
            Ending::Damaged {
                segment,
                offset,
                reason,
            } => {
                let file: FileName = std::sync::Arc::from(wal.dir.join(segment).as_path());
                Some(Error::corrupt(
                    &file,
                    *offset,
                    format!("WAL damaged: {reason}"),
                ))
            }
            _ => None,
        }
    }
}

impl Wal {
    pub fn open(dir: &Path) -> Result<Wal> {
        let mut segments = Vec::new();
        for name in list(dir)? {
            let path = dir.join(&name.file);
            let m = Mapped::open(&path)?;
            let file = m.name().clone();
            segments.push(Segment {
                name,
                file,
                bytes: m.into_bytes(),
            });
        }
        Ok(Wal {
            dir: dir.to_path_buf(),
            segments,
        })
    }

    pub fn records(&self) -> Records<'_> {
        Records {
            wal: self,
            seg: 0,
            off: 0,
            crc: 0,
            ending: None,
        }
    }
}

/// Iterates records; when it returns `None`, [`Records::ending`] says why.
pub struct Records<'w> {
    wal: &'w Wal,
    seg: usize,
    off: usize,
    crc: u32,
    ending: Option<Ending>,
}

impl Records<'_> {
    pub fn ending(&self) -> Option<&Ending> {
        self.ending.as_ref()
    }

    fn stop(&mut self, torn: bool, offset: usize, reason: String) -> Option<Record> {
        let segment = self.wal.segments[self.seg].name.file.clone();
        let offset = offset as u64;
        self.ending = Some(if torn {
            Ending::Torn {
                segment,
                offset,
                reason,
            }
        } else {
            Ending::Damaged {
                segment,
                offset,
                reason,
            }
        });
        None
    }
}

impl Iterator for Records<'_> {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        loop {
            if self.ending.is_some() {
                return None;
            }
            let Some(seg) = self.wal.segments.get(self.seg) else {
                self.ending = Some(Ending::Clean);
                return None;
            };
            let last = self.seg + 1 == self.wal.segments.len();
            let bytes = &seg.bytes[..];
            match read_frame(bytes, self.off) {
                Ok(f) => {
                    if f.rtype == CRC {
                        if self.crc != 0 && f.crc != self.crc {
                            let reason = format!(
                                "crc record holds {:#010x}, the chain so far is {:#010x}",
                                f.crc, self.crc
                            );
                            return self.stop(false, f.offset, reason);
                        }
                        self.crc = f.crc;
                    } else {
                        let c = crc32c::crc32c_append(self.crc, f.data);
                        if c != f.crc {
                            let torn = last && has_zero_sector(bytes, f.offset + 8, f.next);
                            let reason = format!(
                                "CRC mismatch in a {} record: it holds {:#010x}, its data gives {c:#010x}",
                                super::record::type_name(f.rtype),
                                f.crc
                            );
                            return self.stop(torn, f.offset, reason);
                        }
                        self.crc = c;
                    }
                    self.off = f.next;
                    return Some(Record {
                        segment: self.seg,
                        offset: f.offset,
                        rtype: f.rtype,
                        crc: f.crc,
                        data: seg.bytes.slice(f.data_offset..f.data_offset + f.data.len()),
                    });
                }
                Err(Stop::End) => {
                    let rest = bytes.get(self.off..).unwrap_or_default();
                    if let Some(p) = first_nonzero(rest) {
                        let at = self.off;
                        let reason = format!(
                            "the records stop at offset {at}, but non-zero bytes follow at offset {}",
                            at + p
                        );
                        // In the last segment this is a torn multi-sector write; elsewhere, damage.
                        return self.stop(last, at, reason);
                    }
                    self.seg += 1;
                    self.off = 0;
                }
                Err(Stop::Torn(reason)) => {
                    let at = self.off;
                    if last {
                        return self.stop(true, at, reason);
                    }
                    return self.stop(false, at, format!("segment is not the last, yet {reason}"));
                }
                Err(Stop::Corrupt(reason)) => {
                    let at = self.off;
                    return self.stop(false, at, reason);
                }
            }
        }
    }
}
