//! `reshift diff`: what differs between two sources, or one source at two revisions —
//! objects added, removed and changed per resource and namespace, with a unified diff of
//! their served YAML. Exit 0: no differences; 1: differences; 2: error.

use super::common::{FilterArgs, Input, ObjectArgs, json_line, key_arg, stdout_err};
use crate::error::{Error, Result};
use crate::etcd::diff::{Pair, merge};
use crate::k8s::diff::{Change, Detail, Difference, Options, compare};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  reshift diff backup.db /var/lib/etcd\n  reshift diff /var/lib/etcd --from-revision 4200 --to-revision 4800 --stat\n  reshift diff etcd.rsnap /var/lib/etcd --resource deploy -n prod\n  reshift diff backup.db /var/lib/etcd -o json | jq -r .key\n\nExit status: 0 no differences, 1 differences, 2 error."
)]
pub struct Args {
    /// The old side: a data dir, member dir, db, etcdctl or reshift snapshot.
    pub old: PathBuf,
    /// The new side; without it, the old side's source at --to-revision.
    pub new: Option<PathBuf>,
    /// The old side's state at this revision (default: the latest).
    #[arg(long)]
    pub from_revision: Option<i64>,
    /// The new side's state at this revision (default: the latest).
    #[arg(long)]
    pub to_revision: Option<i64>,
    /// Read the dbs alone: do not replay the WAL entries they have not applied.
    #[arg(long)]
    pub no_wal: bool,
    /// Only keys starting with this prefix (`\xNN` escapes allowed).
    #[arg(long, default_value = "")]
    pub prefix: String,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Compare and show every field, the ones that change by themselves too
    /// (resourceVersion, managedFields, generation, conditions' heartbeat and probe times).
    #[arg(long)]
    pub all_fields: bool,
    /// Counts per resource and namespace only.
    #[arg(long)]
    pub stat: bool,
    /// Lines of context around each change.
    #[arg(short = 'U', long, default_value_t = 3)]
    pub context: usize,
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub format: super::common::Format,
    #[command(flatten)]
    pub objects: ObjectArgs,
    #[command(flatten)]
    pub decryption: super::decrypt::Decryption,
}

/// Keys compared at a time: the merge is sequential, decoding the differing objects runs
/// on all cores a batch at a time, so memory holds one batch.
const BATCH: usize = 1024;

#[derive(Default, Clone, Copy, Serialize)]
struct Counts {
    added: u64,
    removed: u64,
    changed: u64,
}

impl Counts {
    fn add(&mut self, c: Change) {
        match c {
            Change::Added => self.added += 1,
            Change::Removed => self.removed += 1,
            Change::Changed => self.changed += 1,
        }
    }
}

#[derive(Serialize)]
struct StatRow<'a> {
    resource: &'a str,
    namespace: Option<&'a str>,
    #[serde(flatten)]
    counts: Counts,
}

/// The summary key of a difference: (resource, namespace).
type Group = (String, Option<String>);

struct Printer<'o> {
    a: &'o Args,
    out: &'o mut dyn Write,
    tally: BTreeMap<Group, Counts>,
}

impl Printer<'_> {
    /// Counts `d` and prints it: its record, or its unified diff (which [`compare`] made
    /// for the table: [`Detail::Text`]).
    fn take(&mut self, d: &Difference) -> Result<()> {
        self.tally
            .entry((d.resource.clone(), d.namespace.clone()))
            .or_default()
            .add(d.change);
        if self.a.stat {
            return Ok(());
        }
        match self.a.format {
            super::common::Format::Json => json_line(self.out, d),
            super::common::Format::Table => self
                .out
                .write_all(d.unified.as_deref().unwrap_or_default().as_bytes())
                .map_err(stdout_err),
        }
    }

    fn finish(self) -> Result<bool> {
        let same = self.tally.is_empty();
        let show = self.a.stat || self.a.format == super::common::Format::Table;
        if !show {
            return Ok(same);
        }
        if self.a.format == super::common::Format::Json {
            for ((r, ns), c) in &self.tally {
                json_line(
                    self.out,
                    &StatRow {
                        resource: r,
                        namespace: ns.as_deref(),
                        counts: *c,
                    },
                )?;
            }
            return Ok(same);
        }
        if same {
            return Ok(same);
        }
        let w = |s: &str| s.len();
        let rw = self
            .tally
            .keys()
            .map(|(r, _)| w(r).max(14))
            .max()
            .unwrap_or(14);
        let nw = self
            .tally
            .keys()
            .map(|(_, n)| n.as_deref().map_or(1, w))
            .max()
            .unwrap_or(9)
            .max(9);
        let mut total = Counts::default();
        let o = &mut *self.out;
        (|| -> std::io::Result<()> {
            if !self.a.stat {
                writeln!(o)?;
            }
            writeln!(
                o,
                "{:<rw$}  {:<nw$}  {:>7}  {:>7}  {:>7}",
                "RESOURCE", "NAMESPACE", "ADDED", "REMOVED", "CHANGED"
            )?;
            for ((r, ns), c) in &self.tally {
                let r = if r.is_empty() { "(not an object)" } else { r };
                writeln!(
                    o,
                    "{r:<rw$}  {:<nw$}  {:>7}  {:>7}  {:>7}",
                    ns.as_deref().unwrap_or("-"),
                    c.added,
                    c.removed,
                    c.changed
                )?;
                total.added += c.added;
                total.removed += c.removed;
                total.changed += c.changed;
            }
            writeln!(
                o,
                "{:<rw$}  {:<nw$}  {:>7}  {:>7}  {:>7}",
                "total", "", total.added, total.removed, total.changed
            )
        })()
        .map_err(stdout_err)?;
        Ok(same)
    }
}

