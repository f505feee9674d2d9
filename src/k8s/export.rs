//! Clean manifests for `kubectl apply` from stored objects: the fields the apiserver and
//! controllers set (identity, bookkeeping, status, allocations) stripped, objects that
//! controllers recreate left out, Secrets only when asked for, in an order that applies in
//! one pass ([`export`]); and the manifests written as a tree of files, each written whole
//! under a temporary name, synced and renamed into place ([`write_dir`]). It never writes
//! anywhere but the output dir it is given.

use super::encryption::Decryptor;
use super::filter::ObjectFilter;
use super::object::decode_stored_json;
use super::render::View;
use super::schema::Release;
use rayon::prelude::*;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};

/// `metadata` fields the apiserver sets.
pub const SERVER_METADATA: &[&str] = &[
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// Kinds whose objects controllers or components recreate (left out unless asked for).
const RECREATED_KINDS: &[&str] = &["Event", "Lease", "Endpoints", "EndpointSlice", "Node"];

/// Owner kinds whose controllers recreate what they own.
const CONTROLLERS: &[&str] = &[
    "ReplicaSet",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "ReplicationController",
];

pub struct Options<'d> {
    pub prefix: String,
    pub release: Release,
    pub filter: ObjectFilter,
    /// Keep objects controllers recreate (owned pods and replica sets, events, leases,
    /// endpoints, nodes).
    pub include_owned: bool,
    pub include_secrets: bool,
    pub dec: Option<&'d Decryptor>,
}

/// One manifest, ready to write.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Where it comes from, printable.
    pub key: String,
    pub api_version: String,
    pub kind: String,
    /// `resource` or `resource.group`.
    pub resource: String,
    pub namespace: Option<String>,
    pub name: String,
    /// Its place in the apply order (lower first).
    pub rank: u8,
    /// The object as YAML, as kubectl prints it.
    pub yaml: String,
}

/// What was left out, per reason.
pub type Skipped = BTreeMap<String, u64>;

/// The place of a kind in the apply order: namespaces, CRDs, cluster-wide policy and
/// classes, service accounts, config, namespaced policy, services, workloads, the rest,
/// custom resources last.
pub fn rank(api_version: &str, kind: &str, namespaced: bool) -> u8 {
    match kind {
        "Namespace" => 0,
        "CustomResourceDefinition" => 1,
        _ if super::schema::builtin_kind(api_version, kind).is_none() => 9,
        _ if !namespaced => 2,
        "ServiceAccount" => 3,
        "ConfigMap" | "Secret" => 4,
        "Role"
        | "RoleBinding"
        | "ResourceQuota"
        | "LimitRange"
        | "PersistentVolumeClaim"
        | "NetworkPolicy" => 5,
        "Service" => 6,
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "ReplicationController"
        | "Job"
        | "CronJob"
        | "Pod" => 7,
        _ => 8,
    }
}

/// [`skip_reason`] from an object's summary, for every kind but Secrets (whose type is in
/// the object, not its metadata): the same rules, read from the kind and the owner
/// references.
fn skip_reason_of(
    kind: &str,
    meta: &super::meta::ObjectMeta<'_>,
    o: &Options<'_>,
) -> Option<String> {
    if o.include_owned {
        return None;
    }
    if RECREATED_KINDS.contains(&kind) {
        return Some(format!("{kind} objects (--include-owned)"));
    }
    let owned = meta
        .owner_references
        .iter()
        .any(|r| r.controller == Some(true) || CONTROLLERS.contains(&r.kind.as_ref()));
    owned.then(|| format!("{kind} objects owned by a controller (--include-owned)"))
}

/// Why an object is left out, or `None` to export it.
fn skip_reason(v: &Value, o: &Options<'_>) -> Option<String> {
    let kind = v["kind"].as_str().unwrap_or("");
    if kind == "Secret" {
        if v["type"] == "kubernetes.io/service-account-token" {
            return Some("service account token secrets".into());
        }
        if !o.include_secrets {
            return Some("secrets (--include-secrets)".into());
        }
    }
    if o.include_owned {
        return None;
    }
    if RECREATED_KINDS.contains(&kind) {
        return Some(format!("{kind} objects (--include-owned)"));
    }
    let owned = v["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|refs| {
            refs.iter().any(|r| {
                r["controller"] == true || CONTROLLERS.contains(&r["kind"].as_str().unwrap_or(""))
            })
        });
    owned.then(|| format!("{kind} objects owned by a controller (--include-owned)"))
}

