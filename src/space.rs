//! Giving a new file its length with the disk blocks behind it, before it is written
//! through a map. A store into a map of a file whose blocks the disk cannot provide kills
//! the process with SIGBUS; allocating them first turns a full disk into an error here.

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
