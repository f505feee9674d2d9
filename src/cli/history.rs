//! `reshift history`: every revision of one key still in the db.

use super::common::{Format, Input, json_line, key_arg, stdout_err};
use crate::error::Result;
use serde::Serialize;
use std::io::Write;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  reshift history /var/lib/etcd /registry/deployments/prod/web\n  reshift history backup.db /registry/leases/kube-system/lock -o json"
)]
pub struct Args {
    #[command(flatten)]
    pub input: Input,
    /// The key (`\xNN` escapes allowed).
    pub key: String,
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub format: Format,
}

#[derive(Serialize)]
struct Row {
    revision: i64,
    sub_revision: i64,
    op: &'static str,
    create_revision: i64,
    mod_revision: i64,
    version: i64,
    lease: i64,
    value_size: usize,
}

pub fn run(a: &Args, out: &mut dyn Write) -> Result<()> {
    a.input.with_keyspace(|o| {
        let ks = &o.ks;
        let key = key_arg(&a.key);
        if a.format == Format::Table {
            writeln!(
                out,
                "{:<14} {:<7} {:<8} {:<8} {:<5} {:>8}",
                "REVISION", "OP", "CREATE", "MOD", "VER", "SIZE"
            )
            .map_err(stdout_err)?;
        }
        for r in ks.history(&key) {
            let kv = r.kv();
            let row = Row {
                revision: r.rev.main,
                sub_revision: r.rev.sub,
                op: if r.tombstone { "DELETE" } else { "PUT" },
                create_revision: kv.create_revision,
                mod_revision: kv.mod_revision,
                version: kv.version,
                lease: kv.lease,
                value_size: kv.value.len(),
            };
            match a.format {
                Format::Json => json_line(out, &row)?,
                Format::Table => writeln!(
                    out,
                    "{:<14} {:<7} {:<8} {:<8} {:<5} {:>8}",
                    r.rev.to_string(),
                    row.op,
                    row.create_revision,
                    row.mod_revision,
                    row.version,
                    row.value_size
                )
                .map_err(stdout_err)?,
            }
        }
        Ok(())
    })
}
