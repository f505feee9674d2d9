//! `reshift snapshot`: write a compact, indexed, verifiable snapshot of an input.

use super::common::{Input, json_line, key_arg, stdout_err};
use crate::error::{Error, Result};
use crate::etcd::buckets::Extras;
use crate::etcd::lease::read_leases;
use crate::etcd::open::leases;
use crate::snapshot::{Facts, Options, extras, write_snapshot};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  reshift snapshot /var/lib/etcd -o etcd.rsnap\n  reshift snapshot /var/lib/etcd --since etcd.rsnap -o etcd-2.rsnap\n  reshift snapshot --merge etcd-2.rsnap -o full.rsnap\n  reshift snapshot /var/lib/etcd --dir /srv/etcd-backups --keep 48 --full-every 24\n  reshift snapshot /var/lib/etcd -o nodes-and-pods.rsnap --prefix /registry/minions/ --prefix /registry/pods/\n  reshift snapshot backup.db -o history.rsnap --history --exclude /registry/events/"
)]
pub struct Args {
    #[command(flatten)]
    pub input: Input,
    /// The snapshot file to write; `-` writes it to standard output.
    #[arg(
        short = 'o',
        long = "output",
        required_unless_present = "dir",
        conflicts_with = "dir"
    )]
    pub output: Option<PathBuf>,
    /// Write into this directory of scheduled snapshots, named by UTC time and revision:
    /// incremental on the newest one there (full when there is none, or see --full-every),
    /// verified with its chain, then the oldest beyond --keep / --keep-within deleted.
    #[arg(long, value_name = "BACKUPS", conflicts_with_all = ["since", "merge", "history", "revision", "prefix", "exclude", "namespace", "decrypt"])]
    pub dir: Option<PathBuf>,
    /// With --dir: keep the newest N snapshots (and what they depend on).
    #[arg(long, value_name = "N", requires = "dir")]
    pub keep: Option<usize>,
    /// With --dir: keep every snapshot written within this long (`7d`, `12h`, `30m`).
    #[arg(long, value_name = "AGE", requires = "dir", value_parser = crate::snapshot::retention::parse_duration)]
    pub keep_within: Option<i64>,
    /// With --dir: after K incrementals on a full snapshot, write a full one.
    #[arg(long, value_name = "K", requires = "dir")]
    pub full_every: Option<usize>,
    /// Write an incremental snapshot: only what changed after the revision of PREV (a
    /// snapshot of this source, full or itself incremental), linked to PREV by its
    /// checksum. Read it where PREV (and PREV's own chain) lies beside it, or pass --chain.
    #[arg(long, value_name = "PREV", conflicts_with_all = ["history", "revision", "prefix", "exclude", "namespace", "decrypt", "merge"])]
    pub since: Option<PathBuf>,
    /// The input is an incremental snapshot: fold its chain into one full snapshot (what
    /// reading the input already gives; this says it is meant).
    #[arg(long)]
    pub merge: bool,
    /// Keep every revision since the compaction instead of the latest state.
    #[arg(long)]
    pub history: bool,
    /// The state at (or, with --history, the history up to) this revision.
    #[arg(long)]
    pub revision: Option<i64>,
    /// Only keys with this prefix (repeatable).
    #[arg(long)]
    pub prefix: Vec<String>,
    /// Leave out keys with this prefix (repeatable).
    #[arg(long)]
    pub exclude: Vec<String>,
    /// Only Kubernetes objects in this namespace.
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// zstd level. After the columnar transform, level 1 already compresses well; higher
    /// levels trade time for a few percent.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    pub level: i32,
    /// Threads for compression (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Replace an existing file.
    #[arg(long)]
    pub force: bool,
    /// Train a zstd dictionary for each resource whose values are small (worth it for
    /// many tiny values; on typical clusters 1 MiB chunks gain nothing from them).
    #[arg(long)]
    pub dictionaries: bool,
    /// Store values encrypted at rest decrypted (with --encryption-provider-config); by
    /// default the snapshot keeps every value as stored. Refused if any value does not
    /// decrypt.
    #[arg(long)]
    pub decrypt: bool,
    #[command(flatten)]
    pub decryption: super::decrypt::Decryption,
}

