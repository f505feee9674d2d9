//! `reshift export`: clean manifests for `kubectl apply`, as a tree of files or one YAML
//! stream in apply order; or, with `--format parquet`, tables for query engines
//! ([`super::export_parquet`]).

use super::common::{FilterArgs, Input, ObjectArgs, stdout_err};
use crate::error::{Error, Result};
use crate::k8s::export::{DirWriter, Options, export};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  reshift export /var/lib/etcd -o /srv/manifests\n  reshift export backup.db -n prod -o - | kubectl apply -f -\n  reshift export /var/lib/etcd --revision 4200 --include-secrets -o /srv/at-4200\n  reshift export /var/lib/etcd --format parquet --cluster-name prod-eu -o /srv/fleet"
)]
pub struct Args {
    #[command(flatten)]
    pub input: Input,
    /// A dir to write `<namespace>/<resource>/<name>.yaml` (and `_cluster/...`) into, or
    /// `-` for one multi-document YAML stream in apply order on stdout.
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// The state at this revision instead of the latest.
    #[arg(long)]
    pub revision: Option<i64>,
    /// Only keys starting with this prefix (`\xNN` escapes allowed).
    #[arg(long, default_value = "")]
    pub prefix: String,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Keep what controllers recreate: pods and replica sets they own, events, leases,
    /// endpoints, nodes.
    #[arg(long)]
    pub include_owned: bool,
    /// Export Secrets too (decrypted with --encryption-provider-config when encrypted).
    #[arg(long)]
    pub include_secrets: bool,
    #[command(flatten)]
    pub objects: ObjectArgs,
    #[command(flatten)]
    pub decryption: super::decrypt::Decryption,
    /// `yaml`: manifests to re-apply; `parquet`: tables for query engines (DuckDB, Spark,
    /// Trino) under the -o dir, as `<table>/cluster=NAME/<table>.parquet`.
    #[arg(long, value_enum, default_value = "yaml")]
    pub format: ExportFormat,
    /// With --format parquet: the cluster's partition name (letters, digits, `.`, `_`,
    /// `-`). Default: the source path's last component (a data dir's name, a file's name
    /// without its extension).
    #[arg(long, value_name = "NAME")]
    pub cluster_name: Option<String>,
    /// With --format parquet: fill `object_json` with each object as the apiserver serves
    /// it (Secrets only with --include-secrets).
    #[arg(long)]
    pub with_json: bool,
    /// With --format parquet: write `revisions.parquet`, one row per revision kept.
    #[arg(long)]
    pub history: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Yaml,
    Parquet,
}

pub fn run(a: &Args, out: &mut dyn Write) -> Result<()> {
    if a.format == ExportFormat::Parquet {
        return super::export_parquet::run(a);
    }
    if a.cluster_name.is_some() || a.with_json || a.history {
        return Err(Error::invalid(
            "--cluster-name, --with-json and --history go with --format parquet",
        ));
    }
    let to_stdout = a.output.as_os_str() == "-";
    if !to_stdout {
        crate::source::refuse_output_over_input(&a.input.path, &a.output, "output dir")?;
    }
    let dec = a.decryption.load(&a.filter.k8s_prefix)?;
    let opts = Options {
        prefix: a.filter.k8s_prefix.clone(),
        release: a.objects.release(),
        filter: a.filter.filter(None)?,
        include_owned: a.include_owned,
        include_secrets: a.include_secrets,
        dec: dec.as_ref(),
    };
    let prefix = super::common::key_arg(&a.prefix);
    a.input.with_keyspace(|o| {
        let kvs: Vec<(&[u8], &[u8])> =
            o.ks.state(&prefix, a.revision)?
                .map(|r| (r.key, r.kv().value))
                .collect();
        let mut files = (!to_stdout).then(|| DirWriter::new(&a.output));
        let skipped = export(&kvs, &opts, |m| match files.as_mut() {
            Some(w) => w.write(m),
            None => {
                out.write_all(b"---\n").map_err(stdout_err)?;
                out.write_all(m.yaml.as_bytes()).map_err(stdout_err)
            }
        })?;
        if let Some(w) = files {
            let n = w.finish();
            eprintln!("reshift: wrote {n} manifests under {}", a.output.display());
        }
        for (why, n) in &skipped {
            eprintln!("reshift: left out {n} {why}");
        }
        if kvs.is_empty() {
            return Err(Error::invalid("nothing to export: no live keys match"));
        }
        Ok(())
    })
}
