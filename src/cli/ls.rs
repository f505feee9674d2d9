//! `reshift ls`: the live keys under a prefix, with their revisions, sizes and Kubernetes
//! kind, filtered by resource, namespace and label selector.

use super::common::{Input, json_line, key_arg, printable, stdout_err};
use crate::error::{Error, Result};
use crate::k8s::object::pick_all_with;
use serde::Serialize;
use std::io::Write;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  reshift ls /var/lib/etcd /registry/pods/\n  reshift ls /var/lib/etcd pods -n default\n  reshift ls /var/lib/etcd deploy -n prod -o yaml\n  reshift ls backup.db --revision 4200 -o json\n  reshift ls /var/lib/etcd --resource deployments -n prod -l 'app=web,tier!=db'\n  reshift ls /var/lib/etcd --resource configmaps -n kube-system -o yaml"
)]
pub struct Args {
    #[command(flatten)]
    pub input: Input,
    /// Only keys starting with this prefix (`\xNN` escapes allowed); or, as kubectl takes
    /// it, a resource type (`pods`, `po`, `deploy`, `deployments.apps`, `widgets.example.com`)
    /// when it does not start with `/`.
    #[arg(default_value = "", value_name = "PREFIX|TYPE")]
    pub prefix: String,
    /// The state at this revision instead of the latest.
    #[arg(long)]
    pub revision: Option<i64>,
    #[command(flatten)]
    pub filter: super::common::FilterArgs,
    #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
    pub format: LsFormat,
    #[command(flatten)]
    pub objects: super::common::ObjectArgs,
    #[command(flatten)]
    pub decryption: super::decrypt::Decryption,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LsFormat {
    /// One row per key.
    Table,
    /// One JSON line per key: revisions, sizes, kind, namespace, name.
    Json,
    /// Every object in full, as Kubernetes writes it: JSON Lines.
    Objects,
    /// Every object in full, as Kubernetes writes it: YAML documents.
    Yaml,
}

/// Objects decoded at a time: enough to keep the cores busy, few enough to keep memory flat.
const BATCH: usize = 2048;

/// Writes the full objects of `hits` in order, decoding and serializing each batch on all
/// cores. A value that is not a decodable object is written as its key and the reason.
fn write_objects(
    recs: &[crate::etcd::keyspace::RevRecord<'_>],
    hits: &[usize],
    yaml: bool,
    objects: &super::common::ObjectArgs,
    dec: Option<&crate::k8s::encryption::Decryptor>,
    out: &mut dyn Write,
) -> Result<()> {
    use rayon::prelude::*;
    for batch in hits.chunks(BATCH) {
        let texts: Vec<String> = batch
            .par_iter()
            .map(|&i| {
                let kv = recs[i].kv();
                let view = objects.view(kv.mod_revision);
                let json = crate::k8s::object::decode_stored_json(kv.key, kv.value, &view, dec)
                    .unwrap_or_else(|e| {
                        serde_json::json!({ "key": printable(kv.key), "error": e }).to_string()
                    });
                if yaml {
                    let mut y = String::with_capacity(json.len() + json.len() / 4 + 8);
                    y.push_str("---\n");
                    if let Err(e) = crate::k8s::yaml::write_yaml(&json, &mut y) {
                        y.push_str(&format!("# {}: {e}\n", printable(kv.key)));
                    }
                    y
                } else {
                    json + "\n"
                }
            })
            .collect();
        for t in texts {
            out.write_all(t.as_bytes()).map_err(stdout_err)?;
        }
    }
    Ok(())
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

pub fn run(a: &Args, out: &mut dyn Write) -> Result<()> {
    // `reshift ls DIR pods`: a positional word that is not a key prefix is a type.
    let (prefix, typed) = if a.prefix.is_empty() || a.prefix.starts_with('/') {
        (key_arg(&a.prefix), None)
    } else {
        if a.filter.resource.is_some() {
            return Err(Error::invalid(format!(
                "{:?} is a resource type (a key prefix starts with /); give it or --resource, not both",
                a.prefix
            )));
        }
        (Vec::new(), Some(a.prefix.as_str()))
    };
    let filter = a.filter.filter(typed)?;
    let k8s_prefix = &a.filter.k8s_prefix;
    let dec = a.decryption.load(k8s_prefix)?;
    a.input.with_keyspace(|o| {
        let ks = &o.ks;
        let mut state = ks.state(&prefix, a.revision)?;
        if a.format == LsFormat::Table {
            writeln!(
                out,
                "{:<8} {:<8} {:<5} {:<16} {:>8}  {:<24} KEY",
                "CREATE", "MOD", "VER", "LEASE", "SIZE", "KIND"
            )
            .map_err(stdout_err)?;
        }
        // The listing goes a window at a time — at most WINDOW records and about
        // WINDOW_BYTES of stored values — so memory stays flat whatever the key count.
        let mut recs = Vec::with_capacity(WINDOW);
        loop {
            recs.clear();
            let mut bytes = 0usize;
            for r in state.by_ref() {
                bytes += r.kv.len();
                recs.push(r);
                if recs.len() >= WINDOW || bytes >= WINDOW_BYTES {
                    break;
                }
            }
            if recs.is_empty() {
                return Ok(());
            }
            list_window(a, &recs, &filter, k8s_prefix, dec.as_ref(), out)?;
        }
    })
}

/// Records listed at a time, and about how many bytes of their stored values.
const WINDOW: usize = 16 * 1024;
const WINDOW_BYTES: usize = 32 << 20;

/// Describes, filters and writes one window of records.
fn list_window(
    a: &Args,
    recs: &[crate::etcd::keyspace::RevRecord<'_>],
    filter: &crate::k8s::filter::ObjectFilter,
    k8s_prefix: &str,
    dec: Option<&crate::k8s::encryption::Decryptor>,
    out: &mut dyn Write,
) -> Result<()> {
    let kvs: Vec<(&[u8], &[u8])> = recs.iter().map(|r| (r.key, r.kv().value)).collect();
    // Decode and filter on all cores, keeping only what a row shows.
    // Printing objects decrypts them anyway; filtering needs the decrypted labels only
    // for a selector.
    let full = matches!(a.format, LsFormat::Objects | LsFormat::Yaml);
    let describe_dec = dec.filter(|_| filter.needs_labels() || !full);
    let hits = pick_all_with(&kvs, k8s_prefix, describe_dec, |i, obj| {
        let keep = filter.keeps(&obj);
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
    if matches!(a.format, LsFormat::Objects | LsFormat::Yaml) {
        let idx: Vec<usize> = hits.iter().map(|(i, _)| *i).collect();
        return write_objects(recs, &idx, a.format == LsFormat::Yaml, &a.objects, dec, out);
    }
    for (i, obj) in &hits {
        let kv = recs[*i].kv();
        let key = printable(kv.key);
        let kind = if obj.encoding == "encrypted" && obj.kind.is_empty() {
            "(encrypted)"
        } else if obj.kind.is_empty() {
            "-"
        } else {
            &obj.kind
        };
        match a.format {
            LsFormat::Objects | LsFormat::Yaml => unreachable!("written above"),
            LsFormat::Table => writeln!(
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
            LsFormat::Json => json_line(
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
}
