//! `reshift check`: verifies a db, an etcdctl snapshot, or a whole data dir (db structure,
//! WAL CRC chain and continuity, snap files, applied index against the WAL). Exit 0 when
//! intact, 1 when damage is found, 2 on usage errors.

use super::common::{Format, Input, json_line, stdout_err};
use crate::error::Result;
use crate::etcd::verify::verify;
use std::io::Write;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  reshift check /var/lib/etcd\n  reshift check backup.db -o json"
)]
pub struct Args {
    #[command(flatten)]
    pub input: Input,
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub format: Format,
}

/// Returns whether the input is intact.
pub fn run(a: &Args, out: &mut dyn Write) -> Result<bool> {
    let src = a.input.open()?;
    if src.kind == crate::source::SourceKind::ReshiftSnapshot {
        let snap = src.snapshot()?;
        // An incremental snapshot is checked with every file of its chain, oldest first;
        // a missing or altered link is damage.
        let mut files = vec![(src.path.clone(), snap.verify())];
        if snap.is_incremental() {
            match crate::snapshot::chain::Chain::resolve(&snap, &src.path, &a.input.chain) {
                Ok(chain) => {
                    let snaps = chain.snapshots()?;
                    let names: Vec<_> = chain.earlier.iter().map(|(p, _)| p.clone()).collect();
                    let mut all = crate::snapshot::chain::verify(&snaps, &names);
                    all.append(&mut files);
                    files = all;
                }
                Err(e) => files[0].1.findings.push(e.to_string()),
            }
        }
        let ok = files.iter().all(|(_, c)| c.findings.is_empty());
        for (path, c) in &files {
            if a.format == Format::Json {
                json_line(out, c)?;
                continue;
            }
            for f in &c.findings {
                writeln!(out, "{}: DAMAGED: {f}", path.display()).map_err(stdout_err)?;
            }
            let state = if c.findings.is_empty() {
                "intact"
            } else {
                "damage found"
            };
            writeln!(
                out,
                "{}: {} chunks, {} records: {state}",
                path.display(),
                c.chunks,
                c.records
            )
            .map_err(stdout_err)?;
        }
        return Ok(ok);
    }
    let c = verify(&src)?;
    if a.format == Format::Json {
        json_line(out, &c)?;
        return Ok(c.ok());
    }
    let w = |out: &mut dyn Write, s: String| writeln!(out, "{s}").map_err(stdout_err);
    let file = &c.db_file;
    for f in &c.db.findings {
        let page = f.page.map_or(String::new(), |p| format!(" page {p}"));
        w(
            out,
            format!("{file}:{page} offset {}: {}", f.offset, f.what),
        )?;
    }
    w(
        out,
        format!(
            "{file}: {} ({} pages reachable, {} free, high-water {}, page size {})",
            if c.db.ok() { "ok" } else { "DAMAGED" },
            c.db.reachable_pages,
            c.db.free_pages,
            c.db.high_water,
            c.db.page_size
        ),
    )?;
    if let Some(wal) = &c.wal {
        w(
            out,
            format!(
                "wal: {} segments, {} records, entries {}..{}, commit {}",
                wal.segments,
                wal.records,
                wal.first_index.unwrap_or(0),
                wal.last_index.unwrap_or(0),
                wal.commit
            ),
        )?;
    }
    for s in &c.snaps {
        match s {
            Ok(s) => w(
                out,
                format!("snap {}: ok (term {}, index {})", s.file, s.term, s.index),
            )?,
            Err(e) => w(out, format!("snap: DAMAGED: {e}"))?,
        }
    }
    for f in &c.findings {
        w(out, format!("DAMAGED: {f}"))?;
    }
    for n in &c.notes {
        w(out, format!("note: {n}"))?;
    }
    w(
        out,
        if c.ok() {
            "intact".to_string()
        } else {
            "damage found".to_string()
        },
    )?;
    Ok(c.ok())
}
