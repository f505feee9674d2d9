//! Where a snapshot's decoded records live while a command reads them all (the keyspace
//! views — `ls`, `inspect`, `history`, `dump --revision` — and a filtered restore): on the
//! heap when they are small, otherwise in a private, already-unlinked temp file mapped
//! into memory, so the pages are file-backed and the kernel can write them out under
//! memory pressure instead of the process's anonymous memory growing with the snapshot.
//! `RESHIFT_SPILL=1` spills any size, `RESHIFT_SPILL=0` never. The file is made in the temp
//! dir (`TMPDIR`): on a tmpfs its pages stay in memory; where it cannot hold the records,
//! the heap is used. (An unfiltered restore
//! needs neither: it decodes each chunk straight into the new db, see
//! [`crate::restore::placed`].)

use memmap2::MmapMut;
use std::ops::{Deref, DerefMut};

/// Buffers smaller than this stay on the heap unless `RESHIFT_SPILL=1`.
pub const SPILL_AT: usize = 128 << 20;

pub enum Records {
    Heap(Vec<u8>),
    Spilled(MmapMut),
}

impl Deref for Records {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Records::Heap(v) => v,
            Records::Spilled(m) => m,
        }
    }
}

impl DerefMut for Records {
    fn deref_mut(&mut self) -> &mut [u8] {
        match self {
            Records::Heap(v) => v,
            Records::Spilled(m) => m,
        }
    }
}

/// A zeroed buffer of `len` bytes: spilled when large (see the module docs) and the temp
/// dir allows it.
pub fn buffer(len: usize) -> Records {
    let wanted = match std::env::var_os("RESHIFT_SPILL") {
        Some(v) if v == "1" => len > 0,
        Some(v) if v == "0" => false,
        _ => len >= SPILL_AT,
    };
    if wanted {
        if let Some(m) = spill(len) {
            return Records::Spilled(m);
        }
    }
    Records::Heap(vec![0u8; len])
}

fn spill(len: usize) -> Option<MmapMut> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let path = std::env::temp_dir().join(format!(
        ".reshift-records-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let mut o = std::fs::OpenOptions::new();
    o.read(true).write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let file = o.open(&path).ok()?;
    // Unlinked at once: nothing is left behind, whatever happens next.
    let _ = std::fs::remove_file(&path);
    // Where the temp dir cannot hold the records, the heap is used instead.
    // SAFETY: the file was created by this process with mode 0600 and is already
    // unlinked, so no other process can open, map or truncate it.
    unsafe { crate::space::map_new(&file, len as u64) }.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spilled_buffer_is_zeroed_writable_and_leaves_no_file() {
        let spill_files = || -> Vec<_> {
            std::fs::read_dir(std::env::temp_dir())
                .unwrap()
                .filter_map(|e| e.ok())
                .map(|e| e.file_name())
                .filter(|n| n.to_string_lossy().starts_with(".reshift-records-"))
                .collect()
        };
        let before = spill_files();
        let mut m = spill(1 << 20).expect("the temp dir takes a file");
        assert!(m.iter().all(|&b| b == 0));
        m[12345] = 7;
        assert_eq!(m[12345], 7);
        let mut r = Records::Spilled(m);
        r[1] = 9;
        assert_eq!(&r[..2], &[0, 9]);
        let after = spill_files();
        assert_eq!(before, after, "the spill file is unlinked at once");
        assert!(matches!(buffer(10), Records::Heap(_)));
    }
}