/// The differences among `batch`, compared and rendered on all cores, in key order.
fn compare_batch(batch: &[Pair<'_>], opts: &Options<'_>) -> Vec<Difference> {
    batch.par_iter().filter_map(|x| compare(x, opts)).collect()
}

/// Compares every pair of `pairs` and renders each difference, a batch at a time on all
/// cores, and prints the differences in key order. The merge finds the next batch (it
/// reads every value of both sides) while the cores compare the current one.
fn run_pairs<'a>(
    mut pairs: impl Iterator<Item = Pair<'a>> + Send,
    opts: &Options<'_>,
    p: &mut Printer<'_>,
) -> Result<()> {
    let mut batch: Vec<Pair<'a>> = pairs.by_ref().take(BATCH).collect();
    while !batch.is_empty() {
        let (next, diffs) = rayon::join(
            || pairs.by_ref().take(BATCH).collect::<Vec<_>>(),
            || compare_batch(&batch, opts),
        );
        for d in &diffs {
            p.take(d)?;
        }
        batch = next;
    }
    Ok(())
}

/// Runs the comparison; `Ok(true)` when there is no difference.
pub fn run(a: &Args, out: &mut dyn Write) -> Result<bool> {
    if a.new.is_none() && a.from_revision.is_none() && a.to_revision.is_none() {
        return Err(Error::invalid(
            "diff needs two sources, or one source and --from-revision (and --to-revision)",
        ));
    }
    let filter = a.filter.filter(None)?;
    let dec = a.decryption.load(&a.filter.k8s_prefix)?;
    let opts = Options {
        prefix: a.filter.k8s_prefix.clone(),
        release: a.objects.release(),
        all_fields: a.all_fields,
        filter,
        dec: dec.as_ref(),
        // Counts need no paths and JSON records no text.
        detail: match (a.stat, a.format) {
            (true, _) => Detail::Counts,
            (false, super::common::Format::Json) => Detail::Paths,
            (false, super::common::Format::Table) => Detail::Text(a.context),
        },
        trees_only: false,
    };
    let prefix = key_arg(&a.prefix);
    let mut p = Printer {
        a,
        out,
        tally: BTreeMap::new(),
    };
    let old_in = Input {
        path: a.old.clone(),
        no_wal: a.no_wal,
        cluster: false,
        chain: Vec::new(),
    };
    match &a.new {
        None => old_in.with_keyspace(|o| {
            let pairs = merge(
                o.ks.state(&prefix, a.from_revision)?,
                o.ks.state(&prefix, a.to_revision)?,
                a.all_fields,
            );
            run_pairs(pairs, &opts, &mut p)
        })?,
        // The two sides are read and their keyspaces built side by side.
        Some(new) => {
            let new_in = Input {
                path: new.clone(),
                no_wal: a.no_wal,
                cluster: false,
                chain: Vec::new(),
            };
            old_in.with_two_keyspaces(&new_in, |o, n| {
                let pairs = merge(
                    o.ks.state(&prefix, a.from_revision)?,
                    n.ks.state(&prefix, a.to_revision)?,
                    a.all_fields,
                );
                run_pairs(pairs, &opts, &mut p)
            })?
        }
    }
    p.finish()
}
