//! Seekable sinks for laying out a db before it is written: one that only counts how far
//! the writes reach, and one that writes into a map of a file already that long.

use std::io::{Error, ErrorKind, Result, Seek, SeekFrom, Write};

fn seek_to(pos: u64, end: u64, to: SeekFrom) -> Result<u64> {
    let p = match to {
        SeekFrom::Start(p) => Some(p),
        SeekFrom::Current(d) => pos.checked_add_signed(d),
        SeekFrom::End(d) => end.checked_add_signed(d),
    };
    p.ok_or_else(|| Error::new(ErrorKind::InvalidInput, "seek before the start"))
}

/// Counts: `len` is the furthest any write reached.
#[derive(Default)]
pub struct Counter {
    pos: u64,
    pub len: u64,
}

impl Write for Counter {
    fn write(&mut self, b: &[u8]) -> Result<usize> {
        self.pos += b.len() as u64;
        self.len = self.len.max(self.pos);
        Ok(b.len())
    }
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
}

impl Seek for Counter {
    fn seek(&mut self, to: SeekFrom) -> Result<u64> {
        self.pos = seek_to(self.pos, self.len, to)?;
        Ok(self.pos)
    }
}

/// Writes into a buffer (a map of the output file) at a position, never past its end,
/// touching only the bytes written: what a seek skips is left to others.
pub struct PtrSink {
    base: *mut u8,
    len: usize,
    pos: u64,
}

impl PtrSink {
    /// # Safety
    /// `base..base + len` must be valid for writes while the sink is used, and the bytes
    /// it is asked to write must not be read or written by anyone else meanwhile.
    pub unsafe fn new(base: *mut u8, len: usize) -> Self {
        PtrSink { base, len, pos: 0 }
    }
}

impl Write for PtrSink {
    fn write(&mut self, b: &[u8]) -> Result<usize> {
        let at = self.pos as usize;
        let end = at
            .checked_add(b.len())
            .filter(|&e| e <= self.len)
            .ok_or_else(|| Error::new(ErrorKind::WriteZero, "write past the laid-out end"))?;
        // SAFETY: `at..end` is inside the buffer (checked above); `new`'s contract makes
        // these bytes this sink's alone.
        unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), self.base.add(at), b.len()) };
        self.pos = end as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
}

impl Seek for PtrSink {
    fn seek(&mut self, to: SeekFrom) -> Result<u64> {
        self.pos = seek_to(self.pos, self.len as u64, to)?;
        Ok(self.pos)
    }
}
