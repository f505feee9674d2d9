//! Clean manifests for `kubectl apply` from stored objects: the fields the apiserver and
//! controllers set (identity, bookkeeping, status, allocations) stripped, objects that
//! controllers recreate left out, Secrets only when asked for, in an order that applies in
//! one pass ([`export`]); and the manifests written as a tree of files, each written whole
//! under a temporary name, synced and renamed into place ([`write_dir`]). It never writes
//! anywhere but the output dir it is given.

use super::encryption::Decryptor;
use super::filter::ObjectFilter;
use super::jsontree::J;
use super::object::decode_stored_json;
use super::render::View;
use super::schema::Release;
use super::yaml::{Document, NodeId};
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

/// The members [`strip`] removes whatever they hold: `status`, and [`SERVER_METADATA`]
/// under `metadata`.
const LEFT_OUT: &[&[&str]] = &[
    &["status"],
    &["metadata", "uid"],
    &["metadata", "resourceVersion"],
    &["metadata", "creationTimestamp"],
    &["metadata", "generation"],
    &["metadata", "managedFields"],
    &["metadata", "selfLink"],
    &["metadata", "deletionTimestamp"],
    &["metadata", "deletionGracePeriodSeconds"],
];

/// An object's served JSON text read as the YAML document [`strip`] works on, without
/// reading what it removes whatever it holds (managed fields, status): export's way to
/// its YAML. The text must still be JSON throughout.
pub fn read_document(json: &str) -> Result<Document<'_>, super::yaml::YamlError> {
    Document::read_leaving_out(json, LEFT_OUT)
}

/// [`read_document`] of a stored object's served text, built straight from its protobuf
/// without the text, handed to `f` (which strips and writes it); `None` where only the
/// text's way answers (see [`super::object::with_stored_doc`]).
pub fn from_stored<R>(
    k: &[u8],
    v: &[u8],
    view: &View,
    dec: Option<&Decryptor>,
    f: impl FnOnce(&mut Document<'_>) -> R,
) -> Option<R> {
    super::object::with_stored_doc(k, v, view, dec, LEFT_OUT, |d| {
        (d.depth() < TREE_DEPTH).then(|| f(d))
    })
    .flatten()
}

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

/// Annotations controllers set, per kind: the binding bookkeeping of the volume controller
/// on claims and volumes (a claim keeps its volume through the volume's `claimRef`), the
/// node the scheduler picked for a claim, and a Deployment's rollout revision.
/// `kubectl.kubernetes.io/last-applied-configuration` is kept: `kubectl apply` reads it.
const SERVER_ANNOTATIONS: &[(&str, &[&str])] = &[
    (
        "PersistentVolumeClaim",
        &[
            "pv.kubernetes.io/bind-completed",
            "pv.kubernetes.io/bound-by-controller",
            "volume.beta.kubernetes.io/storage-provisioner",
            "volume.kubernetes.io/storage-provisioner",
            "volume.kubernetes.io/selected-node",
        ],
    ),
    (
        "PersistentVolume",
        &["pv.kubernetes.io/bound-by-controller"],
    ),
    ("Deployment", &["deployment.kubernetes.io/revision"]),
];

/// The labels the Job controller's generated selector holds: the old Job's uid, which a
/// new Job's generated selector would not match (the apiserver refuses it).
const JOB_UID_LABELS: &[&str] = &["controller-uid", "batch.kubernetes.io/controller-uid"];

type Members<'a> = Vec<(std::borrow::Cow<'a, str>, J<'a>)>;

/// What [`strip`] needs of an object: reading a string or a `true` at a path of member
/// names, and removing members and items. Paths lead through maps only; any step that is
/// missing or no map makes a read `None`/`false` and a removal do nothing.
pub trait Fields {
    fn str_at(&self, path: &[&str]) -> Option<&str>;
    fn true_at(&self, path: &[&str]) -> bool;
    /// Removes the members `names` of the map at `path`.
    fn remove(&mut self, path: &[&str], names: &[&str]);
    /// Removes the member `name` of the map at `path` when it is an empty map (`map`) or an
    /// empty sequence (`!map`).
    fn remove_if_empty(&mut self, path: &[&str], name: &str, map: bool);
    /// Removes the items of the sequence at `path` that are maps whose member `field` is a
    /// string `drop` picks.
    fn remove_items_by(&mut self, path: &[&str], field: &str, drop: &dyn Fn(&str) -> bool);
    /// Removes the members `names` of every item of the sequence at `path` that is a map.
    fn remove_in_items(&mut self, path: &[&str], names: &[&str]);
}

fn at<'v, 'a>(mut v: &'v J<'a>, path: &[&str]) -> Option<&'v J<'a>> {
    for name in path {
        v = v.get(name)?;
    }
    Some(v)
}

fn members_at<'v, 'a>(mut v: &'v mut J<'a>, path: &[&str]) -> Option<&'v mut Members<'a>> {
    for name in path {
        v = match v {
            J::Obj(m) => m.iter_mut().find(|(k, _)| k == name).map(|(_, v)| v)?,
            _ => return None,
        };
    }
    match v {
        J::Obj(m) => Some(m),
        _ => None,
    }
}

impl Fields for J<'_> {
    fn str_at(&self, path: &[&str]) -> Option<&str> {
        at(self, path)?.as_str()
    }

    fn true_at(&self, path: &[&str]) -> bool {
        matches!(at(self, path), Some(J::Bool(true)))
    }

    fn remove(&mut self, path: &[&str], names: &[&str]) {
        if let Some(m) = members_at(self, path) {
            m.retain(|(k, _)| !names.contains(&k.as_ref()));
        }
    }

    fn remove_if_empty(&mut self, path: &[&str], name: &str, map: bool) {
        if let Some(m) = members_at(self, path) {
            m.retain(|(k, v)| {
                !(k == name
                    && match v {
                        J::Obj(o) => map && o.is_empty(),
                        J::Arr(a) => !map && a.is_empty(),
                        _ => false,
                    })
            });
        }
    }

    fn remove_items_by(&mut self, path: &[&str], field: &str, drop: &dyn Fn(&str) -> bool) {
        let Some((last, parent)) = path.split_last() else {
            return;
        };
        if let Some(m) = members_at(self, parent) {
            if let Some((_, J::Arr(items))) = m.iter_mut().find(|(k, _)| k == last) {
                items.retain(|i| !i.get(field).and_then(J::as_str).is_some_and(drop));
            }
        }
    }

    fn remove_in_items(&mut self, path: &[&str], names: &[&str]) {
        let Some((last, parent)) = path.split_last() else {
            return;
        };
        if let Some(m) = members_at(self, parent) {
            if let Some((_, J::Arr(items))) = m.iter_mut().find(|(k, _)| k == last) {
                for i in items.iter_mut() {
                    if let J::Obj(i) = i {
                        i.retain(|(k, _)| !names.contains(&k.as_ref()));
                    }
                }
            }
        }
    }
}