/// Every record of `ks` whose value is encrypted, encoded again with the value decrypted
/// (`None` for the others); an error naming the first value that does not decrypt.
fn decrypted_records(
    ks: &crate::etcd::Keyspace<'_>,
    dec: &crate::k8s::encryption::Decryptor,
) -> Result<Vec<Option<Vec<u8>>>> {
    use rayon::prelude::*;
    let recs = ks.records();
    let got: Vec<_> = recs.par_iter().map(|r| dec.decrypt_kv(r.kv)).collect();
    let failed: Vec<usize> = (0..got.len())
        .filter(|&i| matches!(got[i], Some(Err(_))))
        .collect();
    if let Some(&first) = failed.first() {
        let Some(Err(e)) = &got[first] else {
            unreachable!("filtered above")
        };
        return Err(Error::invalid(format!(
            "{} of the values to snapshot did not decrypt (first: {}: {e}); no snapshot written",
            failed.len(),
            super::common::printable(recs[first].key)
        )));
    }
    Ok(got.into_iter().map(|g| g.and_then(Result::ok)).collect())
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

pub fn run(a: &Args, out: &mut dyn Write) -> Result<()> {
    let policy = crate::snapshot::retention::Policy {
        keep: a.keep,
        keep_within: a.keep_within,
        full_every: a.full_every,
    };
    // In a --dir of scheduled snapshots: incremental on the newest one, or full.
    if let Some(d) = &a.dir {
        // A new backup dir is private: snapshots hold Secrets.
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(d).map_err(|e| Error::io(d, e))?;
    }
    // Files passed over as damaged: never a base, never deleted.
    let mut damaged: Vec<PathBuf> = Vec::new();
    let since = match &a.dir {
        Some(d) => {
            let (entries, unread) = crate::snapshot::retention::list(d)?;
            let (base, bad) = crate::snapshot::retention::next_base(&entries, &policy);
            for w in &unread {
                eprintln!("reshift: warning: {w}");
            }
            for p in &bad {
                eprintln!(
                    "reshift: warning: {}: damaged (whole-file checksum mismatch): left alone, not a base",
                    p.display()
                );
            }
            damaged = bad;
            base.map(|e| e.path.clone())
        }
        None => a.since.clone(),
    };
    let target = a
        .output
        .clone()
        .or_else(|| a.dir.clone())
        .expect("clap requires one");
    for input in a.input.paths() {
        crate::source::refuse_output_over_input(&input, &target, "-o")?;
        // In --dir, the base lies in the directory written to, under another name.
        if let Some(p) = since.as_ref().filter(|_| a.dir.is_none()) {
            crate::source::refuse_output_over_input(p, &target, "-o")?;
        }
    }
    let base_src = match &since {
        Some(p) => {
            let s = crate::source::Source::open(p)?;
            if s.kind != crate::source::SourceKind::ReshiftSnapshot {
                return Err(Error::invalid(format!(
                    "--since {}: not a reshift snapshot",
                    p.display()
                )));
            }
            Some(s)
        }
        None => None,
    };
    let base = base_src.as_ref().map(|s| s.snapshot()).transpose()?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(a.threads.unwrap_or(0))
        .build()
        .map_err(|e| Error::invalid(format!("threads: {e}")))?;
    let dec = a
        .decryption
        .load_if(a.decrypt, crate::k8s::DEFAULT_PREFIX)?;
    // A running member's db is read in place when the snapshot goes to a file, which is
    // renamed into place only if etcd committed nothing meanwhile; otherwise (and for
    // standard output, which cannot take back what it was sent) from a consistent copy.
    let to_file = !crate::snapshot::writer::is_stdout(&target);
    let mut in_place = to_file;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let src = a.input.single_with(in_place)?;
        if a.merge
            && src
                .as_ref()
                .is_none_or(|s| s.kind != crate::source::SourceKind::ReshiftSnapshot)
        {
            return Err(Error::invalid(
                "--merge: the input must be a reshift snapshot (the last file of a chain)",
            ));
        }
        // Also a db no etcd held when it was mapped is watched: one may take it (a start,
        // the reopen that ends a defrag) and commit while it is read.
        let watch = src
            .as_ref()
            .and_then(|s| s.watch.clone())
            .filter(|_| to_file);
        let opts = Options {
            history: a.history,
            revision: a.revision,
            prefixes: a.prefix.iter().map(|p| key_arg(p)).collect(),
            excludes: a.exclude.iter().map(|p| key_arg(p)).collect(),
            namespace: a.namespace.clone(),
            level: a.level,
            force: a.force,
            dictionaries: a.dictionaries,
            watch: watch.clone(),
        };
        let res = write_one(
            a,
            src,
            &opts,
            &pool,
            dec.as_ref(),
            base.as_ref(),
            &since,
            &target,
            &policy,
            &damaged,
            out,
        );
        match (&res, &watch) {
            (Err(_), Some(w)) if !w.unchanged() && attempts < 5 => {
                eprintln!(
                    "reshift: note: etcd committed while its db was read in place; reading it again from a consistent copy"
                );
                in_place = false;
            }
            _ => return res,
        }
    }
}

