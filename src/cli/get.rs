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
    after_help = "Examples:\n  reshift get /var/lib/etcd /registry/namespaces/default > ns.bin\n  reshift get /var/lib/etcd pod/web -n prod -o yaml\n  reshift get /var/lib/etcd deploy api -n prod -o json\n  reshift get backup.db /registry/configmaps/prod/app --revision 812 -o yaml\n  reshift get snap.rsnap /registry/pods/prod/web -o kv"
)]
pub struct Args {
    #[command(flatten)]
    pub input: Input,
    /// The key (`\xNN` escapes allowed); or, as kubectl takes it, `TYPE/NAME`
    /// (`pod/web`, `deploy/api`, `svc/db`) or `TYPE NAME`, with `-n` (default `default`).
    #[arg(value_name = "KEY|TYPE[/NAME]")]
    pub key: String,
    /// The object's name, after a TYPE (`reshift get DIR pod web -n prod`).
    pub name: Option<String>,
    /// The namespace of a TYPE/NAME (kubectl's default: `default`).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// The apiserver's etcd prefix.
    #[arg(long, default_value = crate::k8s::DEFAULT_PREFIX)]
    pub k8s_prefix: String,
    #[arg(long)]
    pub revision: Option<i64>,
    #[arg(short = 'o', long = "output", value_enum, default_value = "raw")]
    pub format: GetFormat,
    #[command(flatten)]
    pub objects: super::common::ObjectArgs,
    #[command(flatten)]
    pub decryption: super::decrypt::Decryption,
}

fn print(
    kv: &crate::etcd::KeyValueRef<'_>,
    format: GetFormat,
    objects: &super::common::ObjectArgs,
    dec: Option<&crate::k8s::encryption::Decryptor>,
    out: &mut dyn Write,
) -> Result<()> {
    match format {
        GetFormat::Raw => out.write_all(kv.value).map_err(stdout_err),
        GetFormat::Json | GetFormat::Yaml => {
            let view = objects.view(kv.mod_revision);
            let json = crate::k8s::object::decode_stored_json(kv.key, kv.value, &view, dec)
                .map_err(|e| {
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
                crate::k8s::yaml::json_to_yaml(&json).map_err(|e| {
                    Error::invalid(format!("{}: {e}", super::common::printable(kv.key)))
                })?
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

/// The keys `a` may name: the key itself, or where a kubectl-style TYPE/NAME or TYPE NAME
/// is given, the keys such an object is stored under (namespaced first).
fn candidates(a: &Args) -> Result<Vec<Vec<u8>>> {
    let typed = match (&a.name, a.key.starts_with('/')) {
        (Some(name), false) => Some((a.key.as_str(), name.as_str())),
        (None, false) => a.key.split_once('/'),
        (Some(_), true) => {
            return Err(Error::invalid(format!(
                "{:?} is a key; a NAME goes after a TYPE (pod web), not after a key",
                a.key
            )));
        }
        (None, true) => None,
    };
    match typed {
        None => {
            if a.namespace.is_some() {
                return Err(Error::invalid("-n goes with TYPE/NAME, not with a key"));
            }
            Ok(vec![key_arg(&a.key)])
        }
        Some((ty, name)) if !ty.is_empty() && !name.is_empty() => {
            let ns = a.namespace.as_deref().unwrap_or("default");
            Ok(crate::k8s::key::resolve_resource(ty)
                .keys(&a.k8s_prefix, ns, name)
                .into_iter()
                .map(String::into_bytes)
                .collect())
        }
        Some(_) => Err(Error::invalid(format!(
            "{:?}: a key starts with /; a kubectl-style object is TYPE/NAME",
            a.key
        ))),
    }
}

pub fn run(a: &Args, out: &mut dyn Write) -> Result<()> {
    let keys = candidates(a)?;
    let dec = a.decryption.load(&a.k8s_prefix)?;
    let not_found = || Error::invalid(format!("key {:?} not found", a.key));
    // A snapshot answers from the one chunk its index points to.
    let src = a.input.single()?;
    if let Some(src) = src
        .as_ref()
        .filter(|s| s.kind == crate::source::SourceKind::ReshiftSnapshot)
        .map(|s| s.snapshot())
        .transpose()?
        .filter(|snap| !snap.is_incremental())
    {
        let snap = src;
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
        let mut found = None;
        for key in &keys {
            found = snap.get(key, a.revision)?;
            if found.is_some() {
                break;
            }
        }
        let kv = found.ok_or_else(not_found)?;
        let kv =
            crate::etcd::KeyValueRef::decode(&kv).map_err(|e| Error::invalid(e.to_string()))?;
        return print(&kv, a.format, &a.objects, dec.as_ref(), out);
    }
    a.input.keyspace_of(src, |o| {
        let mut found = None;
        for key in &keys {
            found = o.ks.get(key, a.revision)?;
            if found.is_some() {
                break;
            }
        }
        let r = found.ok_or_else(not_found)?;
        print(&r.kv(), a.format, &a.objects, dec.as_ref(), out)
    })
}
