//! A file sink that starts the disk writes of what it has written every few MiB (Linux
//! `sync_file_range`), so that the fsync which ends a restore or an export waits for
//! little. It only writes to the file it is given.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};

/// Bytes written between two writeback starts, by default.
const EVERY: u64 = 32 << 20;

pub struct Writeback {
    file: File,
    /// Where the next writeback starts, the file position, and how far the file has
    /// been written.
    started: u64,
    pos: u64,
    written: u64,
    every: u64,
}

impl Writeback {
    pub fn new(file: File) -> Self {
        Self::every(file, EVERY)
    }

    /// Starts the writes each time `bytes` more have been written.
    pub fn every(file: File, bytes: u64) -> Self {
        Writeback {
            file,
            started: 0,
            pos: 0,
            written: 0,
            every: bytes.max(1),
        }
    }

    pub fn into_inner(self) -> File {
        self.file
    }

    fn start_writeback(&mut self) {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: a plain syscall on a descriptor this struct owns; a failure only
            // means the final fsync does all the work.
            unsafe {
                libc::sync_file_range(
                    self.file.as_raw_fd(),
                    self.started as libc::off64_t,
                    (self.written - self.started) as libc::off64_t,
                    libc::SYNC_FILE_RANGE_WRITE,
                );
            }
        }
        self.started = self.written;
    }
}

impl Write for Writeback {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.pos += n as u64;
        self.written = self.written.max(self.pos);
        if self.written >= self.started + self.every {
            self.start_writeback();
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl Seek for Writeback {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.pos = self.file.seek(pos)?;
        Ok(self.pos)
    }
}
