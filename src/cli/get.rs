//! `reshift get`: one key's value, raw or as etcdctl-style JSON.

use super::common::{Input, key_arg, stdout_err};
use crate::error::{Error, Result};
use crate::etcd::json::write_kv;
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GetFormat {
    /// The value's bytes, unchanged.
    Raw,
    /// The object as Kubernetes writes it in JSON (full decoding of built-in kinds).
    Json,
    /// The object as YAML.
    Yaml,
    /// The KeyValue in etcdctl's JSON conventions.
    Kv,
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  reshift get /var/lib/etcd /registry/namespaces/default > ns.bin\n  reshift get backup.db /registry/configmaps/prod/app --revision 812 -o yaml\n  reshift get snap.rsnap /registry/pods/prod/web -o kv"
)]
pub struct Args {
    #[command(flatten)]
    pub input: Input,
    /// The key (`\xNN` escapes allowed).
    pub key: String,
    #[arg(long)]
    pub revision: Option<i64>,
    #[arg(short = 'o', long = "output", value_enum, default_value = "raw")]
    pub format: GetFormat,
    #[command(flatten)]
    pub objects: super::common::ObjectArgs,
}

fn print(
    kv: &crate::etcd::KeyValueRef<'_>,
    format: GetFormat,
    objects: &super::common::ObjectArgs,
    out: &mut dyn Write,
) -> Result<()> {
    match format {
        GetFormat::Raw => out.write_all(kv.value).map_err(stdout_err),
        GetFormat::Json | GetFormat::Yaml => {
            let view = objects.view(kv.mod_revision);
            let json = crate::k8s::object::decode_object_json(kv.value, &view).map_err(|e| {
                Error::invalid(format!(
                    "{}: {e} (-o raw or -o kv show the stored bytes)",
                    super::common::printable(kv.key)
                ))
            })?;
            let text = if format == GetFormat::Json {
                let mut s = crate::k8s::gojson::indent(&json);
                s.push('\n');
                s
            } else {
                let v: serde_json::Value =
                    serde_json::from_str(&json).map_err(|e| Error::invalid(e.to_string()))?;
                serde_yaml::to_string(&v).map_err(|e| Error::invalid(e.to_string()))?
            };
            out.write_all(text.as_bytes()).map_err(stdout_err)
        }
        GetFormat::Kv => {
            let mut line = Vec::new();
            write_kv(&mut line, kv);
            line.push(b'\n');
            out.write_all(&line).map_err(stdout_err)
        }
    }
}

pub fn run(a: &Args, out: &mut dyn Write) -> Result<()> {
    let key = key_arg(&a.key);
    let not_found = || Error::invalid(format!("key {:?} not found", a.key));
    // A snapshot answers from the one chunk its index points to.
    let src = a.input.open()?;
    if src.kind == crate::source::SourceKind::ReshiftSnapshot {
        let snap = src.snapshot()?;
        let f = &snap.facts;
        let oldest = if f.mode == "history" {
            f.compact_revision
        } else {
            f.at_revision.unwrap_or(f.revision)
        };
        if let Some(r) = a.revision {
            if r < oldest || r > f.at_revision.unwrap_or(f.revision) {
                return Err(Error::invalid(format!(
                    "revision {r} is not in this snapshot (it holds {oldest}..={})",
                    f.at_revision.unwrap_or(f.revision)
                )));
            }
        }
        let kv = snap.get(&key, a.revision)?.ok_or_else(not_found)?;
        let kv =
            crate::etcd::KeyValueRef::decode(&kv).map_err(|e| Error::invalid(e.to_string()))?;
        return print(&kv, a.format, &a.objects, out);
    }
    drop(src);
    a.input.with_keyspace(|o| {
        let r = o.ks.get(&key, a.revision)?.ok_or_else(not_found)?;
        print(&r.kv(), a.format, &a.objects, out)
    })
}
