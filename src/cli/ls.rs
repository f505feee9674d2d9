//! `reshift ls`: the live keys under a prefix, with their revisions and sizes.

use super::common::{Format, Input, json_line, key_arg, printable, stdout_err};
use crate::error::Result;
use serde::Serialize;
use std::io::Write;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  reshift ls /var/lib/etcd /registry/pods/\n  reshift ls backup.db --revision 4200 -o json"
)]
pub struct Args {
    #[command(flatten)]
    pub input: Input,
    /// Only keys starting with this prefix (`\xNN` escapes allowed).
    #[arg(default_value = "")]
    pub prefix: String,
    /// The state at this revision instead of the latest.
    #[arg(long)]
    pub revision: Option<i64>,
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub format: Format,
}

#[derive(Serialize)]
struct Row<'a> {
    key: &'a str,
    create_revision: i64,
    mod_revision: i64,
    version: i64,
    lease: i64,
    value_size: usize,
}

pub fn run(a: &Args, out: &mut dyn Write) -> Result<()> {
    a.input.with_keyspace(|o| {
        let ks = &o.ks;
        let prefix = key_arg(&a.prefix);
        if a.format == Format::Table {
            writeln!(
                out,
                "{:<8} {:<8} {:<5} {:<16} {:>8}  KEY",
                "CREATE", "MOD", "VER", "LEASE", "SIZE"
            )
            .map_err(stdout_err)?;
        }
        for r in ks.state(&prefix, a.revision)? {
            let kv = r.kv();
            let key = printable(kv.key);
            match a.format {
                Format::Table => writeln!(
                    out,
                    "{:<8} {:<8} {:<5} {:<16} {:>8}  {key}",
                    kv.create_revision,
                    kv.mod_revision,
                    kv.version,
                    if kv.lease == 0 {
                        "-".to_string()
                    } else {
                        format!("{:016x}", kv.lease)
                    },
                    kv.value.len()
                )
                .map_err(stdout_err)?,
                Format::Json => json_line(
                    out,
                    &Row {
                        key: &key,
                        create_revision: kv.create_revision,
                        mod_revision: kv.mod_revision,
                        version: kv.version,
                        lease: kv.lease,
                        value_size: kv.value.len(),
                    },
                )?,
            }
        }
        Ok(())
    })
}
