//! The two meta pages (ids 0 and 1). Each holds, after the page header:
//! `magic u32, version u32, page_size u32, flags u32, root {pgid u64, sequence u64},
//! freelist pgid u64, high-water pgid u64, txid u64, checksum u64`, the checksum being
//! FNV-1a 64 of the 56 bytes before it. A writer alternates between them by txid, so
//! the valid one with the higher txid is the current state.

use super::page::{HEADER_SIZE, u32_at, u64_at};
use std::fmt;

pub const MAGIC: u32 = 0xED0C_DAED;
pub const VERSION: u32 = 2;
/// `freelist` value meaning the freelist is not stored in the file.
pub const NO_FREELIST: u64 = u64::MAX;
const META_SIZE: usize = 64;
const CHECKSUMMED: usize = 56;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub page_size: u32,
    pub flags: u32,
    pub root: u64,
    pub sequence: u64,
    pub freelist: u64,
    /// First page id past the end of the data in use.
    pub high_water: u64,
    pub txid: u64,
    pub checksum: u64,
}

/// Why a meta page was not usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaFault {
    Truncated { have: usize },
    Magic(u32),
    Version(u32),
    Checksum { stored: u64, computed: u64 },
    PageSize(u32),
}

impl fmt::Display for MetaFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            MetaFault::Truncated { have } => {
                write!(
                    f,
                    "meta needs {} bytes, {have} remain",
                    HEADER_SIZE + META_SIZE
                )
            }
            MetaFault::Magic(m) => write!(f, "magic is {m:#010x}, expected {MAGIC:#010x}"),
            MetaFault::Version(v) => write!(f, "version is {v}, expected {VERSION}"),
            MetaFault::Checksum { stored, computed } => write!(
                f,
                "checksum is {stored:#018x}, the meta's bytes give {computed:#018x}"
            ),
            MetaFault::PageSize(s) => {
                write!(f, "page size {s} is not a power of two in 512..=65536")
            }
        }
    }
}

pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

pub fn page_size_ok(size: u32) -> bool {
    size.is_power_of_two() && (512..=65536).contains(&size)
}

impl Meta {
    /// Parses and validates the meta stored in the page that starts at `page`.
    pub fn parse(page: &[u8]) -> Result<Meta, MetaFault> {
        let Some(m) = page.get(HEADER_SIZE..HEADER_SIZE + META_SIZE) else {
            return Err(MetaFault::Truncated { have: page.len() });
        };
        let magic = u32_at(m, 0);
        if magic != MAGIC {
            return Err(MetaFault::Magic(magic));
        }
        let version = u32_at(m, 4);
        if version != VERSION {
            return Err(MetaFault::Version(version));
        }
        let meta = Meta {
            page_size: u32_at(m, 8),
            flags: u32_at(m, 12),
            root: u64_at(m, 16),
            sequence: u64_at(m, 24),
            freelist: u64_at(m, 32),
            high_water: u64_at(m, 40),
            txid: u64_at(m, 48),
            checksum: u64_at(m, 56),
        };
        let computed = fnv1a64(&m[..CHECKSUMMED]);
        // bbolt accepts a zero checksum as "not written"; so do we.
        if meta.checksum != 0 && meta.checksum != computed {
            return Err(MetaFault::Checksum {
                stored: meta.checksum,
                computed,
            });
        }
        if !page_size_ok(meta.page_size) {
            return Err(MetaFault::PageSize(meta.page_size));
        }
        Ok(meta)
    }

    pub fn has_freelist(&self) -> bool {
        self.freelist != NO_FREELIST
    }
}

/// Encodes a meta page body (after the header) with its checksum; used by tests here and
/// by the writer.
pub fn encode(meta: &Meta) -> [u8; META_SIZE] {
    let mut m = [0u8; META_SIZE];
    m[0..4].copy_from_slice(&MAGIC.to_le_bytes());
    m[4..8].copy_from_slice(&VERSION.to_le_bytes());
    m[8..12].copy_from_slice(&meta.page_size.to_le_bytes());
    m[12..16].copy_from_slice(&meta.flags.to_le_bytes());
    m[16..24].copy_from_slice(&meta.root.to_le_bytes());
    m[24..32].copy_from_slice(&meta.sequence.to_le_bytes());
    m[32..40].copy_from_slice(&meta.freelist.to_le_bytes());
    m[40..48].copy_from_slice(&meta.high_water.to_le_bytes());
    m[48..56].copy_from_slice(&meta.txid.to_le_bytes());
    let sum = fnv1a64(&m[..CHECKSUMMED]);
    m[56..64].copy_from_slice(&sum.to_le_bytes());
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Meta {
        Meta {
            page_size: 4096,
            flags: 0,
            root: 3,
            sequence: 0,
            freelist: 2,
            high_water: 10,
            txid: 7,
            checksum: 0,
        }
    }

    #[test]
    fn fnv_known_values() {
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
    }

    #[test]
    fn round_trip_and_every_flip_detected() {
        let mut page = vec![0u8; 16];
        page.extend_from_slice(&encode(&sample()));
        let m = Meta::parse(&page).unwrap();
        assert_eq!(m.root, 3);
        assert_eq!(m.txid, 7);
        for i in 16..page.len() {
            let mut bad = page.clone();
            bad[i] ^= 0x40;
            assert!(Meta::parse(&bad).is_err(), "flip at {i} accepted");
        }
        assert!(matches!(
            Meta::parse(&page[..40]),
            Err(MetaFault::Truncated { .. })
        ));
    }
}
