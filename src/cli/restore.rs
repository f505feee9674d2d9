//! `reshift restore`: write a new etcd db from any input.

use super::common::{Input, json_line};
use crate::error::{Error, Result};
use crate::etcd::buckets::Extras;
use crate::etcd::lease::read_leases;
use crate::etcd::open::leases;
use crate::snapshot::extras;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  reshift restore etcd.rsnap --db-out restored.db\n  etcdctl snapshot restore restored.db --data-dir /var/lib/etcd-new"
)]
pub struct Args {
    #[command(flatten)]
    pub input: Input,
    /// Write a standalone db followed by its sha256 (what `etcdctl snapshot restore` takes).
    #[arg(long, required = true)]
    pub db_out: PathBuf,
    /// Replace an existing file.
    #[arg(long)]
    pub force: bool,
}

pub fn run(a: &Args, out: &mut dyn Write) -> Result<()> {
    a.input.with_keyspace(|o| {
        let ks = &o.ks;
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
        let bytes = crate::restore::db::write_db_file(&a.db_out, ks, &entries, a.force)?;
        json_line(out, &serde_json::json!({"db_out": a.db_out.display().to_string(), "bytes": bytes, "revisions": ks.total_revisions(), "revision": ks.revision}))
    })
}
