//! The apiserver's etcd key layout: `<prefix>/<resource>/[<namespace>/]<name>`, with group
//! resources either under their resource name alone (most built-in groups) or under
//! `<group>/<resource>` (CRDs, API services, custom resources), and a few historical
//! names: `minions` for nodes, `controllers` for replication controllers,
//! `services/specs` and `services/endpoints`, `ranges/*`, `masterleases/*`.

use serde::Serialize;

/// A parsed object key. Strings borrow from the key (lossy where it is not UTF-8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectKey<'a> {
    /// API group; empty for the core group or when unknown.
    pub group: &'a str,
    /// The resource as Kubernetes names it (`nodes` for `minions`).
    pub resource: &'a str,
    /// The resource as stored in the key (`services/specs`, `minions`).
    pub stored_as: &'a str,
    pub namespace: Option<&'a str>,
    pub name: &'a str,
}

/// Well-known resources stored without their group, and their groups.
const GROUPS: &[(&str, &str)] = &[
    ("deployments", "apps"),
    ("replicasets", "apps"),
    ("daemonsets", "apps"),
    ("statefulsets", "apps"),
    ("controllerrevisions", "apps"),
    ("jobs", "batch"),
    ("cronjobs", "batch"),
    ("horizontalpodautoscalers", "autoscaling"),
    ("leases", "coordination.k8s.io"),
    ("endpointslices", "discovery.k8s.io"),
    ("ingress", "networking.k8s.io"),
    ("ingressclasses", "networking.k8s.io"),
    ("networkpolicies", "networking.k8s.io"),
    ("ipaddresses", "networking.k8s.io"),
    ("servicecidrs", "networking.k8s.io"),
    ("poddisruptionbudgets", "policy"),
    ("podsecuritypolicy", "policy"),
    ("clusterroles", "rbac.authorization.k8s.io"),
    ("clusterrolebindings", "rbac.authorization.k8s.io"),
    ("roles", "rbac.authorization.k8s.io"),
    ("rolebindings", "rbac.authorization.k8s.io"),
    ("priorityclasses", "scheduling.k8s.io"),
    ("storageclasses", "storage.k8s.io"),
    ("csidrivers", "storage.k8s.io"),
    ("csinodes", "storage.k8s.io"),
    ("csistoragecapacities", "storage.k8s.io"),
    ("volumeattachments", "storage.k8s.io"),
    ("volumeattributesclasses", "storage.k8s.io"),
    ("certificatesigningrequests", "certificates.k8s.io"),
    ("clustertrustbundles", "certificates.k8s.io"),
    ("runtimeclasses", "node.k8s.io"),
    ("flowschemas", "flowcontrol.apiserver.k8s.io"),
    (
        "prioritylevelconfigurations",
        "flowcontrol.apiserver.k8s.io",
    ),
    (
        "mutatingwebhookconfigurations",
        "admissionregistration.k8s.io",
    ),
    (
        "validatingwebhookconfigurations",
        "admissionregistration.k8s.io",
    ),
    (
        "validatingadmissionpolicies",
        "admissionregistration.k8s.io",
    ),
    (
        "validatingadmissionpolicybindings",
        "admissionregistration.k8s.io",
    ),
    ("mutatingadmissionpolicies", "admissionregistration.k8s.io"),
    (
        "mutatingadmissionpolicybindings",
        "admissionregistration.k8s.io",
    ),
    ("resourceclaims", "resource.k8s.io"),
    ("resourceclaimtemplates", "resource.k8s.io"),
    ("deviceclasses", "resource.k8s.io"),
    ("resourceslices", "resource.k8s.io"),
    ("storageversions", "internal.apiserver.k8s.io"),
    ("storageversionmigrations", "storagemigration.k8s.io"),
];