fn node_at(d: &Document<'_>, path: &[&str]) -> Option<NodeId> {
    let mut id = d.root();
    for name in path {
        id = d.member(id, name)?;
    }
    Some(id)
}

impl Fields for Document<'_> {
    fn str_at(&self, path: &[&str]) -> Option<&str> {
        self.as_str(node_at(self, path)?)
    }

    fn true_at(&self, path: &[&str]) -> bool {
        node_at(self, path).is_some_and(|id| self.is_true(id))
    }

    fn remove(&mut self, path: &[&str], names: &[&str]) {
        if let Some(id) = node_at(self, path) {
            self.remove_members(id, |_, k, _| names.contains(&k));
        }
    }

    fn remove_if_empty(&mut self, path: &[&str], name: &str, map: bool) {
        if let Some(id) = node_at(self, path) {
            self.remove_members(id, |d, k, v| {
                k == name && (if map { d.is_map(v) } else { d.is_seq(v) }) && d.is_empty(v)
            });
        }
    }

    fn remove_items_by(&mut self, path: &[&str], field: &str, drop: &dyn Fn(&str) -> bool) {
        if let Some(id) = node_at(self, path) {
            self.remove_items(id, |d, i| {
                d.member(i, field)
                    .and_then(|f| d.as_str(f))
                    .is_some_and(drop)
            });
        }
    }

    fn remove_in_items(&mut self, path: &[&str], names: &[&str]) {
        if let Some(id) = node_at(self, path) {
            for i in self.items(id).to_vec() {
                self.remove_members(i, |_, k, _| names.contains(&k));
            }
        }
    }
}

