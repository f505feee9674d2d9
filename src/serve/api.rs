//! The resources `reshift serve` offers and their discovery documents: the built-in
//! resources of the stable API groups, the custom resources their CRDs (found in the
//! keyspace) define, and any other resource the keyspace holds objects of (named after
//! what the objects say of themselves). Read-only: every resource offers get, list, watch.

use crate::etcd::Keyspace;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// A CRD's additional printer column.
#[derive(Debug, Clone)]
pub struct PrinterColumn {
    pub name: String,
    pub ty: String,
    pub format: String,
    pub description: String,
    pub priority: i64,
    pub json_path: String,
}

/// One resource in one group version.
#[derive(Debug, Clone)]
pub struct Resource {
    pub group: String,
    pub version: String,
    pub resource: String,
    pub kind: String,
    pub namespaced: bool,
    pub singular: String,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// For custom resources defined by a CRD: its printer columns for this version.
    pub printer_columns: Option<Vec<PrinterColumn>>,
    /// Whether the kind has a Go type in the apiserver (a built-in).
    pub builtin: bool,
}

impl Resource {
    pub fn group_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// (group, version, resource, kind, namespaced, short names, in category `all`).
type Builtin = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    &'static [&'static str],
    bool,
);

const BUILTINS: &[Builtin] = &[
    ("", "v1", "configmaps", "ConfigMap", true, &["cm"], false),
    ("", "v1", "endpoints", "Endpoints", true, &["ep"], false),
    ("", "v1", "events", "Event", true, &["ev"], false),
    (
        "",
        "v1",
        "limitranges",
        "LimitRange",
        true,
        &["limits"],
        false,
    ),
    ("", "v1", "namespaces", "Namespace", false, &["ns"], false),
    ("", "v1", "nodes", "Node", false, &["no"], false),
    (
        "",
        "v1",
        "persistentvolumeclaims",
        "PersistentVolumeClaim",
        true,
        &["pvc"],
        false,
    ),
    (
        "",
        "v1",
        "persistentvolumes",
        "PersistentVolume",
        false,
        &["pv"],
        false,
    ),
    ("", "v1", "pods", "Pod", true, &["po"], true),
    ("", "v1", "podtemplates", "PodTemplate", true, &[], false),
    (
        "",
        "v1",
        "replicationcontrollers",
        "ReplicationController",
        true,
        &["rc"],
        true,
    ),
    (
        "",
        "v1",
        "resourcequotas",
        "ResourceQuota",
        true,
        &["quota"],
        false,
    ),
    ("", "v1", "secrets", "Secret", true, &[], false),
    (
        "",
        "v1",
        "serviceaccounts",
        "ServiceAccount",
        true,
        &["sa"],
        false,
    ),
    ("", "v1", "services", "Service", true, &["svc"], true),
    (
        "apps",
        "v1",
        "controllerrevisions",
        "ControllerRevision",
        true,
        &[],
        false,
    ),
    ("apps", "v1", "daemonsets", "DaemonSet", true, &["ds"], true),
    (
        "apps",
        "v1",
        "deployments",
        "Deployment",
        true,
        &["deploy"],
        true,
    ),
    (
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        true,
        &["rs"],
        true,
    ),
    (
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        true,
        &["sts"],
        true,
    ),
    ("batch", "v1", "cronjobs", "CronJob", true, &["cj"], true),
    ("batch", "v1", "jobs", "Job", true, &[], true),
    (
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        true,
        &["hpa"],
        true,
    ),
    (
        "coordination.k8s.io",
        "v1",
        "leases",
        "Lease",
        true,
        &[],
        false,
    ),
    (
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        "EndpointSlice",
        true,
        &[],
        false,
    ),
    (
        "networking.k8s.io",
        "v1",
        "ingressclasses",
        "IngressClass",
        false,
        &[],
        false,
    ),
    (
        "networking.k8s.io",
        "v1",
        "ingresses",
        "Ingress",
        true,
        &["ing"],
        false,
    ),
    (
        "networking.k8s.io",
        "v1",
        "networkpolicies",
        "NetworkPolicy",
        true,
        &["netpol"],
        false,
    ),
    (
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        true,
        &["pdb"],
        false,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        false,
        &[],
        false,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
        "ClusterRole",
        false,
        &[],
        false,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "rolebindings",
        "RoleBinding",
        true,
        &[],
        false,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "roles",
        "Role",
        true,
        &[],
        false,
    ),
    (
        "storage.k8s.io",
        "v1",
        "csidrivers",
        "CSIDriver",
        false,
        &[],
        false,
    ),
    (
        "storage.k8s.io",
        "v1",
        "csinodes",
        "CSINode",
        false,
        &[],
        false,
    ),
    (
        "storage.k8s.io",
        "v1",
        "csistoragecapacities",
        "CSIStorageCapacity",
        true,
        &[],
        false,
    ),
    (
        "storage.k8s.io",
        "v1",
        "storageclasses",
        "StorageClass",
        false,
        &["sc"],
        false,
    ),
    (
        "storage.k8s.io",
        "v1",
        "volumeattachments",
        "VolumeAttachment",
        false,
        &[],
        false,
    ),
    (
        "scheduling.k8s.io",
        "v1",
        "priorityclasses",
        "PriorityClass",
        false,
        &["pc"],
        false,
    ),
    (
        "node.k8s.io",
        "v1",
        "runtimeclasses",
        "RuntimeClass",
        false,
        &[],
        false,
    ),
    (
        "certificates.k8s.io",
        "v1",
        "certificatesigningrequests",
        "CertificateSigningRequest",
        false,
        &["csr"],
        false,
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        false,
        &[],
        false,
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        false,
        &[],
        false,
    ),
    (
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        false,
        &["crd", "crds"],
        false,
    ),
    (
        "apiregistration.k8s.io",
        "v1",
        "apiservices",
        "APIService",
        false,
        &[],
        false,
    ),
    (
        "flowcontrol.apiserver.k8s.io",
        "v1",
        "flowschemas",
        "FlowSchema",
        false,
        &[],
        false,
    ),
    (
        "flowcontrol.apiserver.k8s.io",
        "v1",
        "prioritylevelconfigurations",
        "PriorityLevelConfiguration",
        false,
        &[],
        false,
    ),
];

