//! `reshift inspect`: what a db holds, in one screen.

use super::common::{Format, Input, json_line, stdout_err};
use crate::error::Result;
use crate::etcd::buckets::Extras;
use crate::etcd::inspect::{Inspection, inspect};
use crate::etcd::lease::read_leases;
use crate::etcd::open::leases;
use std::io::Write;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  reshift inspect /var/lib/etcd\n  reshift inspect backup.db -o json | jq .resources"
)]
pub struct Args {
    #[command(flatten)]
    pub input: Input,
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub format: Format,
    #[command(flatten)]
    pub decryption: super::decrypt::Decryption,
}

pub fn run(a: &Args, out: &mut dyn Write) -> Result<()> {
    let dec = a.decryption.load(crate::k8s::DEFAULT_PREFIX)?;
    a.input.with_keyspace(|o| {
        let ks = &o.ks;
        let mut ins = match (&o.db, o.snapshot) {
            (Some(db), _) => inspect(
                Some(db),
                db,
                ks,
                o.src.db_len(),
                leases(db, o.wal)?,
                o.wal.map(|w| w.summary.clone()),
            )?,
            (None, Some(snap)) => {
                let extras = Extras(snap.extras()?);
                inspect(
                    None,
                    &extras,
                    ks,
                    o.src.file_len(),
                    read_leases(&extras)?,
                    None,
                )?
            }
            (None, None) => return Err(crate::Error::invalid("nothing to inspect")),
        };
        ins.live = o.src.live.clone();
        if let Some(w) = o.wal {
            ins.auth = (&w.replayed.auth).into();
        }
        if let Some(d) = &dec {
            let kvs: Vec<(&[u8], &[u8])> = ks
                .state(b"", None)?
                .map(|r| (r.key, r.kv().value))
                .collect();
            ins.decryption = Some(d.tally(&kvs));
        }
        match a.format {
            Format::Json => json_line(out, &ins),
            Format::Table => table(&ins, out).map_err(stdout_err),
        }
    })
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn table(i: &Inspection, out: &mut dyn Write) -> std::io::Result<()> {
    if let Some(l) = &i.live {
        let pid = opt(l.pid);
        writeln!(
            out,
            "live               etcd is running (pid {pid}, {} lock); read at bbolt transaction {}",
            l.lock, l.txid
        )?;
    }
    writeln!(out, "revision           {}", i.revision)?;
    writeln!(out, "compact revision   {}", i.compact_revision)?;
    writeln!(out, "consistent index   {}", opt(i.consistent_index))?;
    writeln!(out, "term               {}", opt(i.term))?;
    if let Some(v) = &i.storage_version {
        writeln!(out, "storage version    {v}")?;
    }
    if let Some(v) = &i.cluster.cluster_version {
        writeln!(out, "cluster version    {v}")?;
    }
    if let Some(v) = &i.cluster.downgrade {
        writeln!(out, "downgrade          {v}")?;
    }
    let learners = i.cluster.members.iter().filter(|m| m.is_learner).count();
    writeln!(
        out,
        "members            {} voters, {learners} learners",
        i.cluster.members.len() - learners
    )?;
    for m in &i.cluster.members {
        writeln!(
            out,
            "  {} {}{} {}",
            m.id,
            m.name,
            if m.is_learner { " (learner)" } else { "" },
            m.peer_urls.join(",")
        )?;
    }
    writeln!(out, "live keys          {}", i.live_keys)?;
    writeln!(out, "total revisions    {}", i.total_revisions)?;
    writeln!(
        out,
        "db size            {} bytes ({} in use, page size {})",
        i.db_bytes, i.db_bytes_in_use, i.page_size
    )?;
    writeln!(
        out,
        "\n{:<20} {:>10} {:>8} {:>14} {:>14}",
        "BUCKET", "KEYS", "PAGES", "ALLOCATED", "USED"
    )?;
    for b in &i.buckets {
        let pages = b.branch_pages + b.leaf_pages + b.overflow_pages;
        writeln!(
            out,
            "{:<20} {:>10} {:>8} {:>14} {:>14}",
            b.name,
            b.total_keys(),
            pages,
            b.bytes_allocated,
            b.bytes_used
        )?;
    }
    writeln!(
        out,
        "\n{:<50} {:>10} {:>14}",
        "RESOURCE", "KEYS", "VALUE BYTES"
    )?;
    for (name, u) in &i.resources {
        writeln!(out, "{name:<50} {:>10} {:>14}", u.count, u.bytes)?;
    }
    if !i.namespaces.is_empty() {
        // The namespaces holding the most bytes; every one is in `-o json`.
        const TOP: usize = 20;
        let mut by_bytes: Vec<_> = i.namespaces.iter().collect();
        by_bytes.sort_by(|a, b| b.1.bytes.cmp(&a.1.bytes).then(a.0.cmp(b.0)));
        writeln!(
            out,
            "\n{:<50} {:>10} {:>14}",
            "NAMESPACE", "KEYS", "VALUE BYTES"
        )?;
        for (name, u) in by_bytes.iter().take(TOP) {
            writeln!(out, "{name:<50} {:>10} {:>14}", u.count, u.bytes)?;
        }
        if by_bytes.len() > TOP {
            let rest = &by_bytes[TOP..];
            writeln!(
                out,
                "{:<50} {:>10} {:>14}",
                format!("({} more namespaces)", rest.len()),
                rest.iter().map(|(_, u)| u.count).sum::<u64>(),
                rest.iter().map(|(_, u)| u.bytes).sum::<u64>()
            )?;
        }
    }
    writeln!(
        out,
        "\n{:<50} {:>10} {:>14}",
        "KIND", "OBJECTS", "VALUE BYTES"
    )?;
    for (name, u) in &i.kinds {
        writeln!(out, "{name:<50} {:>10} {:>14}", u.count, u.bytes)?;
    }
    let enc: Vec<String> = i
        .encodings
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    writeln!(
        out,
        "\nencodings          {}{}",
        enc.join(", "),
        if i.undecodable > 0 {
            format!(" ({} undecodable)", i.undecodable)
        } else {
            String::new()
        }
    )?;
    for (k, n) in &i.encrypted {
        write!(out, "encrypted          {n} values with {k}")?;
        match i.decryption.as_ref().and_then(|d| d.get(k)) {
            Some(t) => {
                writeln!(out, ": {} decrypt, {} fail", t.decrypted, t.failed)?;
                for (why, n) in &t.reasons {
                    writeln!(out, "                     {n} x {why}")?;
                }
            }
            None => writeln!(out)?,
        }
    }
    Ok(())
}