/// Writes the snapshot of `src` (once: the caller reads a running member again when etcd
/// committed while it was read in place).
#[allow(clippy::too_many_arguments)]
fn write_one(
    a: &Args,
    src: Option<crate::source::Source>,
    opts: &Options,
    pool: &rayon::ThreadPool,
    dec: Option<&crate::k8s::encryption::Decryptor>,
    base: Option<&crate::snapshot::Snapshot<'_>>,
    since: &Option<PathBuf>,
    target: &std::path::Path,
    policy: &crate::snapshot::retention::Policy,
    damaged: &[PathBuf],
    out: &mut dyn Write,
) -> Result<()> {
    let body = |o: &super::common::Opened<'_>| -> Result<()> {
        // With --decrypt, the keyspace's records with their values decrypted.
        let plain;
        let decrypted;
        let ks = match &dec {
            None => &o.ks,
            Some(d) => {
                plain = decrypted_records(&o.ks, d)?;
                let records =
                    o.ks.records()
                        .iter()
                        .zip(&plain)
                        .map(|(r, p)| match p {
                            Some(kv) => crate::etcd::RevRecord {
                                kv,
                                key: crate::etcd::KeyValueRef::decode(kv)
                                    .map(|k| k.key)
                                    .unwrap_or(r.key),
                                ..*r
                            },
                            None => *r,
                        })
                        .collect();
                let mut k = crate::etcd::Keyspace::from_records(records, o.ks.meta.clone());
                k.revision = o.ks.revision;
                decrypted = k;
                &decrypted
            }
        };
        let (entries, member_id) = match (&o.db, o.snapshot) {
            (Some(db), _) => {
                let l = leases(db, o.wal)?;
                let members = crate::etcd::cluster::read_cluster(db)?.members;
                (
                    extras::from_db(db, ks, &l)?,
                    (members.len() == 1).then(|| members[0].id.clone()),
                )
            }
            (None, Some(s)) => {
                let mut e = s.extras()?;
                let l = read_leases(&Extras(e.clone()))?;
                extras::override_from(&mut e, ks, &l);
                (e, s.facts.member_id.clone())
            }
            (None, None) => return Err(Error::invalid("nothing to snapshot")),
        };
        let meta = o.wal.and_then(|w| w.summary.metadata.clone());
        let created = now();
        let facts = Facts {
            format_version: crate::snapshot::format::VERSION,
            reshift_version: env!("CARGO_PKG_VERSION").to_string(),
            created_unix: created,
            created: crate::k8s::meta::rfc3339(created),
            source: o.src.path.display().to_string(),
            source_kind: serde_json::to_value(o.src.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            cluster_id: meta
                .as_ref()
                .map(|m| format!("{:x}", m.cluster_id))
                .or_else(|| o.snapshot.and_then(|s| s.facts.cluster_id.clone())),
            member_id: meta
                .as_ref()
                .map(|m| format!("{:x}", m.node_id))
                .or(member_id),
            revision: ks.revision,
            compact_revision: ks.compact_revision,
            consistent_index: ks.meta.consistent_index,
            term: o.wal.map(|w| w.summary.hard_state.term).or(ks.meta.term),
            mode: if a.history { "history" } else { "latest" }.to_string(),
            at_revision: Some(a.revision.unwrap_or(ks.revision)),
            prefixes: a.prefix.clone(),
            excludes: a.exclude.clone(),
            namespace: a.namespace.clone(),
            base: None,
        };
        let t0 = std::time::Instant::now();
        let output = match &a.dir {
            Some(d) => d.join(crate::snapshot::retention::file_name(
                now_ms(),
                ks.revision,
                base.is_some(),
            )),
            None => target.to_path_buf(),
        };
        let w = pool.install(|| match (&base, &since) {
            (Some(b), Some(p)) => crate::snapshot::chain::write_incremental(
                &output,
                ks,
                &entries,
                &facts,
                opts,
                b,
                p,
                &a.input.chain,
            ),
            _ => write_snapshot(&output, ks, &entries, &facts, opts),
        })?;
        if crate::snapshot::writer::is_stdout(&output) {
            // Standard output holds the snapshot.
            return Ok(());
        }
        if std::io::stderr().is_terminal() {
            eprintln!(
                "wrote {} ({} bytes from {} bytes of records, {} records in {} chunks) in {:.2}s",
                w.path,
                w.bytes,
                w.raw_bytes,
                w.records,
                w.chunks,
                t0.elapsed().as_secs_f64()
            );
        }
        let line = match &a.dir {
            None => json_line(out, &w),
            Some(d) => {
                // The new file must verify, with its chain, before anything is deleted.
                let checked = crate::snapshot::chain::check_file(&output, &[])?;
                if let Some((p, f)) = checked
                    .iter()
                    .find_map(|(p, c)| c.findings.first().map(|f| (p, f)))
                {
                    return Err(Error::invalid(format!(
                        "{}: the new snapshot does not verify ({}: {f}); nothing deleted",
                        output.display(),
                        p.display()
                    )));
                }
                let (mut all, _) = crate::snapshot::retention::list(d)?;
                all.retain(|e| !damaged.contains(&e.path));
                let deleted = crate::snapshot::retention::prune(&all, &output, policy, now())?;
                json_line(
                    out,
                    &serde_json::json!({
                        "path": w.path,
                        "bytes": w.bytes,
                        "records": w.records,
                        "incremental": base.is_some(),
                        "base": since.as_ref().map(|p| p.display().to_string()),
                        "verified": checked.len(),
                        "deleted": deleted.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
                    }),
                )
            }
        };
        line.map_err(|e| match e {
            Error::Io { source, .. } => stdout_err(source),
            e => e,
        })
    };
    match base {
        // Only what changed after the base's revision is read where that is enough.
        Some(b) => {
            let after = b.facts.at_revision.unwrap_or(b.facts.revision);
            a.input.changes_of(src, after, body)
        }
        None => a.input.keyspace_of(src, body),
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