/// Every resource served, grouped: groups in order (core first, then as found), each with
/// its versions (preferred first) and their resources.
#[derive(Debug, Default)]
pub struct Catalog {
    pub resources: Vec<Resource>,
}

impl Catalog {
    /// The built-ins, the CRDs the keyspace holds at `rev`, and the other resources it
    /// holds objects of under `prefix`.
    pub fn build(
        ks: &Keyspace<'_>,
        rev: i64,
        prefix: &str,
        dec: Option<&crate::k8s::encryption::Decryptor>,
    ) -> Catalog {
        let mut resources: Vec<Resource> = BUILTINS
            .iter()
            .map(|&(g, v, r, k, ns, short, all)| Resource {
                group: g.into(),
                version: v.into(),
                resource: r.into(),
                kind: k.into(),
                namespaced: ns,
                singular: k.to_ascii_lowercase(),
                short_names: short.iter().map(|s| s.to_string()).collect(),
                categories: if all { vec!["all".into()] } else { vec![] },
                printer_columns: None,
                builtin: true,
            })
            .collect();
        let p = prefix.trim_end_matches('/');
        // CRDs.
        let crd_prefix = format!("{p}/apiextensions.k8s.io/customresourcedefinitions/");
        if let Ok(state) = ks.state(crd_prefix.as_bytes(), Some(rev)) {
            for r in state {
                let kv = r.kv();
                let view = crate::k8s::render::View::STORED;
                let Ok(text) = crate::k8s::object::decode_stored_json(kv.key, kv.value, &view, dec)
                else {
                    continue;
                };
                let Ok(crd) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                resources.extend(crd_resources(&crd));
            }
        }
        // Whatever else the keyspace holds objects of.
        let root = format!("{p}/");
        let mut seen: BTreeMap<(String, String), ()> = resources
            .iter()
            .map(|r| ((r.group.clone(), r.resource.clone()), ()))
            .collect();
        if let Ok(state) = ks.state(root.as_bytes(), Some(rev)) {
            for r in state {
                let Ok(key) = std::str::from_utf8(r.key) else {
                    continue;
                };
                let Some(k) = crate::k8s::key::parse_key(key, prefix) else {
                    continue;
                };
                if seen.contains_key(&(k.group.to_string(), k.resource.to_string())) {
                    continue;
                }
                let info = crate::k8s::object::describe_with(r.key, r.kv().value, prefix, dec);
                let (av, kind) = (info.api_version.to_string(), info.kind.to_string());
                seen.insert((k.group.to_string(), k.resource.to_string()), ());
                if kind.is_empty() || av.is_empty() {
                    continue;
                }
                let (g, v) = av.rsplit_once('/').unwrap_or(("", av.as_str()));
                if g != k.group {
                    continue;
                }
                resources.push(Resource {
                    group: g.into(),
                    version: v.into(),
                    resource: k.resource.into(),
                    kind: kind.clone(),
                    namespaced: k.namespace.is_some(),
                    singular: kind.to_ascii_lowercase(),
                    short_names: vec![],
                    categories: vec![],
                    printer_columns: None,
                    builtin: false,
                });
            }
        }
        Catalog { resources }
    }