/// Removes what the server set from `v`: metadata bookkeeping, status, owner references
/// to objects also exported (they are recreated with new uids), allocated service IPs and
/// node ports, and the node a pod was scheduled to.
pub fn strip(v: &mut Value, exported_uids: &HashSet<String>) {
    let kind = v["kind"].as_str().unwrap_or("").to_string();
    if let Some(obj) = v.as_object_mut() {
        obj.remove("status");
    }
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for f in SERVER_METADATA {
            m.remove(*f);
        }
        if let Some(Value::Array(refs)) = m.get_mut("ownerReferences") {
            refs.retain(|r| !r["uid"].as_str().is_some_and(|u| exported_uids.contains(u)));
            if refs.is_empty() {
                m.remove("ownerReferences");
            }
        }
    }
    let Some(spec) = v.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    match kind.as_str() {
        "Service" => {
            if spec.get("clusterIP").and_then(Value::as_str) != Some("None") {
                spec.remove("clusterIP");
                spec.remove("clusterIPs");
            }
            spec.remove("healthCheckNodePort");
            if let Some(Value::Array(ports)) = spec.get_mut("ports") {
                for p in ports.iter_mut().filter_map(Value::as_object_mut) {
                    p.remove("nodePort");
                }
            }
        }
        "Pod" => {
            spec.remove("nodeName");
        }
        _ => {}
    }
}

/// Objects decoded, stripped and rendered at a time in the second pass.
const WINDOW: usize = 512;

/// The manifests of the live objects `kvs` (key, value) that the options keep, handed to
/// `emit` one by one in apply order, and what was left out. Values that are not
/// objects, or that cannot be decoded, are counted as left out with the reason.
///
/// Two passes, so that memory does not grow with the object count: the first reads every
/// object's summary (kind, metadata, owners; a Secret or an object without a summary is
/// decoded whole) on all cores to decide whether it is kept and where it goes in the order,
/// keeping only that and its uid; the second decodes the kept ones, in order and a window
/// at a time, strips and renders them.
pub fn export(
    kvs: &[(&[u8], &[u8])],
    o: &Options<'_>,
    mut emit: impl FnMut(&Manifest) -> crate::error::Result<()>,
) -> crate::error::Result<Skipped> {
    let view = View {
        release: o.release,
        resource_version: None,
    };
    enum One {
        Keep(Box<(Manifest, usize, Option<String>)>),
        Skip(String),
        Filtered,
    }
    let decode = |k: &[u8], v: &[u8]| -> std::result::Result<Value, String> {
        let json = match decode_stored_json(k, v, &view, o.dec) {
            Ok(j) => j,
            Err(e) if e.contains("not a Kubernetes object") => {
                return Err("keys that are no Kubernetes objects".into());
            }
            Err(e) => return Err(format!("undecodable: {e}")),
        };
        serde_json::from_str::<Value>(&json).map_err(|_| "undecodable".to_string())
    };
    let ones: Vec<One> =
        kvs.par_iter()
            .enumerate()
            .map(|(i, (k, v))| {
                // Encrypted values are described decrypted: their kind and owners decide.
                let info = super::object::describe_with(k, v, &o.prefix, o.dec);
                if !o.filter.keeps(&info) {
                    return One::Filtered;
                }
                if info.resource.is_empty() {
                    return One::Skip("keys that are no Kubernetes objects".into());
                }
                // Secrets are left out before reading them (they may be encrypted).
                if info.resource == "secrets" && info.group.is_empty() && !o.include_secrets {
                    return One::Skip("secrets (--include-secrets)".into());
                }
                // The summary decides for every kind but Secrets, without decoding the object.
                if let Some(meta) = info.metadata.as_ref().filter(|_| {
                    !info.kind.is_empty() && info.kind != "Secret" && info.error.is_none()
                }) {
                    if let Some(r) = skip_reason_of(&info.kind, meta, o) {
                        return One::Skip(r);
                    }
                    if info.kind == "RangeAllocation" {
                        return One::Skip("RangeAllocation objects (not served)".into());
                    }
                    let uid = (!meta.uid.is_empty()).then(|| meta.uid.to_string());
                    return One::Keep(Box::new((
                        Manifest {
                            key: crate::display::printable(k).into_owned(),
                            rank: rank(&info.api_version, &info.kind, info.namespace.is_some()),
                            api_version: info.api_version.to_string(),
                            kind: info.kind.to_string(),
                            resource: super::diff::resource_label(&info),
                            namespace: info.namespace.map(str::to_string),
                            name: info.name.to_string(),
                            yaml: String::new(),
                        },
                        i,
                        uid,
                    )));
                }
                let val = match decode(k, v) {
                    Ok(v) => v,
                    Err(why) => return One::Skip(why),
                };
                if let Some(r) = skip_reason(&val, o) {
                    return One::Skip(r);
                }
                let api_version = val["apiVersion"].as_str().unwrap_or("").to_string();
                let kind = val["kind"].as_str().unwrap_or("").to_string();
                if kind == "RangeAllocation" {
                    return One::Skip("RangeAllocation objects (not served)".into());
                }
                let uid = val["metadata"]["uid"].as_str().map(str::to_string);
                One::Keep(Box::new((
                    Manifest {
                        key: crate::display::printable(k).into_owned(),
                        rank: rank(&api_version, &kind, info.namespace.is_some()),
                        api_version,
                        kind,
                        resource: super::diff::resource_label(&info),
                        namespace: info.namespace.map(str::to_string),
                        name: info.name.to_string(),
                        yaml: String::new(),
                    },
                    i,
                    uid,
                )))
            })
            .collect();
    let mut skipped = Skipped::new();
    let mut kept = Vec::new();
    let mut uids = HashSet::new();
    for one in ones {
        match one {
            One::Keep(mv) => {
                let (m, i, uid) = *mv;
                uids.extend(uid);
                kept.push((m, i));
            }
            One::Skip(r) => *skipped.entry(r).or_default() += 1,
            One::Filtered => {}
        }
    }
    kept.sort_by(|(a, _), (b, _)| {
        (a.rank, &a.namespace, &a.resource, &a.name).cmp(&(
            b.rank,
            &b.namespace,
            &b.resource,
            &b.name,
        ))
    });
    for window in kept.chunks_mut(WINDOW) {
        let failed: Vec<Option<String>> = window
            .par_iter_mut()
            .map(|(m, i)| {
                let (k, v) = kvs[*i];
                match decode(k, v) {
                    Ok(mut val) => {
                        strip(&mut val, &uids);
                        m.yaml = super::yaml::json_to_yaml(&val.to_string()).unwrap_or_else(|_| {
                            serde_json::to_string_pretty(&val).unwrap_or_default() + "\n"
                        });
                        None
                    }
                    // Kept from its summary, it does not decode: left out, with the reason.
                    Err(why) => Some(why),
                }
            })
            .collect();
        for ((m, _), why) in window.iter_mut().zip(failed) {
            if let Some(why) = why {
                *skipped.entry(why).or_default() += 1;
                continue;
            }
            emit(m)?;
            // Rendered text is freed as soon as it is written.
            m.yaml = String::new();
        }
    }
    Ok(skipped)
}

