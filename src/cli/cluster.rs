//! `reshift cluster`: every member's raft position and the verdict after quorum loss —
//! the newest member, what was committed, what a restart serves.

use super::common::{Format, cluster_paths, json_line, stdout_err};
use crate::error::Result;
use crate::etcd::quorum::{ClusterRead, ClusterView};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples, on the data dirs of three members copied from their nodes (tests/cluster_oracle.rs runs these on a real cluster):\n  reshift cluster /backup/m1 /backup/m2 /backup/m3\n  reshift cluster /backup/m1,/backup/m2,/backup/m3 -o json\n  reshift dump --cluster /backup/m1,/backup/m2,/backup/m3 > served.jsonl"
)]
pub struct Args {
    /// Every member's data dir (or member dir), as separate arguments or comma-separated.
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub format: Format,
}

pub fn run(a: &Args, out: &mut dyn Write) -> Result<()> {
    let paths: Vec<PathBuf> = a.dirs.iter().flat_map(|d| cluster_paths(d)).collect();
    let cr = ClusterRead::open(&paths)?;
    match a.format {
        Format::Json => json_line(out, &cr.view),
        Format::Table => table(&cr.view, out).map_err(stdout_err),
    }
}

fn opt(v: Option<u64>) -> String {
    v.map_or_else(|| "-".into(), |x| x.to_string())
}

fn table(v: &ClusterView, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<12} {:<16} {:>5} {:<16} {:>8} {:>8} {:>8} {:>5} {:>8} {:>8}  {:<8} {:<3} PATH",
        "NAME",
        "MEMBER",
        "TERM",
        "VOTE",
        "COMMIT",
        "FIRST",
        "LAST",
        "LTERM",
        "APPLIED",
        "AGREES",
        "STATUS",
        "WIN"
    )?;
    for m in &v.members {
        writeln!(
            out,
            "{:<12} {:<16} {:>5} {:<16} {:>8} {:>8} {:>8} {:>5} {:>8} {:>8}  {:<8} {:<3} {}",
            m.name.as_deref().unwrap_or("-"),
            m.member_id.as_deref().unwrap_or("-"),
            m.hard_state.term,
            format!("{:x}", m.hard_state.vote),
            m.hard_state.commit,
            opt(m.first_index),
            m.last_index,
            m.last_term,
            opt(m.applied_index),
            opt(m.agrees_with_newest_to),
            m.status,
            if m.can_win { "yes" } else { "no" },
            m.path
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "cluster {}: {} voters, quorum {}, {} given",
        v.cluster_id.as_deref().unwrap_or("?"),
        v.voters.len().max(v.voters_present),
        v.quorum,
        v.voters_present
    )?;
    writeln!(
        out,
        "committed: index {} (highest hard-state commit {}, held by a quorum at the newest's terms {})",
        v.committed_index, v.commit_index, v.quorum_index
    )?;
    match (&v.newest, v.served_index) {
        (Some(n), Some(s)) => {
            writeln!(
                out,
                "newest member: {n}; a restart serves its whole log, up to index {s}"
            )?;
            if !v.served_certain {
                let others: Vec<&str> = v
                    .possible_winners
                    .iter()
                    .filter(|w| &w.member != n)
                    .map(|w| w.member.as_str())
                    .collect();
                let shown: Vec<String> = v
                    .possible_winners
                    .iter()
                    .filter(|w| &w.member != n)
                    .map(|w| format!("{} (up to index {})", w.member, w.last_index))
                    .collect();
                writeln!(
                    out,
                    "also electable, depending on election timing: {}; to be sure {n} wins, restart it without {} (ask `reshift cluster` about the members you restart)",
                    shown.join(", "),
                    others.join(", ")
                )?;
            }
            writeln!(
                out,
                "served keyspace (--cluster): {}'s db (applied index {}), then {n}'s log up to index {s}",
                v.db_from.as_deref().unwrap_or("?"),
                opt(v.db_applied_index)
            )?;
        }
        _ => writeln!(
            out,
            "no member can be elected: fewer than {} voters given",
            v.quorum
        )?,
    }
    let behind: Vec<&str> = v
        .members
        .iter()
        .filter(|m| m.status == "behind")
        .map(|m| m.name.as_deref().unwrap_or(&m.path))
        .collect();
    let diverged: Vec<&str> = v
        .members
        .iter()
        .filter(|m| m.status == "diverged")
        .map(|m| m.name.as_deref().unwrap_or(&m.path))
        .collect();
    if !behind.is_empty() {
        writeln!(
            out,
            "behind (a prefix of the newest's log): {}",
            behind.join(", ")
        )?;
    }
    if !diverged.is_empty() {
        writeln!(
            out,
            "diverged (entries the newest does not hold; a restart drops them): {}",
            diverged.join(", ")
        )?;
    }
    Ok(())
}
