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
    /// Set when etcd is running on the db: the db is then a consistent private copy, or
    /// (opened with [`Source::open_in_place`]) the file itself, with `watch` set.
    pub live: Option<crate::live::Live>,
    /// For a db read where it lies (a running member's read in place, or one no etcd held
    /// when it was mapped): whether a commit has landed since.
    pub watch: Option<std::sync::Arc<crate::live::Watch>>,
    /// The temp file standard input was spooled into (removed when the source drops).
    spool: Option<crate::tempout::TempGuard>,
}

type Watch = Option<std::sync::Arc<crate::live::Watch>>;

/// Maps the db at `path`, or, when a running etcd holds it, takes a consistent copy (with
/// `in_place`, maps it too when its meta pages read as a consistent pair, and watches them).
/// A db no etcd holds is mapped and watched too (see [`Source::watch`]).
fn open_db(path: &Path, in_place: bool) -> Result<(Mapped, Option<crate::live::Live>, Watch)> {
    match crate::live::holder(path) {
        Some(h) => {
            if in_place {
                if let Some((map, live, watch)) = crate::live::in_place(path, &h)? {
                    return Ok((map, Some(live), Some(std::sync::Arc::new(watch))));
                }
            }
            let name: crate::error::FileName = std::sync::Arc::from(path);
            let (copy, live) = crate::live::consistent_copy(path, &name, &h)?;
            Ok((Mapped::owned(path, copy), Some(live), None))
        }
        None => {
            let map = Mapped::open(path)?;
            // No etcd holds the db now, but one may take it right after — one starting,
            // or reopening the file a defrag renamed into place — and commit while the map
            // is read: a reader that can take back its work checks the meta pages anyway.
            let watch = crate::live::Watch::of(path, &map)?.map(std::sync::Arc::new);
            Ok((map, None, watch))
        }
    }
}

impl Source {
    /// Opens `path` read-only. A snapshot file's sha256 trailer is verified here.
    pub fn open(path: &Path) -> Result<Source> {
        Source::open_with(path, false)
    }

    /// [`Source::open`], but a running member's db is read in place rather than copied
    /// (see [`crate::live::in_place`]): for a reader that checks `watch` before keeping
    /// what it read, and opens the source again with [`Source::open`] when etcd committed.
    pub fn open_in_place(path: &Path) -> Result<Source> {
        Source::open_with(path, true)
    }

    fn open_with(path: &Path, in_place: bool) -> Result<Source> {
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
            let (map, live, watch) = open_db(&db_path, in_place)?;
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
                live,
                watch,
                spool: None,
            });
        }
        let (map, live, watch) = open_db(path, in_place)?;
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
            live,
            watch,
            spool: None,
        })
    }

    /// Reads standard input to its end into a private (0600) temp file in the temp dir,
    /// removed when the source drops, and opens that: a snapshot or a db is read at
    /// random, which a pipe does not allow. The source's path is `-`.
    pub fn open_stdin() -> Result<Source> {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            ".reshift-stdin-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        let (guard, mut file) = crate::tempout::TempGuard::create(path.clone(), |p| o.open(p))
            .map_err(|e| Error::io(&path, e))?;
        std::io::copy(&mut std::io::stdin().lock(), &mut file)
            .map_err(|e| Error::io("<stdin>", e))?;
        drop(file);
        let mut src = Source::open(&path)?;
        src.path = PathBuf::from("-");
        src.spool = Some(guard);
        Ok(src)
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

/// Refuses to write `output` where it could overwrite or land inside the input at `input`:
/// the same file, anywhere inside the input's member (or data) dir, or a path the input
/// lies inside. `--force` does not lift this: it is about replacing other files.
pub fn refuse_output_over_input(input: &Path, output: &Path, what: &str) -> Result<()> {
    // Standard input or output cannot be the same file as the other.
    if input.as_os_str() == "-" || output.as_os_str() == "-" {
        return Ok(());
    }
    let inp = std::fs::canonicalize(input).map_err(|e| Error::io(input, e))?;
    let root = member_root(&inp);
    let out = resolve(output);
    let clash = out == inp || out.starts_with(&root) || inp.starts_with(&out);
    if clash {
        let how = if out == inp {
            "the input"
        } else {
            "inside or around the input"
        };
        return Err(Error::invalid(format!(
            "{what} {} is {how} {}: refusing to write over what is being read",
            output.display(),
            root.display()
        )));
    }
    Ok(())
}

/// The member or data dir a db file belongs to (`X/snap/db` gives `X`, or `X`'s parent when
/// `X` is a data dir's `member`); a file elsewhere, or a dir, is its own root.
fn member_root(p: &Path) -> PathBuf {
    if p.is_dir() {
        return p.to_path_buf();
    }
    let snap = p
        .parent()
        .filter(|d| d.file_name().is_some_and(|n| n == "snap"));
    match snap.and_then(Path::parent) {
        Some(member)
            if member.join("wal").is_dir() || member.file_name().is_some_and(|n| n == "member") =>
        {
            match member.parent() {
                Some(data) if member.file_name().is_some_and(|n| n == "member") => {
                    data.to_path_buf()
                }
                _ => member.to_path_buf(),
            }
        }
        _ => p.to_path_buf(),
    }
}

/// `p` made absolute with its symlinks resolved as far as it exists (an output usually
/// does not exist yet).
fn resolve(p: &Path) -> PathBuf {
    if let Ok(c) = std::fs::canonicalize(p) {
        return c;
    }
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut rest = Vec::new();
    let mut at = abs.as_path();
    loop {
        if let Ok(c) = std::fs::canonicalize(at) {
            let mut out = c;
            for r in rest.iter().rev() {
                out.push(r);
            }
            return out;
        }
        match (at.file_name(), at.parent()) {
            (Some(n), Some(parent)) => {
                rest.push(n.to_os_string());
                at = parent;
            }
            _ => return abs,
        }
    }
}
