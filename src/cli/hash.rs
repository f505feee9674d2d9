//! `reshift hash`: etcd's HashKV of the keyspace, as `etcdctl endpoint hashkv` prints it.

use super::common::{Format, Input, json_line};
use crate::error::{Error, Result};
use crate::etcd::hash::hash_kv;
use std::io::Write;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  reshift hash /var/lib/etcd\n  reshift hash backup.db --revision 9000 -o json"
)]
pub struct Args {
    #[command(flatten)]
    pub input: Input,
    /// Hash up to this revision instead of the current one.
    #[arg(long)]
    pub revision: Option<i64>,
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub format: Format,
}

pub fn run(a: &Args, out: &mut dyn Write) -> Result<()> {
    a.input.with_keyspace(|o| {
        if o.db.is_none() {
            return Err(Error::invalid(
                "hash needs the key bucket's records as etcd stored them: pass a data dir, member dir, db or etcdctl snapshot",
            ));
        }
        let h = hash_kv(&o.ks, a.revision)?;
        match a.format {
            Format::Json => json_line(out, &h),
            Format::Table => writeln!(
                out,
                "hash {}\nhash revision {}\ncompact revision {}\nrevision {}",
                h.hash, h.hash_revision, h.compact_revision, h.revision
            )
            .map_err(super::common::stdout_err),
        }
    })
}
