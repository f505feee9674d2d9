//! Resolves what the user pointed at — a data dir, a member dir, a bbolt db file, or an
//! `etcdctl snapshot save` file — into read-only maps of the files reshift reads.

use crate::bbolt::Db;
use crate::error::{Error, Result};
use crate::mapped::Mapped;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// What kind of input a path turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// `DIR/member/snap/db` (and `DIR/member/wal`).
    DataDir,
    /// `DIR/snap/db` (and `DIR/wal`).
    MemberDir,
    /// A bare bbolt file.
    DbFile,
    /// A bbolt file followed by the 32-byte sha256 of it, as `etcdctl snapshot save` writes.
    EtcdctlSnapshot,
    /// A reshift snapshot file.
    ReshiftSnapshot,
}

/// etcd's rule for a hash trailer: the file size is a multiple of 512 plus 32.
const TRAILER: usize = 32;

/// An opened input: the db map plus where its WAL and snap files live, if anywhere.
pub struct Source {
    pub kind: SourceKind,
    pub path: PathBuf,
    pub db_path: PathBuf,
    pub wal_dir: Option<PathBuf>,
    pub snap_dir: Option<PathBuf>,
    map: Mapped,
    db_len: usize,
}

impl Source {
    /// Opens `path` read-only. A snapshot file's sha256 trailer is verified here.
    pub fn open(path: &Path) -> Result<Source> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.is_dir() {
            let (kind, member) = if path.join("member/snap/db").is_file() {
                (SourceKind::DataDir, path.join("member"))
            } else if path.join("snap/db").is_file() {
                (SourceKind::MemberDir, path.to_path_buf())
            } else {
                return Err(Error::invalid(format!(
                    "{}: not an etcd data dir: neither member/snap/db nor snap/db exists",
                    path.display()
                )));
            };
            let db_path = member.join("snap/db");
            let map = Mapped::open(&db_path)?;
            let db_len = map.bytes().len();
            let wal = member.join("wal");
            return Ok(Source {
                kind,
                path: path.to_path_buf(),
                wal_dir: wal.is_dir().then_some(wal),
                snap_dir: Some(member.join("snap")),
                db_path,
                map,
                db_len,
            });
        }
        let map = Mapped::open(path)?;
        let len = map.bytes().len();
        let (kind, db_len) = if crate::snapshot::is_snapshot(map.bytes()) {
            (SourceKind::ReshiftSnapshot, 0)
        } else if len % 512 == TRAILER && len > TRAILER {
            let db_len = len - TRAILER;
            let bytes = map.bytes();
            let digest = Sha256::digest(&bytes[..db_len]);
            if digest.as_slice() != &bytes[db_len..] {
                return Err(Error::corrupt(
                    map.name(),
                    db_len as u64,
                    "the sha256 trailer of this etcdctl snapshot does not match its contents: the file is damaged",
                ));
            }
            (SourceKind::EtcdctlSnapshot, db_len)
        } else {
            (SourceKind::DbFile, len)
        };
        Ok(Source {
            kind,
            path: path.to_path_buf(),
            db_path: path.to_path_buf(),
            wal_dir: None,
            snap_dir: None,
            map,
            db_len,
        })
    }

    /// The bbolt database (without any hash trailer).
    pub fn db(&self) -> Result<Db<'_>> {
        if self.kind == SourceKind::ReshiftSnapshot {
            return Err(Error::invalid(format!(
                "{}: a reshift snapshot holds no bbolt db; restore it to get one",
                self.path.display()
            )));
        }
        Db::open(&self.map.bytes()[..self.db_len], self.map.name())
    }

    /// The reshift snapshot this source is.
    pub fn snapshot(&self) -> Result<crate::snapshot::Snapshot<'_>> {
        crate::snapshot::Snapshot::open(self.map.bytes(), self.map.name())
    }

    /// Size of the input file.
    pub fn file_len(&self) -> u64 {
        self.map.bytes().len() as u64
    }

    /// Size of the db file in bytes (without any hash trailer).
    pub fn db_len(&self) -> u64 {
        self.db_len as u64
    }
}
