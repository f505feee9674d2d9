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
