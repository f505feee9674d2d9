//! `reshift restore`: a new member data dir that etcd starts from, or a standalone db.

use super::common::{Input, json_line};
use crate::error::{Error, Result};
use crate::etcd::buckets::Extras;
use crate::etcd::lease::read_leases;
use crate::etcd::open::leases;
use crate::restore::db::Source;
use crate::restore::member::{Cluster, write_member_dir};
use crate::snapshot::extras;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  reshift restore etcd.rsnap --data-dir /var/lib/etcd-new\n  reshift restore /var/lib/etcd --data-dir /srv/etcd --name m1 \\\n    --initial-cluster m1=https://10.0.0.1:2380,m2=https://10.0.0.2:2380,m3=https://10.0.0.3:2380\n  reshift restore etcd.rsnap --db-out restored.db\n  reshift restore /var/lib/etcd --revision 4200 --bump-revision 100000 --mark-compacted --data-dir /srv/etcd-past"
)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["data_dir", "db_out"])))]
pub struct Args {
    #[command(flatten)]
    pub input: Input,
    /// Write a member data dir (DIR/member/snap/db and DIR/member/wal) that etcd starts
    /// from as a new cluster. DIR must not exist or be empty.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Write a standalone db followed by its sha256 (what `etcdctl snapshot restore` takes).
    #[arg(long)]
    pub db_out: Option<PathBuf>,
    /// This member's name.
    #[arg(long, default_value = "default")]
    pub name: String,
    /// The new cluster's members: NAME=PEER_URL,... (default NAME=ADVERTISE_URL).
    #[arg(long)]
    pub initial_cluster: Option<String>,
    #[arg(long, default_value = "etcd-cluster")]
    pub initial_cluster_token: String,
    #[arg(long, default_value = "http://localhost:2380")]
    pub initial_advertise_peer_urls: String,
    /// Only keys with this prefix (repeatable). Kept keys keep their revisions; the store's
    /// revision becomes the last revision kept.
    #[arg(long)]
    pub prefix: Vec<String>,
    /// Leave out keys with this prefix (repeatable).
    #[arg(long)]
    pub exclude: Vec<String>,
    /// Only Kubernetes objects in this namespace.
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Raise the store's revision by N after restoring (so watchers and caches see a newer
    /// revision than any they knew).
    #[arg(long, default_value_t = 0)]
    pub bump_revision: u64,
    /// Mark the (bumped) latest revision compacted: etcd compacts there when it starts, so
    /// clients watching older revisions must re-list.
    #[arg(long)]
    pub mark_compacted: bool,
    /// Restore the keyspace as it was at this revision: every revision up to it, the
    /// store's revision set to it. For a Kubernetes keyspace, --bump-revision and
    /// --mark-compacted keep apiservers' caches and watchers from trusting what they knew.
    #[arg(long)]
    pub revision: Option<i64>,
    /// Replace an existing --db-out file.
    #[arg(long)]
    pub force: bool,
}