/// kubectl's names for the built-in resources: (resource, group, singular, kind, short
/// names). Custom resources are named by their plural, optionally with their group.
const KUBECTL_NAMES: &[(&str, &str, &str, &str, &[&str])] = &[
    ("pods", "", "pod", "Pod", &["po"]),
    ("services", "", "service", "Service", &["svc"]),
    ("endpoints", "", "endpoints", "Endpoints", &["ep"]),
    ("nodes", "", "node", "Node", &["no"]),
    ("namespaces", "", "namespace", "Namespace", &["ns"]),
    ("configmaps", "", "configmap", "ConfigMap", &["cm"]),
    ("secrets", "", "secret", "Secret", &[]),
    (
        "serviceaccounts",
        "",
        "serviceaccount",
        "ServiceAccount",
        &["sa"],
    ),
    (
        "persistentvolumes",
        "",
        "persistentvolume",
        "PersistentVolume",
        &["pv"],
    ),
    (
        "persistentvolumeclaims",
        "",
        "persistentvolumeclaim",
        "PersistentVolumeClaim",
        &["pvc"],
    ),
    ("events", "", "event", "Event", &["ev"]),
    ("limitranges", "", "limitrange", "LimitRange", &["limits"]),
    (
        "resourcequotas",
        "",
        "resourcequota",
        "ResourceQuota",
        &["quota"],
    ),
    (
        "replicationcontrollers",
        "",
        "replicationcontroller",
        "ReplicationController",
        &["rc"],
    ),
    ("podtemplates", "", "podtemplate", "PodTemplate", &[]),
    (
        "deployments",
        "apps",
        "deployment",
        "Deployment",
        &["deploy"],
    ),
    ("replicasets", "apps", "replicaset", "ReplicaSet", &["rs"]),
    ("daemonsets", "apps", "daemonset", "DaemonSet", &["ds"]),
    (
        "statefulsets",
        "apps",
        "statefulset",
        "StatefulSet",
        &["sts"],
    ),
    (
        "controllerrevisions",
        "apps",
        "controllerrevision",
        "ControllerRevision",
        &[],
    ),
    ("jobs", "batch", "job", "Job", &[]),
    ("cronjobs", "batch", "cronjob", "CronJob", &["cj"]),
    (
        "horizontalpodautoscalers",
        "autoscaling",
        "horizontalpodautoscaler",
        "HorizontalPodAutoscaler",
        &["hpa"],
    ),
    ("leases", "coordination.k8s.io", "lease", "Lease", &[]),
    (
        "endpointslices",
        "discovery.k8s.io",
        "endpointslice",
        "EndpointSlice",
        &[],
    ),
    (
        "ingresses",
        "networking.k8s.io",
        "ingress",
        "Ingress",
        &["ing"],
    ),
    (
        "ingressclasses",
        "networking.k8s.io",
        "ingressclass",
        "IngressClass",
        &[],
    ),
    (
        "networkpolicies",
        "networking.k8s.io",
        "networkpolicy",
        "NetworkPolicy",
        &["netpol"],
    ),
    (
        "poddisruptionbudgets",
        "policy",
        "poddisruptionbudget",
        "PodDisruptionBudget",
        &["pdb"],
    ),
    (
        "clusterroles",
        "rbac.authorization.k8s.io",
        "clusterrole",
        "ClusterRole",
        &[],
    ),
    (
        "clusterrolebindings",
        "rbac.authorization.k8s.io",
        "clusterrolebinding",
        "ClusterRoleBinding",
        &[],
    ),
    ("roles", "rbac.authorization.k8s.io", "role", "Role", &[]),
    (
        "rolebindings",
        "rbac.authorization.k8s.io",
        "rolebinding",
        "RoleBinding",
        &[],
    ),
    (
        "priorityclasses",
        "scheduling.k8s.io",
        "priorityclass",
        "PriorityClass",
        &["pc"],
    ),
    (
        "storageclasses",
        "storage.k8s.io",
        "storageclass",
        "StorageClass",
        &["sc"],
    ),
    (
        "csidrivers",
        "storage.k8s.io",
        "csidriver",
        "CSIDriver",
        &[],
    ),
    ("csinodes", "storage.k8s.io", "csinode", "CSINode", &[]),
    (
        "volumeattachments",
        "storage.k8s.io",
        "volumeattachment",
        "VolumeAttachment",
        &[],
    ),
    (
        "certificatesigningrequests",
        "certificates.k8s.io",
        "certificatesigningrequest",
        "CertificateSigningRequest",
        &["csr"],
    ),
    (
        "runtimeclasses",
        "node.k8s.io",
        "runtimeclass",
        "RuntimeClass",
        &[],
    ),
    (
        "customresourcedefinitions",
        "apiextensions.k8s.io",
        "customresourcedefinition",
        "CustomResourceDefinition",
        &["crd", "crds"],
    ),
    (
        "apiservices",
        "apiregistration.k8s.io",
        "apiservice",
        "APIService",
        &[],
    ),
    (
        "mutatingwebhookconfigurations",
        "admissionregistration.k8s.io",
        "mutatingwebhookconfiguration",
        "MutatingWebhookConfiguration",
        &[],
    ),
    (
        "validatingwebhookconfigurations",
        "admissionregistration.k8s.io",
        "validatingwebhookconfiguration",
        "ValidatingWebhookConfiguration",
        &[],
    ),
    (
        "flowschemas",
        "flowcontrol.apiserver.k8s.io",
        "flowschema",
        "FlowSchema",
        &[],
    ),
    (
        "prioritylevelconfigurations",
        "flowcontrol.apiserver.k8s.io",
        "prioritylevelconfiguration",
        "PriorityLevelConfiguration",
        &[],
    ),
];

