//! Read-only memory maps of input files. Inputs are opened read-only and mapped
//! read-only; an empty file is represented by an empty slice (mmap rejects length 0).

use crate::error::{Error, FileName, Result};
use memmap2::{Mmap, MmapOptions};
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

/// A read-only view of a whole file.
pub struct Mapped {
    name: FileName,
    map: Option<Mmap>,
}

impl Mapped {
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let meta = file.metadata().map_err(|e| Error::io(path, e))?;
        if !meta.is_file() {
            return Err(Error::io(
                path,
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"),
            ));
        }
        let map = if meta.len() == 0 {
            None
        } else {
            // SAFETY: the map is read-only and private to this process. Another process
            // truncating the file underneath would be a bug in that process; reshift reads
            // files of members that are stopped.
            let m = unsafe { MmapOptions::new().map(&file) }.map_err(|e| Error::io(path, e))?;
            #[cfg(unix)]
            {
                let _ = m.advise(memmap2::Advice::Sequential);
            }
            Some(m)
        };
        Ok(Mapped {
            name: Arc::from(path),
            map,
        })
    }

    pub fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }

    pub fn name(&self) -> &FileName {
        &self.name
    }
}

impl Mapped {
    /// The map as reference-counted bytes, so that decoded messages can hold slices of it
    /// without copying.
    pub fn into_bytes(self) -> bytes::Bytes {
        match self.map {
            Some(m) => bytes::Bytes::from_owner(m),
            None => bytes::Bytes::new(),
        }
    }
}