    /// The resource `resource` (a plural name) of `group`/`version`.
    pub fn find(&self, group: &str, version: &str, resource: &str) -> Option<&Resource> {
        self.resources
            .iter()
            .find(|r| r.group == group && r.version == version && r.resource == resource)
    }

    /// Groups in discovery order: (name, versions in preference order).
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for r in &self.resources {
            match out.iter_mut().find(|(g, _)| *g == r.group) {
                Some((_, vs)) => {
                    if !vs.contains(&r.version) {
                        vs.push(r.version.clone());
                    }
                }
                None => out.push((r.group.clone(), vec![r.version.clone()])),
            }
        }
        out
    }

    fn in_version<'s>(
        &'s self,
        group: &'s str,
        version: &'s str,
    ) -> impl Iterator<Item = &'s Resource> {
        self.resources
            .iter()
            .filter(move |r| r.group == group && r.version == version)
    }

    /// `/api/v1` or `/apis/<group>/<version>`: an APIResourceList, or `None` when the
    /// group version is not served.
    pub fn resource_list(&self, group: &str, version: &str) -> Option<Value> {
        let list: Vec<Value> = self
            .in_version(group, version)
            .map(|r| {
                let mut o = serde_json::Map::new();
                o.insert("name".into(), r.resource.clone().into());
                o.insert("singularName".into(), r.singular.clone().into());
                o.insert("namespaced".into(), r.namespaced.into());
                o.insert("kind".into(), r.kind.clone().into());
                o.insert("verbs".into(), json!(["get", "list", "watch"]));
                if !r.short_names.is_empty() {
                    o.insert("shortNames".into(), json!(r.short_names));
                }
                if !r.categories.is_empty() {
                    o.insert("categories".into(), json!(r.categories));
                }
                Value::Object(o)
            })
            .collect();
        if list.is_empty() {
            return None;
        }
        let gv = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        Some(json!({
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": gv,
            "resources": list,
        }))
    }

    /// `/apis`: an APIGroupList.
    pub fn group_list(&self) -> Value {
        let groups: Vec<Value> = self
            .groups()
            .into_iter()
            .filter(|(g, _)| !g.is_empty())
            .map(|(g, vs)| group_json(&g, &vs))
            .collect();
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
    }

    /// `/apis/<group>`: an APIGroup.
    pub fn group(&self, group: &str) -> Option<Value> {
        self.groups()
            .into_iter()
            .find(|(g, _)| g == group && !g.is_empty())
            .map(|(g, vs)| {
                let mut v = group_json(&g, &vs);
                let o = v.as_object_mut().expect("an object");
                let mut out = serde_json::Map::new();
                out.insert("kind".into(), "APIGroup".into());
                out.insert("apiVersion".into(), "v1".into());
                out.extend(std::mem::take(o));
                Value::Object(out)
            })
    }

    /// The aggregated discovery document (apidiscovery.k8s.io `version`) for the core
    /// group (`legacy`, `/api`) or the named groups (`/apis`).
    pub fn aggregated(&self, legacy: bool, version: &str) -> Value {
        let items: Vec<Value> = self
            .groups()
            .into_iter()
            .filter(|(g, _)| g.is_empty() == legacy)
            .map(|(g, vs)| {
                let versions: Vec<Value> = vs
                    .iter()
                    .map(|v| {
                        let resources: Vec<Value> = self
                            .in_version(&g, v)
                            .map(|r| {
                                let mut o = serde_json::Map::new();
                                o.insert("resource".into(), r.resource.clone().into());
                                o.insert(
                                    "responseKind".into(),
                                    json!({"group": r.group, "version": r.version, "kind": r.kind}),
                                );
                                o.insert(
                                    "scope".into(),
                                    if r.namespaced {
                                        "Namespaced"
                                    } else {
                                        "Cluster"
                                    }
                                    .into(),
                                );
                                o.insert("singularResource".into(), r.singular.clone().into());
                                o.insert("verbs".into(), json!(["get", "list", "watch"]));
                                if !r.short_names.is_empty() {
                                    o.insert("shortNames".into(), json!(r.short_names));
                                }
                                if !r.categories.is_empty() {
                                    o.insert("categories".into(), json!(r.categories));
                                }
                                Value::Object(o)
                            })
                            .collect();
                        json!({"version": v, "resources": resources, "freshness": "Current"})
                    })
                    .collect();
                let meta = if g.is_empty() {
                    json!({"creationTimestamp": null})
                } else {
                    json!({"name": g, "creationTimestamp": null})
                };
                json!({"metadata": meta, "versions": versions})
            })
            .collect();
        json!({
            "kind": "APIGroupDiscoveryList",
            "apiVersion": format!("apidiscovery.k8s.io/{version}"),
            "metadata": {},
            "items": items,
        })
    }
}

