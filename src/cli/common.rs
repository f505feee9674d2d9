//! What the commands share: output formats, opening an input, printing keys.

use crate::bbolt::Db;
pub use crate::display::printable;
use crate::error::Result;
use crate::etcd::Keyspace;
use crate::etcd::open::{WalState, WalSummary};
use crate::etcd::quorum::ClusterRead;
use crate::snapshot::Snapshot;
use crate::source::{Source, SourceKind};
use crate::wal::Ending;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// The input every read command takes.
#[derive(Debug, clap::Args)]
pub struct Input {
    /// A data dir (DIR/member/snap/db), a member dir, a db file, or an `etcdctl snapshot save` file.
    /// With --cluster: DIR1,DIR2,… every member's data dir of one cluster.
    pub path: PathBuf,
    /// Read the db alone: do not replay the WAL entries it has not applied.
    #[arg(long)]
    pub no_wal: bool,
    /// PATH is DIR1,DIR2,… (comma-separated): every member's data dir of one cluster that
    /// lost quorum. Read what the cluster serves when these members are restarted: the
    /// newest member's whole log on the most applied db it continues (see `reshift cluster`).
    #[arg(long, conflicts_with = "no_wal")]
    pub cluster: bool,
    /// Where the earlier files of an incremental snapshot's chain are, besides the
    /// directory of the file that names each (repeatable).
    #[arg(long, value_name = "DIR")]
    pub chain: Vec<PathBuf>,
}

/// How commands that print objects render them: which release's apiserver output to
/// reproduce, and whether to show the object as served (with its resourceVersion) or as
/// stored.
#[derive(Debug, Clone, clap::Args)]
pub struct ObjectArgs {
    /// Print objects as this Kubernetes release's apiserver serves them (1.27 to 1.37).
    #[arg(long, value_name = "X.Y", default_value_t = crate::k8s::schema::Release::NEWEST.to_string(), value_parser = parse_release)]
    pub kube_version: String,
    /// Print objects exactly as stored: no `metadata.resourceVersion`.
    #[arg(long)]
    pub as_stored: bool,
}

/// The object filters of `ls` and every command that takes them.
#[derive(Debug, Clone, clap::Args)]
pub struct FilterArgs {
    /// Only objects of this resource, named as kubectl takes it: `pods`, `po`, `deploy`,
    /// `deployments.apps`, `widgets.example.com`.
    #[arg(long)]
    pub resource: Option<String>,
    /// Only objects in this namespace.
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Only objects whose labels match (kubectl syntax: `a=b,c!=d,e in (f,g),!h`).
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// The apiserver's etcd prefix.
    #[arg(long, default_value = crate::k8s::DEFAULT_PREFIX)]
    pub k8s_prefix: String,
}

impl FilterArgs {
    /// The filter, with `typed` (a resource given another way) standing in for
    /// `--resource`.
    pub fn filter(&self, typed: Option<&str>) -> Result<crate::k8s::filter::ObjectFilter> {
        crate::k8s::filter::ObjectFilter::new(
            self.resource.as_deref().or(typed),
            self.namespace.as_deref(),
            self.selector.as_deref(),
        )
        .map_err(crate::Error::invalid)
    }
}

fn parse_release(s: &str) -> std::result::Result<String, String> {
    crate::k8s::schema::Release::parse(s).map(|r| r.to_string())
}

impl ObjectArgs {
    pub fn release(&self) -> crate::k8s::schema::Release {
        crate::k8s::schema::Release::parse(&self.kube_version)
            .unwrap_or(crate::k8s::schema::Release::NEWEST)
    }

    /// The view of an object last modified at `mod_revision`.
    pub fn view(&self, mod_revision: i64) -> crate::k8s::render::View {
        crate::k8s::render::View {
            release: self.release(),
            resource_version: (!self.as_stored).then_some(mod_revision),
        }
    }
}

/// An opened input: the source, its db (none for a reshift snapshot), and its keyspace
/// (with the WAL replayed).
pub struct Opened<'a> {
    pub src: &'a Source,
    pub db: Option<Db<'a>>,
    pub snapshot: Option<&'a Snapshot<'a>>,
    pub ks: Keyspace<'a>,
    pub wal: Option<&'a WalState>,
}

impl Input {
    /// Opens the one input; with `--cluster`, an error (the command reads one member).
    pub fn open(&self) -> Result<Source> {
        self.open_with(false)
    }

    /// [`Input::open`]; with `in_place`, a running member's db is read where it lies
    /// ([`Source::open_in_place`]) instead of copied.
    pub fn open_with(&self, in_place: bool) -> Result<Source> {
        if self.cluster {
            return Err(crate::Error::invalid(
                "--cluster reads the keyspace a cluster serves; this command reads one member's files: give one PATH",
            ));
        }
        let src = if self.path.as_os_str() == "-" {
            Source::open_stdin()?
        } else if in_place {
            Source::open_in_place(&self.path)?
        } else {
            Source::open(&self.path)?
        };
        if let Some(l) = &src.live {
            eprintln!("reshift: note: {l}");
        }
        Ok(src)
    }

