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
        Ending::Damaged { .. } => Err(log.ending.damage(&wal).expect("damaged")),
    }
}