fn group_json(g: &str, vs: &[String]) -> Value {
    let versions: Vec<Value> = vs
        .iter()
        .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
        .collect();
    json!({
        "name": g,
        "versions": versions,
        "preferredVersion": {"groupVersion": format!("{g}/{}", vs[0]), "version": vs[0]},
    })
}

/// The resources one CRD (as served JSON) defines: one per served version, the storage
/// version first.
fn crd_resources(crd: &Value) -> Vec<Resource> {
    let spec = &crd["spec"];
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    let names = &spec["names"];
    let (group, plural) = (s(&spec["group"]), s(&names["plural"]));
    if group.is_empty() || plural.is_empty() {
        return vec![];
    }
    let kind = s(&names["kind"]);
    let singular = match s(&names["singular"]) {
        x if x.is_empty() => kind.to_ascii_lowercase(),
        x => x,
    };
    let list = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut versions: Vec<&Value> = spec["versions"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|v| v["served"].as_bool() != Some(false))
                .collect()
        })
        .unwrap_or_default();
    versions.sort_by_key(|v| v["storage"].as_bool() != Some(true));
    versions
        .into_iter()
        .map(|v| {
            let cols = v["additionalPrinterColumns"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|c| PrinterColumn {
                            name: s(&c["name"]),
                            ty: s(&c["type"]),
                            format: s(&c["format"]),
                            description: s(&c["description"]),
                            priority: c["priority"].as_i64().unwrap_or(0),
                            json_path: s(&c["jsonPath"]),
                        })
                        .collect()
                })
                .unwrap_or_default();
            Resource {
                group: group.clone(),
                version: s(&v["name"]),
                resource: plural.clone(),
                kind: kind.clone(),
                namespaced: spec["scope"].as_str() != Some("Cluster"),
                singular: singular.clone(),
                short_names: list(&names["shortNames"]),
                categories: list(&names["categories"]),
                printer_columns: Some(cols),
                builtin: false,
            }
        })
        .collect()
}