/// Removes what the server set from `v`: metadata bookkeeping, status, owner references
/// to objects also exported (they are recreated with new uids), allocated service IPs and
/// node ports, the node a pod was scheduled to, a claim's bound volume and the uid of a
/// volume's claim reference, a Job's generated selector, a service account's token
/// secrets, and the annotations of [`SERVER_ANNOTATIONS`]. A map emptied by a removal
/// goes too (annotations, labels, a claim reference), and so does a list of owner
/// references or secrets left empty.
pub fn strip(v: &mut impl Fields, exported_uids: &HashSet<String>) {
    let kind = v.str_at(&["kind"]).unwrap_or("").to_string();
    let name = v.str_at(&["metadata", "name"]).unwrap_or("").to_string();
    v.remove(&[], &["status"]);
    v.remove(&["metadata"], SERVER_METADATA);
    v.remove_items_by(&["metadata", "ownerReferences"], "uid", &|u| {
        exported_uids.contains(u)
    });
    v.remove_if_empty(&["metadata"], "ownerReferences", false);
    if let Some((_, names)) = SERVER_ANNOTATIONS.iter().find(|(k, _)| *k == kind) {
        v.remove(&["metadata", "annotations"], names);
        v.remove_if_empty(&["metadata"], "annotations", true);
    }
    if kind == "ServiceAccount" {
        // The token controller's secrets (`<account>-token-<suffix>`) are not exported and
        // are made again for the new account.
        let token = format!("{name}-token-");
        v.remove_items_by(&["secrets"], "name", &|n| n.starts_with(&token));
        v.remove_if_empty(&[], "secrets", false);
    }
    match kind.as_str() {
        "Service" => {
            if v.str_at(&["spec", "clusterIP"]) != Some("None") {
                v.remove(&["spec"], &["clusterIP", "clusterIPs"]);
            }
            v.remove(&["spec"], &["healthCheckNodePort"]);
            v.remove_in_items(&["spec", "ports"], &["nodePort"]);
        }
        "Pod" => v.remove(&["spec"], &["nodeName"]),
        "PersistentVolumeClaim" => v.remove(&["spec"], &["volumeName"]),
        "PersistentVolume" => {
            v.remove(&["spec", "claimRef"], &["uid", "resourceVersion"]);
            v.remove_if_empty(&["spec"], "claimRef", true);
        }
        "Job" if !v.true_at(&["spec", "manualSelector"]) => {
            v.remove(&["spec"], &["selector"]);
            v.remove(&["spec", "template", "metadata", "labels"], JOB_UID_LABELS);
            v.remove_if_empty(&["spec", "template", "metadata"], "labels", true);
        }
        _ => {}
    }
}

