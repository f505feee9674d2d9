//! Writable maps of new files: the file gets its length with the disk blocks behind it
//! before it is mapped (a store into a map of a file whose blocks the disk cannot provide
//! kills the process with SIGBUS; allocating them first turns a full disk into an error),
//! and every page is faulted in ahead of the writes, in pieces on all cores.

use std::fs::File;
use std::io;

/// Sets `file`'s length to `len` with every block allocated (Linux: `fallocate`; where the
/// filesystem cannot, or elsewhere, a plain length, as before).
pub fn allocate(file: &File, len: u64) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let n = i64::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: a plain syscall on an open descriptor this function borrows.
        let r = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, n) };
        if r == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        // No space is the failure that matters; a filesystem without fallocate gets a
        // plain length.
        if e.raw_os_error() != Some(libc::EOPNOTSUPP) {
            return Err(e);
        }
    }
    file.set_len(len)
}

/// Gives the new, private `file` the length `len` (more than zero) with its blocks
/// allocated, and maps it for writing with every page faulted in at once: touching the
/// pages one at a time costs a fault each, which made writing through a map several times
/// slower than the heap. Kernels before 5.14 refuse the advice; the pages are then faulted
/// in as they are written.
///
/// # Safety
/// No other process or code may resize `file` while the map lives (a file this process
/// just created, unlinked or under a temp name, is such a file).
pub unsafe fn map_new(file: &File, len: u64) -> io::Result<memmap2::MmapMut> {
    allocate(file, len)?;
    // SAFETY: the caller keeps the file's length as it is while the map lives.
    let m = unsafe { memmap2::MmapOptions::new().map_mut(file) }?;
    #[cfg(target_os = "linux")]
    if populate_fits(len) {
        populate(&m);
    }
    Ok(m)
}

/// Whether faulting every page of a new `len`-byte map in at once stays under the amount of
/// dirty page cache at which the kernel starts writing back. Each page faulted in for writing
/// is dirty (zeroed); past that amount the kernel writes the zeroed pages out and then
/// writes them again once they are filled: restoring an 8 GB db wrote 66 GB to the disk
/// that way, where faulting the pages in as they are written wrote 8.9 GB (and took 59 s
/// instead of 90 s). When the kernel's settings cannot be read, the pages are faulted in.
#[cfg(target_os = "linux")]
fn populate_fits(len: u64) -> bool {
    let read = |p: &str| std::fs::read_to_string(p).ok();
    let available = read("/proc/meminfo").and_then(|m| {
        m.lines()
            .find_map(|l| l.strip_prefix("MemAvailable:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb.saturating_mul(1024))
    });
    let number = |p: &str| read(p).and_then(|v| v.trim().parse::<u64>().ok());
    match (
        available,
        number("/proc/sys/vm/dirty_background_bytes"),
        number("/proc/sys/vm/dirty_background_ratio"),
    ) {
        (Some(avail), bytes, ratio) => len <= writeback_threshold(avail, bytes, ratio),
        (None, ..) => true,
    }
}

/// The dirty bytes at which the kernel starts writing back: `dirty_background_bytes` when
/// set (not zero), else `dirty_background_ratio` percent (10 when unknown) of the memory
/// available for the page cache.
fn writeback_threshold(available: u64, bytes: Option<u64>, ratio: Option<u64>) -> u64 {
    match bytes {
        Some(b) if b > 0 => b,
        _ => available / 100 * ratio.unwrap_or(10),
    }
}

/// Faults every page of `m` in for writing, a piece per task on all cores. The kernel
/// brings each page of a new file into the page cache zeroed first (on ext4, about a
/// second a GB here); in one call on one thread that held up a restore before any chunk
/// was decoded, while the other core idled.
#[cfg(target_os = "linux")]
fn populate(m: &memmap2::MmapMut) {
    use rayon::prelude::*;
    const PIECE: usize = 16 << 20;
    (0..m.len().div_ceil(PIECE)).into_par_iter().for_each(|i| {
        let at = i * PIECE;
        let _ = m.advise_range(memmap2::Advice::PopulateWrite, at, PIECE.min(m.len() - at));
    });
}

#[cfg(test)]
mod tests {
    use super::writeback_threshold;

    #[test]
    fn pages_are_faulted_in_at_once_only_below_the_writeback_threshold() {
        let gib = 1u64 << 30;
        // 23 GiB available, the default 10%: a 1 GiB db is faulted in at once, 8 GiB not.
        let t = writeback_threshold(23 * gib, Some(0), Some(10));
        assert!(gib <= t && 8 * gib > t, "{t}");
        // An explicit byte count wins over the ratio.
        assert_eq!(
            writeback_threshold(23 * gib, Some(64 << 20), Some(10)),
            64 << 20
        );
        // Unknown ratio: the kernel's default of 10%.
        assert_eq!(writeback_threshold(100 * gib, None, None), 10 * gib);
    }
}
