//! `reshift check`: structural verification. Exit 0 when intact, 1 when damage is found.

use super::common::{Format, Input, json_line, stdout_err};
use crate::bbolt::check;
use crate::error::Result;
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
    let db = src.db()?;
    let report = check(&db);
    match a.format {
        Format::Json => json_line(out, &report)?,
        Format::Table => {
            let file = src.db_path.display();
            for f in &report.findings {
                let page = f.page.map_or(String::new(), |p| format!(" page {p}"));
                writeln!(out, "{file}:{page} offset {}: {}", f.offset, f.what)
                    .map_err(stdout_err)?;
            }
            writeln!(
                out,
                "{file}: {} ({} pages reachable, {} free, high-water {}, page size {})",
                if report.ok() { "ok" } else { "DAMAGED" },
                report.reachable_pages,
                report.free_pages,
                report.high_water,
                report.page_size
            )
            .map_err(stdout_err)?;
        }
    }
    Ok(report.ok())
}
