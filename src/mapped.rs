//! Read-only memory maps of input files. Inputs are opened read-only and mapped
//! read-only; an empty file is represented by an empty slice (mmap rejects length 0).
//! A file being written by a running etcd is instead held as a private copy, or mapped
//! for a reader that checks it did not change (see [`crate::live`]).

use crate::error::{Error, FileName, Result};
use memmap2::{Mmap, MmapOptions};
use std::path::Path;
use std::sync::Arc;

/// A read-only view of a whole file.
pub struct Mapped {
    name: FileName,
    map: Option<Mmap>,
    /// A private copy of the file, used instead of a map.
    owned: Option<bytes::Bytes>,
}

impl Mapped {
    pub fn open(path: &Path) -> Result<Self> {
        // Opened without blocking: opening a FIFO for reading waits for a writer, forever
        // if none comes. What is not a regular file is refused before anything is read.
        let mut o = std::fs::OpenOptions::new();
        o.read(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.custom_flags(libc_nonblock());
        }
        let file = o.open(path).map_err(|e| Error::io(path, e))?;
        let meta = file.metadata().map_err(|e| Error::io(path, e))?;
        if !meta.is_file() {
            return Err(Error::io(
                path,
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!(
                        "not a regular file ({}): reshift reads files only",
                        kind_of(&meta)
                    ),
                ),
            ));
        }
        let map = if meta.len() == 0 {
            None
        } else {
            // SAFETY: the map is read-only and private to this process. Another process
            // truncating the file underneath would be a bug in that process; reshift reads
            // files of members that are stopped, or a running member's db in place
            // (`live::in_place`), which bbolt only ever grows while etcd has it open.
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
            owned: None,
        })
    }

    /// A copy of the file at `path` already read into memory.
    pub fn owned(path: &Path, bytes: Vec<u8>) -> Self {
        Mapped {
            name: Arc::from(path),
            map: None,
            owned: Some(bytes::Bytes::from(bytes)),
        }
    }

    pub fn bytes(&self) -> &[u8] {
        match &self.owned {
            Some(b) => b,
            None => self.map.as_deref().unwrap_or(&[]),
        }
    }

    pub fn name(&self) -> &FileName {
        &self.name
    }
}

impl Mapped {
    /// The map as reference-counted bytes, so that decoded messages can hold slices of it
    /// without copying.
    pub fn into_bytes(self) -> bytes::Bytes {
        if let Some(b) = self.owned {
            return b;
        }
        match self.map {
            Some(m) => bytes::Bytes::from_owner(m),
            None => bytes::Bytes::new(),
        }
    }
}

#[cfg(target_os = "linux")]
fn libc_nonblock() -> i32 {
    libc::O_NONBLOCK
}

#[cfg(all(unix, not(target_os = "linux")))]
fn libc_nonblock() -> i32 {
    0
}

/// What kind of non-regular file `meta` describes, for messages.
fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
    }
    if meta.is_dir() {
        "a directory"
    } else {
        "not a file"
    }
}
