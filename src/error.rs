//! The crate's error type. Every error names the file it is about and, for format
//! errors, the byte offset and what the parser expected there.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A shared, cheaply cloned file name carried by readers so that errors can name their file.
pub type FileName = Arc<Path>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An operating-system error while opening, mapping or writing a file.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The bytes of a file are not what its format requires.
    #[error("{}: offset {offset}: {what}", file.display())]
    Corrupt {
        file: FileName,
        offset: u64,
        what: String,
    },
    /// The input is well formed but cannot answer the question (a revision below the
    /// compaction, a missing bucket or key, ...).
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub fn corrupt(file: &FileName, offset: u64, what: impl fmt::Display) -> Self {
        Error::Corrupt {
            file: file.clone(),
            offset,
            what: what.to_string(),
        }
    }

    pub fn invalid(what: impl fmt::Display) -> Self {
        Error::Invalid(what.to_string())
    }
}
