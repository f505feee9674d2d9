//! `reshift get`: one key's value, raw or as etcdctl-style JSON.

use super::common::{Input, key_arg, stdout_err};
use crate::error::{Error, Result};
use crate::etcd::json::write_kv;
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GetFormat {
    /// The value's bytes, unchanged.
    Raw,
    /// The KeyValue in etcdctl's JSON conventions.
    Json,
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  reshift get /var/lib/etcd /registry/namespaces/default > ns.bin\n  reshift get backup.db /registry/configmaps/prod/app --revision 812 -o json"
)]
pub struct Args {
    #[command(flatten)]
    pub input: Input,
    /// The key (`\xNN` escapes allowed).
    pub key: String,
    #[arg(long)]
    pub revision: Option<i64>,
    #[arg(short = 'o', long = "output", value_enum, default_value = "raw")]
    pub format: GetFormat,
}

pub fn run(a: &Args, out: &mut dyn Write) -> Result<()> {
    a.input.with_keyspace(|o| {
        let ks = &o.ks;
        let key = key_arg(&a.key);
        let Some(r) = ks.get(&key, a.revision)? else {
            return Err(Error::invalid(format!("key {:?} not found", a.key)));
        };
        let kv = r.kv();
        match a.format {
            GetFormat::Raw => out.write_all(kv.value).map_err(stdout_err),
            GetFormat::Json => {
                let mut line = Vec::new();
                write_kv(&mut line, &kv);
                line.push(b'\n');
                out.write_all(&line).map_err(stdout_err)
            }
        }
    })
}
