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
    /// Write values encrypted at rest decrypted (with --encryption-provider-config); by
    /// default every value is dumped as stored.
    #[arg(long)]
    pub decrypt: bool,
    #[command(flatten)]
    pub decryption: super::decrypt::Decryption,
}

/// Writes one KeyValue line, its value decrypted when `dec` is given and it is encrypted.
/// A value that does not decrypt is written as stored, said on stderr, and counted.
fn line_of(
    line: &mut Vec<u8>,
    kv: &crate::etcd::KeyValueRef<'_>,
    dec: Option<&crate::k8s::encryption::Decryptor>,
    failed: &mut u64,
) {
    line.clear();
    match dec.map(|d| d.decrypt(kv.key, kv.value)) {
        Some(Ok(plain)) => write_kv(
            line,
            &crate::etcd::KeyValueRef {
                value: &plain,
                ..*kv
            },
        ),
        Some(Err(e)) => {
            *failed += 1;
            eprintln!(
                "reshift: {}: {e}; dumped as stored",
                super::common::printable(kv.key)
            );
            write_kv(line, kv);
        }
        None => write_kv(line, kv),
    }
    line.push(b'\n');
}

fn finish(failed: u64) -> Result<()> {
    if failed > 0 {
        return Err(crate::Error::invalid(format!(
            "{failed} values did not decrypt (dumped as stored)"
        )));
    }
    Ok(())
}

pub fn run(a: &Args, out: &mut dyn Write) -> Result<()> {
    let dec = a
        .decryption
        .load_if(a.decrypt, crate::k8s::DEFAULT_PREFIX)?;
    let dec = dec.as_ref();
    let mut failed = 0u64;
    // A snapshot is streamed a chunk at a time: its records are already in key order.
    let src = a.input.single()?;
    if let Some(src) = src
        .as_ref()
        .filter(|s| s.kind == crate::source::SourceKind::ReshiftSnapshot)
        .map(|s| s.snapshot())
        .transpose()?
        .filter(|snap| !snap.is_incremental())
    {
        let snap = src;
        let mut line = Vec::with_capacity(4096);
        snap.stream_state(&key_arg(&a.prefix), a.revision, |kv| {
            let kv = crate::etcd::KeyValueRef::decode(kv)
                .map_err(|e| crate::Error::invalid(e.to_string()))?;
            line_of(&mut line, &kv, dec, &mut failed);
            out.write_all(&line).map_err(stdout_err)
        })?;
        return finish(failed);
    }
    a.input.keyspace_of(src, |o| {
        let ks = &o.ks;
        let prefix = key_arg(&a.prefix);
        let mut line = Vec::with_capacity(4096);
        let mut progress = Progress::new("dump: keys", ks.distinct_keys() as u64);
        for r in ks.state(&prefix, a.revision)? {
            progress.add(1);
            line_of(&mut line, &r.kv(), dec, &mut failed);
            out.write_all(&line).map_err(stdout_err)?;
        }
        finish(failed)
    })
}
