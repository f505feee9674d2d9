//! `reshift export --format parquet`: the arguments of `reshift export` turned into the
//! options of [`crate::k8s::parquet::export`], and what it wrote, on stderr.

use super::export::Args;
use crate::error::{Error, Result};
use crate::k8s::parquet::{JsonOptions, Options, SourceFacts, default_cluster_name};

pub fn run(a: &Args) -> Result<()> {
    if a.output.as_os_str() == "-" {
        return Err(Error::invalid(
            "--format parquet writes a dir of files: give -o DIR",
        ));
    }
    if a.include_owned {
        return Err(Error::invalid(
            "--include-owned is for YAML manifests: --format parquet exports every object",
        ));
    }
    if a.input.cluster && a.cluster_name.is_none() {
        return Err(Error::invalid(
            "with --cluster, name the partition with --cluster-name",
        ));
    }
    crate::source::refuse_output_over_input(&a.input.path, &a.output, "output dir")?;
    let cluster = a
        .cluster_name
        .clone()
        .unwrap_or_else(|| default_cluster_name(&a.input.path));
    let dec = a.decryption.load(&a.filter.k8s_prefix)?;
    let opts = Options {
        cluster,
        k8s_prefix: a.filter.k8s_prefix.clone(),
        filter: a.filter.filter(None)?,
        dec: dec.as_ref(),
        json: a.with_json.then(|| JsonOptions {
            release: a.objects.release(),
            as_stored: a.objects.as_stored,
            include_secrets: a.include_secrets,
        }),
        history: a.history,
    };
    let prefix = super::common::key_arg(&a.prefix);
    a.input.with_keyspace(|o| {
        let facts = SourceFacts {
            source: a.input.path.display().to_string(),
            source_kind: serde_json::to_value(o.src.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            db_size: if o.db.is_some() {
                o.src.db_len()
            } else {
                o.src.file_len()
            },
            cluster: crate::k8s::parquet::cluster_info(o.db.as_ref(), o.snapshot)?,
        };
        let w = crate::k8s::parquet::export(&o.ks, &prefix, a.revision, &facts, &a.output, &opts)?;
        eprintln!(
            "reshift: wrote {} objects in {} row groups{} for cluster {} under {}",
            w.objects,
            w.object_row_groups,
            w.revisions
                .map(|n| format!(", {n} revisions"))
                .unwrap_or_default(),
            opts.cluster,
            a.output.display()
        );
        Ok(())
    })
}