/// Objects nested this deep or deeper go the JSON tree's way, which refuses nesting past
/// its limit (512).
const TREE_DEPTH: usize = 500;

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
    // An object as served: its JSON text.
    let decode = |k: &[u8], v: &[u8]| -> std::result::Result<String, String> {
        match decode_stored_json(k, v, &view, o.dec) {
            Ok(j) => Ok(j),
            Err(e) if e.contains("not a Kubernetes object") => {
                Err("keys that are no Kubernetes objects".into())
            }
            Err(e) => Err(format!("undecodable: {e}")),
        }
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
                let val = match decode(k, v).and_then(|j| {
                    serde_json::from_str::<Value>(&j).map_err(|_| "undecodable".into())
                }) {
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
                // Most objects: their document built from the protobuf, without text.
                let built = from_stored(k, v, &view, o.dec, |d| {
                    strip(d, &uids);
                    let mut yaml = String::with_capacity(v.len() * 3 + 256);
                    d.write(&mut yaml);
                    yaml
                });
                if let Some(yaml) = built {
                    m.yaml = yaml;
                    return None;
                }
                let yaml = decode(k, v).and_then(|json| {
                    // Most objects: read once into the YAML document, stripped there and
                    // written. The JSON tree below decides the rest as before: text the
                    // YAML reader refuses or changes (a NEL folded), and nesting near the
                    // tree reader's limit (the object is then undecodable).
                    if let Ok(mut d) = read_document(&json) {
                        if !d.folded() && d.depth() < TREE_DEPTH {
                            strip(&mut d, &uids);
                            let mut yaml = String::with_capacity(json.len() + json.len() / 2);
                            d.write(&mut yaml);
                            return Ok(yaml);
                        }
                    }
                    let mut t = super::jsontree::parse_str(&json)
                        .map_err(|e| format!("undecodable: {e}"))?;
                    strip(&mut t, &uids);
                    // The YAML of the stripped tree; of its JSON text written out when the
                    // tree holds what only the text path decides on.
                    let mut yaml = String::with_capacity(json.len() + json.len() / 4 + 16);
                    if super::yaml::write_yaml_tree(&t, &mut yaml).is_some() {
                        return Ok(yaml);
                    }
                    let mut text = String::with_capacity(json.len());
                    super::diff::write_tree(&mut text, &t);
                    Ok(super::yaml::json_to_yaml(&text).unwrap_or_else(|_| {
                        serde_json::from_str::<Value>(&text)
                            .ok()
                            .and_then(|v| serde_json::to_string_pretty(&v).ok())
                            .unwrap_or_default()
                            + "\n"
                    }))
                });
                match yaml {
                    Ok(yaml) => {
                        m.yaml = yaml;
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
        // Removed on error and on SIGINT/SIGTERM unless renamed into place.
        let (guard, mut f) = crate::tempout::TempGuard::create(tmp.clone(), |p| opts.open(p))
            .map_err(|e| Error::io(&tmp, e))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `json` stripped, read back; stripping the YAML document instead of the JSON tree
    /// prints the same YAML.
    fn stripped(json: &str, uids: &[&str]) -> serde_json::Value {
        let uids = uids.iter().map(|u| u.to_string()).collect();
        let mut t = super::super::jsontree::parse(json.as_bytes()).unwrap();
        strip(&mut t, &uids);
        let mut s = String::new();
        super::super::diff::write_tree(&mut s, &t);
        let mut d = read_document(json).unwrap();
        strip(&mut d, &uids);
        let (mut from_doc, mut from_tree) = (String::new(), String::new());
        d.write(&mut from_doc);
        super::super::yaml::write_yaml_tree(&t, &mut from_tree).unwrap();
        assert_eq!(from_doc, from_tree, "{json}");
        serde_json::from_str(&s).unwrap()
    }

    #[test]
    fn what_is_left_out_while_reading_is_what_strip_removes() {
        let meta: Vec<&str> = LEFT_OUT[1..].iter().map(|p| p[1]).collect();
        assert_eq!(meta, SERVER_METADATA);
        assert!(LEFT_OUT[1..].iter().all(|p| p[0] == "metadata"));
        // Left out or not, the same YAML; and what is left out is still checked as JSON.
        let json = r#"{"kind":"Pod","status":{"a":[1,{"b":null}],"c":"\u0085x"},"metadata":{"name":"p",
            "managedFields":[{"manager":"m","fieldsV1":{"f:spec":{}}}],"uid":"u","labels":{}}}"#;
        let (mut a, mut b) = (String::new(), String::new());
        let mut d = read_document(json).unwrap();
        strip(&mut d, &HashSet::new());
        d.write(&mut a);
        let mut d = Document::read(json).unwrap();
        strip(&mut d, &HashSet::new());
        d.write(&mut b);
        assert_eq!(a, b);
        assert_eq!(a, "kind: Pod\nmetadata:\n  labels: {}\n  name: p\n");
        assert!(!read_document(json).unwrap().folded());
        assert!(read_document(r#"{"status":{"a":01}}"#).is_err());
        assert!(read_document(r#"{"status":[1,}"#).is_err());
        assert!(read_document(r#"{"metadata":{"uid":"\x"}}"#).is_err());
        let deep = format!(r#"{{"status":{}1{}}}"#, "[".repeat(600), "]".repeat(600));
        assert!(read_document(&deep).unwrap().depth() > 600);
    }

    #[test]
    fn emptied_and_odd_shaped_fields_go_as_in_the_tree() {
        // Maps emptied by the strip go; lists of the wrong shape, or empty ones already,
        // follow the same rules on both paths.
        let cases = [
            r#"{"kind":"PersistentVolume","metadata":{"name":"p","annotations":{},"ownerReferences":{}},
                "spec":{"claimRef":{"uid":"u"}}}"#,
            r#"{"kind":"Job","metadata":{"name":"j","ownerReferences":[]},"spec":{"manualSelector":"true",
                "selector":1,"template":{"metadata":{"labels":{"controller-uid":"u"}}}}}"#,
            r#"{"kind":"ServiceAccount","metadata":{"name":"a"},"secrets":[1,{"name":"a-token-1"},{"name":7}]}"#,
            r#"{"kind":"Service","metadata":{"name":"s","ownerReferences":[{"uid":"o1"},"x"]},
                "spec":{"clusterIP":"None","ports":[{"nodePort":1},[],{"port":2}]}}"#,
            r#"{"kind":"Service","spec":[]}"#,
            r#"{"kind":"Pod","metadata":[],"spec":{"nodeName":"n","x":{}}}"#,
            r#"[{"kind":"Pod"}]"#,
        ];
        for c in cases {
            stripped(c, &["o1"]);
        }
    }

    #[test]
    fn allocated_fields_are_stripped_and_nothing_else() {
        let claim = r#"{"kind":"PersistentVolumeClaim","metadata":{"name":"c","uid":"u1",
            "annotations":{"pv.kubernetes.io/bind-completed":"yes","volume.kubernetes.io/selected-node":"n1",
            "keep":"x"}},"spec":{"volumeName":"pv-1","storageClassName":"s"},"status":{"phase":"Bound"}}"#;
        assert_eq!(
            stripped(claim, &[]),
            serde_json::json!({"kind":"PersistentVolumeClaim","metadata":{"name":"c",
                "annotations":{"keep":"x"}},"spec":{"storageClassName":"s"}})
        );
        let volume = r#"{"kind":"PersistentVolume","metadata":{"name":"pv-1",
            "annotations":{"pv.kubernetes.io/bound-by-controller":"yes"}},
            "spec":{"claimRef":{"kind":"PersistentVolumeClaim","namespace":"a","name":"c","uid":"u1","resourceVersion":"7"}}}"#;
        assert_eq!(
            stripped(volume, &[]),
            serde_json::json!({"kind":"PersistentVolume","metadata":{"name":"pv-1"},
                "spec":{"claimRef":{"kind":"PersistentVolumeClaim","namespace":"a","name":"c"}}})
        );
        let deploy = r#"{"kind":"Deployment","metadata":{"name":"d","annotations":{
            "deployment.kubernetes.io/revision":"4",
            "kubectl.kubernetes.io/last-applied-configuration":"{}"}},"spec":{"replicas":2}}"#;
        assert_eq!(
            stripped(deploy, &[]),
            serde_json::json!({"kind":"Deployment","metadata":{"name":"d","annotations":{
                "kubectl.kubernetes.io/last-applied-configuration":"{}"}},"spec":{"replicas":2}})
        );
        let job = r#"{"kind":"Job","metadata":{"name":"j"},"spec":{"selector":{"matchLabels":{"controller-uid":"u"}},
            "template":{"metadata":{"labels":{"controller-uid":"u","batch.kubernetes.io/controller-uid":"u","job-name":"j"}}}}}"#;
        assert_eq!(
            stripped(job, &[]),
            serde_json::json!({"kind":"Job","metadata":{"name":"j"},"spec":{
                "template":{"metadata":{"labels":{"job-name":"j"}}}}})
        );
        // A selector the user chose is the user's.
        let manual = r#"{"kind":"Job","metadata":{"name":"j"},"spec":{"manualSelector":true,
            "selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}}}}}"#;
        assert_eq!(
            stripped(manual, &[]),
            serde_json::from_str::<Value>(manual).unwrap()
        );
        let sa = r#"{"kind":"ServiceAccount","metadata":{"name":"build"},
            "secrets":[{"name":"build-token-x7k2p"},{"name":"registry"}]}"#;
        assert_eq!(
            stripped(sa, &[]),
            serde_json::json!({"kind":"ServiceAccount","metadata":{"name":"build"},
                "secrets":[{"name":"registry"}]})
        );
        let svc = r#"{"kind":"Service","metadata":{"name":"s","ownerReferences":[{"uid":"o1"},{"uid":"o2"}]},
            "spec":{"clusterIP":"10.0.0.1","clusterIPs":["10.0.0.1"],"healthCheckNodePort":31000,
            "ports":[{"port":80,"nodePort":30080}]}}"#;
        assert_eq!(
            stripped(svc, &["o1"]),
            serde_json::json!({"kind":"Service","metadata":{"name":"s","ownerReferences":[{"uid":"o2"}]},
                "spec":{"ports":[{"port":80}]}})
        );
    }
}