    /// The one input opened, or None with `--cluster`.
    pub fn single(&self) -> Result<Option<Source>> {
        self.single_with(false)
    }

    /// [`Input::single`], with `in_place` as [`Input::open_with`] takes it.
    pub fn single_with(&self, in_place: bool) -> Result<Option<Source>> {
        if self.cluster {
            return Ok(None);
        }
        self.open_with(in_place).map(Some)
    }

    /// Every path the input names: the member dirs with `--cluster`, else PATH.
    pub fn paths(&self) -> Vec<PathBuf> {
        if !self.cluster {
            return vec![self.path.clone()];
        }
        cluster_paths(&self.path)
    }

    /// Opens the input, builds its keyspace, replays the WAL onto it unless `--no-wal`,
    /// warns on stderr about a torn or damaged WAL, and hands the result to `f`.
    pub fn with_keyspace<R>(&self, f: impl FnOnce(&Opened<'_>) -> Result<R>) -> Result<R> {
        self.keyspace_of(self.single()?, f)
    }

    /// [`Input::with_keyspace`] of this input and of `other` at once: two member dirs or
    /// dbs are opened first and their keyspaces built side by side (each with its WAL
    /// replayed), other sources one after the other.
    pub fn with_two_keyspaces<R>(
        &self,
        other: &Input,
        f: impl FnOnce(&Opened<'_>, &Opened<'_>) -> Result<R>,
    ) -> Result<R> {
        let (sa, sb) = (self.single()?, other.single()?);
        let (a, b) = match (sa, sb) {
            (Some(a), Some(b))
                if a.kind != SourceKind::ReshiftSnapshot
                    && b.kind != SourceKind::ReshiftSnapshot =>
            {
                (a, b)
            }
            (sa, sb) => return self.keyspace_of(sa, |o| other.keyspace_of(sb, |n| f(o, n))),
        };
        let (da, db) = (a.db()?, b.db()?);
        let (ra, rb) = rayon::join(
            || crate::etcd::open::keyspace_and_wal(&a, &da, !self.no_wal),
            || crate::etcd::open::keyspace_and_wal(&b, &db, !other.no_wal),
        );
        let ((base_a, wal_a), (base_b, wal_b)) = (ra?, rb?);
        fn with_wal<'x>(
            src: &Source,
            base: Keyspace<'x>,
            wal: &'x Option<WalState>,
        ) -> Keyspace<'x> {
            match wal {
                Some(w) => {
                    // A running member's WAL always ends in the record being written.
                    if src.live.is_none() {
                        warn_wal(&w.summary);
                    }
                    base.with_replay(&w.replayed)
                }
                None => base,
            }
        }
        let ks_a = with_wal(&a, base_a, &wal_a);
        let ks_b = with_wal(&b, base_b, &wal_b);
        f(
            &Opened {
                src: &a,
                db: Some(da),
                snapshot: None,
                ks: ks_a,
                wal: wal_a.as_ref(),
            },
            &Opened {
                src: &b,
                db: Some(db),
                snapshot: None,
                ks: ks_b,
                wal: wal_b.as_ref(),
            },
        )
    }

    /// [`Input::with_keyspace`] for a source already opened (None with `--cluster`).
    pub fn keyspace_of<R>(
        &self,
        src: Option<Source>,
        f: impl FnOnce(&Opened<'_>) -> Result<R>,
    ) -> Result<R> {
        let Some(src) = src else {
            return self.cluster_keyspace(f);
        };
        if src.kind == SourceKind::ReshiftSnapshot {
            let snap = src.snapshot()?;
            if snap.is_incremental() {
                // The chain's latest state, from every file of it.
                let chain = crate::snapshot::chain::Chain::resolve(&snap, &src.path, &self.chain)?;
                let mut snaps = chain.snapshots()?;
                snaps.push(snap);
                let decoded = crate::snapshot::chain::decode(&snaps)?;
                let ks = crate::snapshot::chain::keyspace(&snaps, &decoded)?;
                return f(&Opened {
                    src: &src,
                    db: None,
                    snapshot: snaps.last(),
                    ks,
                    wal: None,
                });
            }
            let (flat, ranges) = snap.all_chunks_flat()?;
            let chunks: Vec<&[u8]> = ranges.into_iter().map(|r| &flat[r]).collect();
            let ks = crate::snapshot::open::keyspace(&snap, &chunks)?;
            return f(&Opened {
                src: &src,
                db: None,
                snapshot: Some(&snap),
                ks,
                wal: None,
            });
        }
        let db = src.db()?;
        let (base, wal) = crate::etcd::open::keyspace_and_wal(&src, &db, !self.no_wal)?;
        with_wal(&src, db, base, wal.as_ref(), f)
    }
}

