//! `reshift dump`: the keyspace as JSON Lines in etcdctl's conventions, streamed.

use super::common::{Input, key_arg, stdout_err};
use super::progress::Progress;
use crate::error::Result;
use crate::etcd::json::write_kv;
use std::io::Write;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  reshift dump /var/lib/etcd > keys.jsonl\n  reshift dump backup.db --prefix /registry/secrets/ --revision 9000"
)]
pub struct Args {
    #[command(flatten)]
    pub input: Input,
    /// Only keys starting with this prefix (`\xNN` escapes allowed).
    #[arg(long, default_value = "")]
    pub prefix: String,
    /// The state at this revision instead of the latest.
    #[arg(long)]
    pub revision: Option<i64>,
}

pub fn run(a: &Args, out: &mut dyn Write) -> Result<()> {
    // A snapshot is streamed a chunk at a time: its records are already in key order.
    let src = a.input.open()?;
    if src.kind == crate::source::SourceKind::ReshiftSnapshot {
        let snap = src.snapshot()?;
        let mut line = Vec::with_capacity(4096);
        return snap.stream_state(&key_arg(&a.prefix), a.revision, |kv| {
            let kv = crate::etcd::KeyValueRef::decode(kv)
                .map_err(|e| crate::Error::invalid(e.to_string()))?;
            line.clear();
            write_kv(&mut line, &kv);
            line.push(b'\n');
            out.write_all(&line).map_err(stdout_err)
        });
    }
    drop(src);
    a.input.with_keyspace(|o| {
        let ks = &o.ks;
        let prefix = key_arg(&a.prefix);
        let mut line = Vec::with_capacity(4096);
        let mut progress = Progress::new("dump: keys", ks.distinct_keys() as u64);
        for r in ks.state(&prefix, a.revision)? {
            progress.add(1);
            line.clear();
            write_kv(&mut line, &r.kv());
            line.push(b'\n');
            out.write_all(&line).map_err(stdout_err)?;
        }
        Ok(())
    })
}