/// A resource named as kubectl takes it: its plural resource name and, where known or
/// given, its group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceName {
    pub resource: String,
    pub group: Option<String>,
}

/// Resolves a resource as kubectl names it — plural (`pods`), singular (`pod`), short name
/// (`po`, `deploy`, `svc`), kind (`Deployment`), or `resource.group`
/// (`deployments.apps`, `widgets.example.com`). An unknown name is taken as a custom
/// resource's plural.
pub fn resolve_resource(word: &str) -> ResourceName {
    let lower = word.to_ascii_lowercase();
    let (name, group) = match lower.split_once('.') {
        Some((n, g)) => (n, Some(g)),
        None => (lower.as_str(), None),
    };
    for &(res, grp, singular, kind, short) in KUBECTL_NAMES {
        let hit = name == res
            || name == singular
            || name == kind.to_ascii_lowercase()
            || short.contains(&name);
        if hit && group.is_none_or(|g| g == grp) {
            return ResourceName {
                resource: res.to_string(),
                group: Some(grp.to_string()),
            };
        }
    }
    ResourceName {
        resource: name.to_string(),
        group: group.map(str::to_string),
    }
}

impl ResourceName {
    /// Whether a parsed key is of this resource.
    pub fn matches(&self, key: &ObjectKey<'_>) -> bool {
        key.resource == self.resource && self.group.as_deref().is_none_or(|g| g == key.group)
    }

    /// The keys an object of this resource with this name may be stored under, most likely
    /// first: namespaced in `namespace`, then cluster-scoped.
    pub fn keys(&self, prefix: &str, namespace: &str, name: &str) -> Vec<String> {
        let prefix = prefix.trim_end_matches('/');
        let group = self.group.as_deref().unwrap_or("");
        let stored = match self.resource.as_str() {
            "nodes" => "minions".to_string(),
            "replicationcontrollers" => "controllers".to_string(),
            "services" => "services/specs".to_string(),
            "endpoints" => "services/endpoints".to_string(),
            "ingresses" => "ingress".to_string(),
            // Built-in groups' resources are stored under their name alone; CRDs, API
            // services and custom resources under their group.
            r if group.is_empty() || GROUPS.iter().any(|(res, g)| *res == r && *g == group) => {
                r.to_string()
            }
            r => format!("{group}/{r}"),
        };
        vec![
            format!("{prefix}/{stored}/{namespace}/{name}"),
            format!("{prefix}/{stored}/{name}"),
        ]
    }
}