pub fn run(a: &Args, out: &mut dyn Write) -> Result<()> {
    // Check the membership before reading anything.
    let cluster = match &a.data_dir {
        Some(_) => Some(Cluster::new(
            &a.name,
            a.initial_cluster.as_deref(),
            &a.initial_advertise_peer_urls,
            &a.initial_cluster_token,
        )?),
        None => None,
    };
    let filter = crate::snapshot::Options {
        prefixes: a.prefix.iter().map(|p| super::common::key_arg(p)).collect(),
        excludes: a
            .exclude
            .iter()
            .map(|p| super::common::key_arg(p))
            .collect(),
        namespace: a.namespace.clone(),
        ..Default::default()
    };
    let filtered =
        !filter.prefixes.is_empty() || !filter.excludes.is_empty() || filter.namespace.is_some();
    if a.bump_revision > i64::MAX as u64 / 2 {
        return Err(Error::invalid("--bump-revision is too large"));
    }
    for input in a.input.paths() {
        if let Some(d) = &a.db_out {
            crate::source::refuse_output_over_input(&input, d, "--db-out")?;
        }
        if let Some(d) = &a.data_dir {
            crate::source::refuse_output_over_input(&input, d, "--data-dir")?;
        }
    }
    let src = a.input.single()?;
    if let Some(src) = src.as_ref().filter(|s| {
        s.kind == crate::source::SourceKind::ReshiftSnapshot && !filtered && a.revision.is_none()
    }) {
        // Straight from the chunks into the new db, in flat memory, when the snapshot
        // carries its records' heads (format 3).
        let snap = src.snapshot()?;
        // An incremental snapshot is restored from its chain's state, below.
        let placed = if snap.is_incremental() {
            None
        } else {
            crate::restore::placed::plan(&snap, a.bump_revision as i64, a.mark_compacted)?
        };
        if let Some(placed) = placed {
            let mut e = snap.extras()?;
            let l = read_leases(&Extras(e.clone()))?;
            extras::override_from(&mut e, &placed.ks, &l);
            return write_out(
                a,
                cluster.as_ref(),
                Source::Snapshot(&snap, &placed),
                e,
                (placed.total_revisions(), placed.ks.revision),
                out,
            );
        }
    }
    a.input.keyspace_of(src, |o| {
        // A filtered restore keeps the chosen keys' revisions and the store's revision; one
        // at a revision keeps every revision up to it.
        let kept;
        if let Some(rev) = a.revision {
            o.ks.check_revision(rev)?;
            let kubernetes = o.ks.state(b"/registry/", Some(rev))?.next().is_some();
            if kubernetes && rev < o.ks.revision && a.bump_revision == 0 && !a.mark_compacted {
                eprintln!(
                    "reshift: warning: restoring a Kubernetes keyspace to an earlier revision ({rev} < {}): \
                     apiservers and controllers hold newer resourceVersions; consider \
                     --bump-revision {} --mark-compacted so they re-list",
                    o.ks.revision,
                    o.ks.revision - rev + 1000
                );
            }
        }
        let upto = a.revision.unwrap_or(i64::MAX);
        let ks = if filtered || a.revision.is_some() {
            let recs =
                o.ks.records()
                    .iter()
                    .copied()
                    .filter(|r| r.rev.main <= upto)
                    .filter(|r| !filtered || crate::snapshot::writer::selected(r.key, &filter))
                    .collect();
            let mut k = crate::etcd::Keyspace::from_records(recs, o.ks.meta.clone());
            k.revision = a.revision.unwrap_or(o.ks.revision);
            k.compact_revision = o.ks.compact_revision;
            kept = k;
            &kept
        } else {
            &o.ks
        };
        let bumped;
        let ks = if a.bump_revision > 0 || a.mark_compacted {
            bumped = crate::restore::db::bump(ks, a.bump_revision as i64, a.mark_compacted)?;
            &bumped
        } else {
            ks
        };
        let entries = match (&o.db, o.snapshot) {
            (Some(db), _) => extras::from_db(db, ks, &leases(db, o.wal)?)?,
            (None, Some(s)) => {
                let mut e = s.extras()?;
                let l = read_leases(&Extras(e.clone()))?;
                extras::override_from(&mut e, ks, &l);
                e
            }
            (None, None) => return Err(Error::invalid("nothing to restore")),
        };
        write_out(
            a,
            cluster.as_ref(),
            Source::Keyspace(ks),
            entries,
            (ks.total_revisions(), ks.revision),
            out,
        )
    })
}

/// Writes the db (`--db-out`) or the member dir, and says what it wrote.
fn write_out(
    a: &Args,
    cluster: Option<&Cluster>,
    src: Source<'_, '_>,
    entries: Vec<crate::snapshot::extras::Entry>,
    (revisions, revision): (usize, i64),
    out: &mut dyn Write,
) -> Result<()> {
    if let Some(db_out) = &a.db_out {
        let bytes = crate::restore::db::write_db_file(db_out, src, &entries, a.force)?;
        return json_line(
            out,
            &serde_json::json!({
                "db_out": db_out.display().to_string(),
                "bytes": bytes,
                "revisions": revisions,
                "revision": revision,
            }),
        );
    }
    let (dir, c) = (
        a.data_dir.as_ref().expect("clap requires a target"),
        cluster.expect("built for --data-dir"),
    );
    write_member_dir(dir, src, entries, c)?;
    json_line(
        out,
        &serde_json::json!({
            "data_dir": dir.display().to_string(),
            "member_id": format!("{:x}", c.members[c.local].id),
            "cluster_id": format!("{:x}", c.id),
            "revisions": revisions,
            "revision": revision,
        }),
    )
}