/// A name made safe as one path component: `/` and `%` escaped, and `.`/`..` spelled out.
fn component(s: &str) -> String {
    let e = s
        .replace('%', "%25")
        .replace('/', "%2F")
        .replace('\0', "%00");
    match e.as_str() {
        "" => "%".into(),
        "." => "%2E".into(),
        ".." => "%2E%2E".into(),
        _ => e,
    }
}

/// Where a manifest goes under the output dir: `<namespace>/<resource>/<name>.yaml`, or
/// `_cluster/<resource>/<name>.yaml` for cluster-scoped objects.
pub fn relative_path(m: &Manifest) -> std::path::PathBuf {
    let ns = m
        .namespace
        .as_deref()
        .map_or_else(|| "_cluster".to_string(), component);
    std::path::PathBuf::from(ns)
        .join(component(&m.resource))
        .join(format!("{}.yaml", component(&m.name)))
}

/// Writes manifests to their [`relative_path`] under a dir (created as needed): each to a
/// temporary name in the same dir with mode 0600, synced, renamed into place; the dirs
/// written into are synced at [`DirWriter::finish`].
pub struct DirWriter {
    dir: std::path::PathBuf,
    dirs: HashSet<std::path::PathBuf>,
    pub written: u64,
}

impl DirWriter {
    pub fn new(dir: &std::path::Path) -> DirWriter {
        DirWriter {
            dir: dir.to_path_buf(),
            dirs: HashSet::new(),
            written: 0,
        }
    }

    pub fn write(&mut self, m: &Manifest) -> crate::error::Result<()> {
        use crate::error::Error;
        use std::io::Write;
        let path = self.dir.join(relative_path(m));
        let parent = path.parent().unwrap_or(&self.dir).to_path_buf();
        if !self.dirs.contains(&parent) {
            std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
            self.dirs.insert(parent.clone());
        }
        let tmp = parent.join(format!(
            ".{}.tmp-{}",
            path.file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            std::process::id()
        ));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp).map_err(|e| Error::io(&tmp, e))?;
        // Removed on error and on SIGINT/SIGTERM unless renamed into place.
        let guard = crate::tempout::TempGuard::new(tmp.clone());
        f.write_all(m.yaml.as_bytes())
            .and_then(|()| f.sync_all())
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| Error::io(&path, e))?;
        guard.keep();
        self.written += 1;
        Ok(())
    }

    /// Syncs every dir written into; returns how many manifests were written.
    pub fn finish(self) -> u64 {
        for d in &self.dirs {
            if let Ok(f) = std::fs::File::open(d) {
                let _ = f.sync_all();
            }
        }
        self.written
    }
}
