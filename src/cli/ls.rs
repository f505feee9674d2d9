//! `reshift ls`: the live keys under a prefix, with their revisions, sizes and Kubernetes
//! kind, filtered by resource, namespace and label selector.

use super::common::{Format, Input, json_line, key_arg, printable, stdout_err};
use crate::error::{Error, Result};
use crate::k8s::object::{ObjectInfo, pick_all};
use crate::k8s::selector::Selector;
use serde::Serialize;
use std::io::Write;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  reshift ls /var/lib/etcd /registry/pods/\n  reshift ls backup.db --revision 4200 -o json\n  reshift ls /var/lib/etcd --resource deployments -n prod -l 'app=web,tier!=db'"
)]
pub struct Args {
    #[command(flatten)]
    pub input: Input,
    /// Only keys starting with this prefix (`\xNN` escapes allowed).
    #[arg(default_value = "")]
    pub prefix: String,
    /// The state at this revision instead of the latest.
    #[arg(long)]
    pub revision: Option<i64>,
    /// Only objects of this resource: `pods`, `deployments.apps`, `widgets.example.com`.
    #[arg(long)]
    pub resource: Option<String>,
    /// Only objects in this namespace.
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Only objects whose labels match (kubectl syntax: `a=b,c!=d,e in (f,g),!h`).
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// The apiserver's etcd prefix.
    #[arg(long, default_value = crate::k8s::DEFAULT_PREFIX)]
    pub k8s_prefix: String,
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub format: Format,
}

#[derive(Serialize)]
struct Row<'a> {
    key: &'a str,
    create_revision: i64,
    mod_revision: i64,
    version: i64,
    lease: i64,
    value_size: usize,
    kind: &'a str,
    namespace: Option<&'a str>,
    name: &'a str,
    encoding: &'static str,
}

/// What a listed row needs of its object.
struct Hit<'a> {
    kind: std::borrow::Cow<'a, str>,
    namespace: Option<&'a str>,
    name: &'a str,
    encoding: &'static str,
}

fn resource_matches(o: &ObjectInfo<'_>, want: &str) -> bool {
    match want.split_once('.') {
        Some((res, group)) => o.resource == res && o.group == group,
        None => o.resource == want,
    }
}

pub fn run(a: &Args, out: &mut dyn Write) -> Result<()> {
    let selector = a
        .selector
        .as_deref()
        .map(Selector::parse)
        .transpose()
        .map_err(Error::invalid)?;
    a.input.with_keyspace(|o| {
        let ks = &o.ks;
        let prefix = key_arg(&a.prefix);
        let recs: Vec<_> = ks.state(&prefix, a.revision)?.collect();
        let kvs: Vec<(&[u8], &[u8])> = recs.iter().map(|r| (r.key, r.kv().value)).collect();
        // Decode and filter on all cores, keeping only what a row shows.
        // A value with no metadata has no labels.
        let no_labels = std::collections::BTreeMap::new();
        let hits = pick_all(&kvs, &a.k8s_prefix, |i, obj| {
            let keep = !(a
                .resource
                .as_deref()
                .is_some_and(|w| !resource_matches(&obj, w))
                || a.namespace
                    .as_deref()
                    .is_some_and(|n| obj.namespace != Some(n))
                || selector.as_ref().is_some_and(|s| {
                    !s.matches(obj.metadata.as_ref().map_or(&no_labels, |m| &m.labels))
                }));
            keep.then_some({
                (
                    i,
                    Hit {
                        kind: obj.kind,
                        namespace: obj.namespace,
                        name: obj.name,
                        encoding: obj.encoding,
                    },
                )
            })
        });
        if a.format == Format::Table {
            writeln!(
                out,
                "{:<8} {:<8} {:<5} {:<16} {:>8}  {:<24} KEY",
                "CREATE", "MOD", "VER", "LEASE", "SIZE", "KIND"
            )
            .map_err(stdout_err)?;
        }
        for (i, obj) in &hits {
            let kv = recs[*i].kv();
            let key = printable(kv.key);
            let kind = if obj.encoding == "encrypted" {
                "(encrypted)"
            } else if obj.kind.is_empty() {
                "-"
            } else {
                &obj.kind
            };
            match a.format {
                Format::Table => writeln!(
                    out,
                    "{:<8} {:<8} {:<5} {:<16} {:>8}  {kind:<24} {key}",
                    kv.create_revision,
                    kv.mod_revision,
                    kv.version,
                    if kv.lease == 0 {
                        "-".to_string()
                    } else {
                        format!("{:016x}", kv.lease)
                    },
                    kv.value.len()
                )
                .map_err(stdout_err)?,
                Format::Json => json_line(
                    out,
                    &Row {
                        key: &key,
                        create_revision: kv.create_revision,
                        mod_revision: kv.mod_revision,
                        version: kv.version,
                        lease: kv.lease,
                        value_size: kv.value.len(),
                        kind: &obj.kind,
                        namespace: obj.namespace,
                        name: obj.name,
                        encoding: obj.encoding,
                    },
                )?,
            }
        }
        Ok(())
    })
}