impl Input {
    /// [`Input::keyspace_of`] for a reader of what changed after revision `after` only:
    /// a db source's keyspace then holds only its records after `after` when that is all a
    /// reader of changes needs (see [`crate::etcd::open::changes_and_wal`]); otherwise, and
    /// for every other source, the whole keyspace.
    pub fn changes_of<R>(
        &self,
        src: Option<Source>,
        after: i64,
        f: impl FnOnce(&Opened<'_>) -> Result<R>,
    ) -> Result<R> {
        let src = match src {
            Some(s) if s.kind != SourceKind::ReshiftSnapshot => s,
            other => return self.keyspace_of(other, f),
        };
        let db = src.db()?;
        let Some((changes, wal)) =
            crate::etcd::open::changes_and_wal(&src, &db, after, !self.no_wal)?
        else {
            return self.keyspace_of(Some(src), f);
        };
        with_wal(&src, db, changes, wal.as_ref(), f)
    }
}

/// Hands `f` a db source's keyspace `base` with the WAL's entries replayed on it (warning
/// of a damaged or unusual WAL unless etcd is running).
fn with_wal<'a, R>(
    src: &'a Source,
    db: Db<'a>,
    base: Keyspace<'a>,
    wal: Option<&'a WalState>,
    f: impl FnOnce(&Opened<'_>) -> Result<R>,
) -> Result<R> {
    let ks = match wal {
        Some(w) => {
            // A running member's WAL always ends in the record being written.
            if src.live.is_none() {
                warn_wal(&w.summary);
            }
            base.with_replay(&w.replayed)
        }
        None => base,
    };
    f(&Opened {
        src,
        db: Some(db),
        snapshot: None,
        ks,
        wal,
    })
}

impl Input {
    /// The keyspace the cluster of `--cluster` serves after a restart.
    fn cluster_keyspace<R>(&self, f: impl FnOnce(&Opened<'_>) -> Result<R>) -> Result<R> {
        let cr = ClusterRead::open(&self.paths())?;
        let v = &cr.view;
        if !v.served_certain {
            let others: Vec<String> = v
                .possible_winners
                .iter()
                .filter(|w| Some(&w.member) != v.newest.as_ref())
                .map(|w| format!("{} (index {})", w.member, w.last_index))
                .collect();
            eprintln!(
                "reshift: warning: reading what the cluster serves if {} wins the election (index {}); {} could win too, depending on election timing, and would serve its own log",
                v.newest.as_deref().unwrap_or("?"),
                v.served_index.unwrap_or(0),
                others.join(", ")
            );
        }
        let src = cr.db_source()?;
        let db = src.db()?;
        let base = Keyspace::build(&db)?;
        let wal = cr.served(&db, &base)?;
        warn_wal(&wal.summary);
        let ks = base.with_replay(&wal.replayed);
        f(&Opened {
            src,
            db: Some(db),
            snapshot: None,
            ks,
            wal: Some(&wal),
        })
    }
}

/// The member dirs of a `--cluster` PATH (comma-separated; empty parts skipped).
pub fn cluster_paths(p: &std::path::Path) -> Vec<PathBuf> {
    p.as_os_str()
        .to_string_lossy()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .collect()
}

fn warn_wal(s: &WalSummary) {
    match &s.ending {
        Ending::Clean => {}
        Ending::Torn {
            segment,
            offset,
            reason,
        } => eprintln!(
            "reshift: warning: the WAL ends in a torn record ({segment} offset {offset}: {reason}); every entry before it was replayed"
        ),
        Ending::Damaged {
            segment,
            offset,
            reason,
        } => eprintln!(
            "reshift: warning: the WAL is damaged at {}/{segment} offset {offset}: {reason}; replay stopped before it, at index {}",
            s.dir, s.replay.applied_index
        ),
    }
}

/// Writes `v` as one line of JSON.
pub fn json_line(out: &mut dyn Write, v: &impl serde::Serialize) -> Result<()> {
    serde_json::to_writer(&mut *out, v)
        .map_err(std::io::Error::from)
        .map_err(stdout_err)?;
    out.write_all(b"\n").map_err(stdout_err)
}

pub fn stdout_err(e: std::io::Error) -> crate::Error {
    crate::Error::io("<stdout>", e)
}

/// Parses a key given on the command line; `\xNN` escapes allow arbitrary bytes.
pub fn key_arg(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') && i + 4 <= b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 2..i + 4])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_escapes() {
        let raw = b"/a\x00b\xffc\n";
        let shown = printable(raw);
        assert_eq!(shown, "/a\\u{0}b\\xffc\\n");
        assert_eq!(key_arg("/a\\x00b\\xffc"), b"/a\x00b\xffc");
        assert_eq!(key_arg("plain\\x"), b"plain\\x");
    }
}
