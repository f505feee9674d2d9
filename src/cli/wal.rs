//! `reshift wal`: one line per raft entry with its decoded request, like etcd-dump-logs.

use super::common::{Format, json_line, stdout_err};
use crate::error::{Error, Result};
use crate::wal::{Ending, Wal, decode_payload, read_log};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  reshift wal /var/lib/etcd\n  reshift wal /var/lib/etcd --from-index 41000 -o json | jq 'select(.request.op==\"txn\")'"
)]
pub struct Args {
    /// A data dir, a member dir, or a WAL dir.
    pub path: PathBuf,
    /// Only entries with an index at or above this.
    #[arg(long, default_value_t = 0)]
    pub from_index: u64,
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub format: Format,
    /// Decode every entry but print only counts per request type.
    #[arg(long)]
    pub summary: bool,
}

/// The WAL dir of a data dir, member dir or WAL dir.
pub fn wal_dir(p: &Path) -> Result<PathBuf> {
    for cand in [p.join("member/wal"), p.join("wal"), p.to_path_buf()] {
        if cand.is_dir() && crate::wal::segment::list(&cand).is_ok() {
            return Ok(cand);
        }
    }
    Err(Error::invalid(format!(
        "{}: no WAL segments found (looked in member/wal, wal and the dir itself)",
        p.display()
    )))
}

#[derive(Serialize)]
struct Line<'a> {
    index: u64,
    term: u64,
    #[serde(rename = "type")]
    etype: &'a str,
    request: crate::wal::RequestView,
}

pub fn run(a: &Args, out: &mut dyn Write) -> Result<()> {
    let wal = Wal::open(&wal_dir(&a.path)?)?;
    let log = read_log(&wal);
    if a.summary {
        let s = summarize(&log);
        match a.format {
            Format::Json => json_line(out, &s)?,
            Format::Table => {
                writeln!(
                    out,
                    "entries {} (index {}..{}), commit {}, term {}",
                    s.entries,
                    s.first_index.unwrap_or(0),
                    s.last_index.unwrap_or(0),
                    s.commit,
                    s.term
                )
                .map_err(stdout_err)?;
                for (op, n) in &s.by_op {
                    writeln!(out, "{op:<24} {n}").map_err(stdout_err)?;
                }
            }
        }
        return ending(&wal, &log);
    }
    if a.format == Format::Table {
        writeln!(out, "{:>10} {:>6} {:<10} REQUEST", "INDEX", "TERM", "TYPE")
            .map_err(stdout_err)?;
    }
    for e in log.after(a.from_index.saturating_sub(1)) {
        let etype = match e.etype {
            0 => "normal",
            1 => "conf",
            2 => "conf_v2",
            _ => "unknown",
        };
        let view = decode_payload(e.etype, &e.data).view();
        match a.format {
            Format::Json => json_line(
                out,
                &Line {
                    index: e.index,
                    term: e.term,
                    etype,
                    request: view,
                },
            )?,
            Format::Table => {
                let req = serde_json::to_string(&view).unwrap_or_default();
                writeln!(out, "{:>10} {:>6} {:<10} {req}", e.index, e.term, etype)
                    .map_err(stdout_err)?
            }
        }
    }
    ending(&wal, &log)
}

#[derive(Serialize)]
struct Summary {
    entries: u64,
    first_index: Option<u64>,
    last_index: Option<u64>,
    commit: u64,
    term: u64,
    by_op: std::collections::BTreeMap<&'static str, u64>,
}

/// Decodes every entry (on all cores) and counts them by request type.
fn summarize(log: &crate::wal::RaftLog) -> Summary {
    use rayon::prelude::*;
    let by_op = log
        .entries
        .par_iter()
        .fold(std::collections::BTreeMap::new, |mut m, e| {
            *m.entry(op_name(&decode_payload(e.etype, &e.data)))
                .or_insert(0u64) += 1;
            m
        })
        .reduce(std::collections::BTreeMap::new, |mut a, b| {
            for (k, v) in b {
                *a.entry(k).or_insert(0) += v;
            }
            a
        });
    Summary {
        entries: log.entries.len() as u64,
        first_index: log.first_index(),
        last_index: log.last_index(),
        commit: log.hard_state.commit,
        term: log.hard_state.term,
        by_op,
    }
}

fn op_name(p: &crate::wal::Payload) -> &'static str {
    use crate::wal::Payload;
    match p {
        Payload::Empty => "empty",
        Payload::V2(_) => "v2",
        Payload::ConfChange(_) | Payload::ConfChangeV2(_) => "conf_change",
        Payload::Undecodable(_) => "undecodable",
        Payload::V3(r) => match () {
            _ if r.put.is_some() => "put",
            _ if r.delete_range.is_some() => "delete_range",
            _ if r.txn.is_some() => "txn",
            _ if r.compaction.is_some() => "compaction",
            _ if r.lease_grant.is_some() => "lease_grant",
            _ if r.lease_revoke.is_some() => "lease_revoke",
            _ if r.lease_checkpoint.is_some() => "lease_checkpoint",
            _ if r.range.is_some() => "range",
            _ if r.alarm.is_some() => "alarm",
            _ if r.v2.is_some() => "v2",
            _ => "other",
        },
    }
}

fn ending(wal: &Wal, log: &crate::wal::RaftLog) -> Result<()> {
    match &log.ending {
        Ending::Clean => Ok(()),
        Ending::Torn {
            segment,
            offset,
            reason,
        } => {
            eprintln!(
                "reshift: warning: WAL ends in a torn record at {segment} offset {offset} ({reason}); every entry before it is shown"
            );
            Ok(())
        }
        Ending::Damaged { .. } => Err(log.ending.damage(wal).expect("damaged")),
    }
}