/// Stored names that differ from the resource's name.
fn canonical(stored: &str) -> &str {
    match stored {
        "minions" => "nodes",
        "controllers" => "replicationcontrollers",
        "services/specs" => "services",
        "services/endpoints" => "endpoints",
        "ranges/serviceips" | "ranges/servicenodeports" => "rangeallocations",
        "masterleases" => "masterleases",
        s => s,
    }
}

/// Parses `key` under `prefix` (e.g. `/registry`). `None` when the key is not under it
/// or has no resource and name.
pub fn parse_key<'a>(key: &'a str, prefix: &str) -> Option<ObjectKey<'a>> {
    let rest = key
        .strip_prefix(prefix.trim_end_matches('/'))?
        .strip_prefix('/')?;
    let mut it = rest.splitn(3, '/');
    let (s0, s1, more) = (it.next().unwrap_or(""), it.next(), it.next().is_some());
    let (group, stored_as) = match (s0, s1) {
        // `ranges/serviceips` is itself the object.
        ("ranges", Some(name)) if !more => {
            return Some(ObjectKey {
                group: "",
                resource: canonical(rest),
                stored_as: rest,
                namespace: None,
                name,
            });
        }
        ("services", Some(sub @ ("specs" | "endpoints"))) => {
            ("", &rest[..s0.len() + 1 + sub.len()])
        }
        (g, Some(r)) if g.contains('.') => (g, &rest[..g.len() + 1 + r.len()]),
        _ => ("", s0),
    };
    let resource_part = if group.is_empty() {
        stored_as
    } else {
        &stored_as[group.len() + 1..]
    };
    let tail = rest.get(stored_as.len() + 1..)?;
    let resource = canonical(resource_part);
    let group = if group.is_empty() {
        GROUPS
            .iter()
            .find(|(r, _)| *r == resource)
            .map_or("", |(_, g)| *g)
    } else {
        group
    };
    // Names cannot contain '/': one segment is a cluster-scoped name; more, a namespace
    // and a name (anything past a second '/' stays in the name).
    let (namespace, name) = match tail.split_once('/') {
        None => (None, tail),
        Some((ns, name)) => (Some(ns), name),
    };
    if name.is_empty() {
        return None;
    }
    Some(ObjectKey {
        group,
        resource,
        stored_as,
        namespace,
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(k: &str) -> (String, String, String, Option<String>, String) {
        let o = parse_key(k, "/registry").unwrap_or_else(|| panic!("{k}"));
        (
            o.group.into(),
            o.resource.into(),
            o.stored_as.into(),
            o.namespace.map(Into::into),
            o.name.into(),
        )
    }

    #[test]
    fn kubectl_names_resolve() {
        let r = |w: &str| {
            let n = resolve_resource(w);
            (n.resource, n.group)
        };
        assert_eq!(r("po"), ("pods".into(), Some("".into())));
        assert_eq!(r("Deployment"), ("deployments".into(), Some("apps".into())));
        assert_eq!(r("deploy"), ("deployments".into(), Some("apps".into())));
        assert_eq!(
            r("deployments.apps"),
            ("deployments".into(), Some("apps".into()))
        );
        assert_eq!(r("svc"), ("services".into(), Some("".into())));
        assert_eq!(
            r("crd"),
            (
                "customresourcedefinitions".into(),
                Some("apiextensions.k8s.io".into())
            )
        );
        assert_eq!(
            r("widgets.example.com"),
            ("widgets".into(), Some("example.com".into()))
        );
        assert_eq!(r("widgets"), ("widgets".into(), None));
        let keys = |w: &str| resolve_resource(w).keys("/registry", "ns", "x");
        assert_eq!(keys("svc")[0], "/registry/services/specs/ns/x");
        assert_eq!(keys("no")[1], "/registry/minions/x");
        assert_eq!(keys("deploy")[0], "/registry/deployments/ns/x");
        assert_eq!(keys("ing")[0], "/registry/ingress/ns/x");
        assert_eq!(
            keys("crd")[1],
            "/registry/apiextensions.k8s.io/customresourcedefinitions/x"
        );
        assert_eq!(
            keys("widgets.example.com")[0],
            "/registry/example.com/widgets/ns/x"
        );
        for key in keys("deploy")
            .iter()
            .chain(&keys("crd"))
            .chain(&keys("widgets.example.com"))
        {
            let k = parse_key(key, "/registry").unwrap();
            assert!(
                resolve_resource(k.resource).matches(&k) || k.group == "example.com",
                "{key}"
            );
        }
    }

    #[test]
    fn layouts() {
        let s = |x: &str| x.to_string();
        assert_eq!(
            p("/registry/pods/default/web-1"),
            (s(""), s("pods"), s("pods"), Some(s("default")), s("web-1"))
        );
        assert_eq!(
            p("/registry/namespaces/prod"),
            (s(""), s("namespaces"), s("namespaces"), None, s("prod"))
        );
        assert_eq!(
            p("/registry/minions/node-1"),
            (s(""), s("nodes"), s("minions"), None, s("node-1"))
        );
        assert_eq!(
            p("/registry/services/specs/prod/api"),
            (
                s(""),
                s("services"),
                s("services/specs"),
                Some(s("prod")),
                s("api")
            )
        );
        assert_eq!(
            p("/registry/services/endpoints/prod/api"),
            (
                s(""),
                s("endpoints"),
                s("services/endpoints"),
                Some(s("prod")),
                s("api")
            )
        );
        assert_eq!(
            p("/registry/deployments/prod/web"),
            (
                s("apps"),
                s("deployments"),
                s("deployments"),
                Some(s("prod")),
                s("web")
            )
        );
        assert_eq!(
            p("/registry/clusterroles/admin"),
            (
                s("rbac.authorization.k8s.io"),
                s("clusterroles"),
                s("clusterroles"),
                None,
                s("admin")
            )
        );
        assert_eq!(
            p("/registry/example.com/widgets/ns/w"),
            (
                s("example.com"),
                s("widgets"),
                s("example.com/widgets"),
                Some(s("ns")),
                s("w")
            )
        );
        assert_eq!(
            p("/registry/apiextensions.k8s.io/customresourcedefinitions/widgets.example.com"),
            (
                s("apiextensions.k8s.io"),
                s("customresourcedefinitions"),
                s("apiextensions.k8s.io/customresourcedefinitions"),
                None,
                s("widgets.example.com")
            )
        );
        assert_eq!(
            p("/registry/ranges/serviceips"),
            (
                s(""),
                s("rangeallocations"),
                s("ranges/serviceips"),
                None,
                s("serviceips")
            )
        );
        assert_eq!(
            p("/registry/masterleases/10.0.0.1"),
            (
                s(""),
                s("masterleases"),
                s("masterleases"),
                None,
                s("10.0.0.1")
            )
        );
        assert_eq!(
            p("/registry/controllers/ns/rc"),
            (
                s(""),
                s("replicationcontrollers"),
                s("controllers"),
                Some(s("ns")),
                s("rc")
            )
        );
        assert!(parse_key("/other/x", "/registry").is_none());
        assert!(parse_key("/registry/pods", "/registry").is_none());
        assert!(parse_key("/registry/", "/registry").is_none());
        assert!(parse_key("/registry/pods/ns/", "/registry").is_none());
        assert_eq!(
            parse_key("/custom/pods/ns/a", "/custom/").unwrap().name,
            "a"
        );
        // More segments than expected: best effort, the rest is the name.
        assert_eq!(p("/registry/pods/ns/a/b").4, "a/b");
    }
}
