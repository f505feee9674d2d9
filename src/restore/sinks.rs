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

/// Writes into `buf` (a map of the output file) at a position; never past its end.
pub struct SliceSink<'a> {
    pub buf: &'a mut [u8],
    pos: u64,
}

impl<'a> SliceSink<'a> {
    pub fn new(buf: &'a mut [u8]) -> Self {
        SliceSink { buf, pos: 0 }
    }
}

impl Write for SliceSink<'_> {
    fn write(&mut self, b: &[u8]) -> Result<usize> {
        let at = self.pos as usize;
        let end = at
            .checked_add(b.len())
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| Error::new(ErrorKind::WriteZero, "write past the laid-out end"))?;
        self.buf[at..end].copy_from_slice(b);
        self.pos = end as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
}

impl Seek for SliceSink<'_> {
    fn seek(&mut self, to: SeekFrom) -> Result<u64> {
        self.pos = seek_to(self.pos, self.buf.len() as u64, to)?;
        Ok(self.pos)
    }
}
