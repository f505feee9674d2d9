//! `reshift analyze`: what fills the db, per resource and namespace, with the largest keys,
//! what a compaction would remove, and the db's free space.

use super::common::{Format, Input, json_line, stdout_err};
use crate::error::Result;
use crate::k8s::analyze::{Analysis, KeyFigure, Usage, analyze, db_space};
use std::collections::BTreeMap;
use std::io::Write;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  reshift analyze /var/lib/etcd\n  reshift analyze backup.db --compact-at 120000 --top 20\n  reshift analyze /var/lib/etcd -o json | jq .resources"
)]
pub struct Args {
    #[command(flatten)]
    pub input: Input,
    /// Also say what compacting at this revision would remove.
    #[arg(long, value_name = "REVISION")]
    pub compact_at: Option<i64>,
    /// How many keys each ranking lists.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// The apiserver's etcd prefix.
    #[arg(long, default_value = crate::k8s::DEFAULT_PREFIX)]
    pub k8s_prefix: String,
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub format: Format,
}

pub fn run(a: &Args, out: &mut dyn Write) -> Result<()> {
    a.input.with_keyspace(|o| {
        let mut an = analyze(&o.ks, &a.k8s_prefix, a.top, a.compact_at)?;
        if let Some(db) = &o.db {
            an.db = Some(db_space(db, o.src.db_len())?);
        }
        match a.format {
            Format::Json => json_line(out, &an),
            Format::Table => table(&an, out).map_err(stdout_err),
        }
    })
}

/// Width of the bar chart.
const BAR: usize = 30;

fn bar(part: u64, whole: u64) -> String {
    let eighths = if whole == 0 {
        0
    } else {
        (part as u128 * (BAR as u128 * 8) / whole as u128) as usize
    };
    let mut s = "█".repeat(eighths / 8);
    if eighths % 8 > 0 {
        s.push(['▏', '▎', '▍', '▌', '▋', '▊', '▉'][eighths % 8 - 1]);
    }
    s
}

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "-".into();
    }
    format!("{:.1}%", part as f64 * 100.0 / whole as f64)
}

fn groups(
    title: &str,
    m: &BTreeMap<String, Usage>,
    total: &Usage,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let mut rows: Vec<(&String, &Usage)> = m.iter().collect();
    rows.sort_by(|x, y| {
        y.1.revision_bytes
            .cmp(&x.1.revision_bytes)
            .then_with(|| x.0.cmp(y.0))
    });
    let w = rows
        .iter()
        .map(|r| r.0.len())
        .max()
        .unwrap_or(0)
        .max(title.len());
    writeln!(
        out,
        "\n{title:<w$}  {:>9} {:>12} {:>9} {:>12} {:>6}  REVISION BYTES",
        "KEYS", "BYTES", "REVISIONS", "REV BYTES", "SHARE"
    )?;
    for (name, u) in rows {
        writeln!(
            out,
            "{name:<w$}  {:>9} {:>12} {:>9} {:>12} {:>6}  {}",
            u.keys,
            u.bytes,
            u.revisions,
            u.revision_bytes,
            pct(u.revision_bytes, total.revision_bytes),
            bar(u.revision_bytes, total.revision_bytes)
        )?;
    }
    Ok(())
}

fn ranking(title: &str, unit: &str, v: &[KeyFigure], out: &mut dyn Write) -> std::io::Result<()> {
    if v.is_empty() {
        return Ok(());
    }
    writeln!(out, "\n{title}")?;
    for f in v {
        writeln!(out, "{:>12} {unit:<9} {}", f.value, f.key)?;
    }
    Ok(())
}

fn share(name: &str, u: &Usage, t: &Usage, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{name:<8} {} keys, {} bytes ({} of live bytes); {} revisions, {} bytes ({} of revision bytes)",
        u.keys,
        u.bytes,
        pct(u.bytes, t.bytes),
        u.revisions,
        u.revision_bytes,
        pct(u.revision_bytes, t.revision_bytes)
    )
}

fn table(a: &Analysis, out: &mut dyn Write) -> std::io::Result<()> {
    let t = &a.total;
    writeln!(
        out,
        "revision {}, compacted at {}",
        a.revision, a.compact_revision
    )?;
    writeln!(out, "live     {} keys, {} value bytes", t.keys, t.bytes)?;
    writeln!(
        out,
        "history  {} revisions, {} bytes in the key bucket",
        t.revisions, t.revision_bytes
    )?;
    if let Some(d) = &a.db {
        writeln!(
            out,
            "db       {} bytes, {} in use, {} free ({} pages of {}, {} of the file; defrag gives them back)",
            d.bytes,
            d.in_use,
            d.free,
            d.free_pages,
            d.page_size,
            pct(d.free, d.bytes)
        )?;
    }
    share("events", &a.events, t, out)?;
    share("leases", &a.leases, t, out)?;
    if let Some(c) = &a.compaction {
        writeln!(
            out,
            "compacting at {} would remove {} revisions, {} bytes ({} of the key bucket's), and {} deleted keys",
            c.revision,
            c.revisions_removed,
            c.bytes_removed,
            pct(c.bytes_removed, t.revision_bytes),
            c.keys_gone
        )?;
    }
    groups("RESOURCE", &a.resources, t, out)?;
    groups("NAMESPACE", &a.namespaces, t, out)?;
    ranking("LARGEST LIVE VALUES", "bytes", &a.largest_live, out)?;
    ranking(
        "LARGEST OVER KEPT REVISIONS",
        "bytes",
        &a.largest_history,
        out,
    )?;
    ranking("MOST REVISIONS", "revisions", &a.most_revisions, out)?;
    Ok(())
}
