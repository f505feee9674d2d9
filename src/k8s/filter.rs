//! Which objects a command keeps: a resource named as kubectl takes it, a namespace and a
//! label selector, tested on an object's summary ([`ObjectInfo`]). Every command that
//! filters objects (ls, diff, a server) uses this one test; it never reads or decodes values.

use super::key::{ResourceName, resolve_resource};
use super::object::ObjectInfo;
use super::selector::Selector;
use std::collections::BTreeMap;

/// A resource, namespace and label selector, each optional (none: every key is kept).
#[derive(Debug, Clone, Default)]
pub struct ObjectFilter {
    pub resource: Option<ResourceName>,
    pub namespace: Option<String>,
    pub selector: Option<Selector>,
}

impl ObjectFilter {
    /// Builds a filter from the words a user gave; a selector that does not parse is an
    /// error saying why.
    pub fn new(
        resource: Option<&str>,
        namespace: Option<&str>,
        selector: Option<&str>,
    ) -> Result<ObjectFilter, String> {
        Ok(ObjectFilter {
            resource: resource.map(resolve_resource),
            namespace: namespace.map(str::to_string),
            selector: selector.map(Selector::parse).transpose()?,
        })
    }

    /// Whether nothing is filtered out.
    pub fn is_empty(&self) -> bool {
        self.resource.is_none() && self.namespace.is_none() && self.selector.is_none()
    }

    /// Whether the test reads labels (and so needs encrypted values decrypted).
    pub fn needs_labels(&self) -> bool {
        self.selector.is_some()
    }

    /// Whether the object `o` is kept. A key that is no Kubernetes object has no resource,
    /// namespace or labels: only an empty filter keeps it (or a selector that holds for no
    /// labels, such as `a!=b`).
    pub fn keeps(&self, o: &ObjectInfo<'_>) -> bool {
        let no_labels = BTreeMap::new();
        let resource_ok = self.resource.as_ref().is_none_or(|w| {
            o.resource == w.resource && w.group.as_deref().is_none_or(|g| g == o.group)
        });
        let namespace_ok = self
            .namespace
            .as_deref()
            .is_none_or(|n| o.namespace == Some(n));
        let labels_ok = self
            .selector
            .as_ref()
            .is_none_or(|s| s.matches(o.metadata.as_ref().map_or(&no_labels, |m| &m.labels)));
        resource_ok && namespace_ok && labels_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::object::describe;

    #[test]
    fn resource_namespace_and_labels() {
        let o = describe(
            b"/registry/deployments/prod/web",
            b"not an object",
            "/registry",
        );
        let keep = |r: Option<&str>, n: Option<&str>, l: Option<&str>| {
            ObjectFilter::new(r, n, l).unwrap().keeps(&o)
        };
        assert!(keep(None, None, None));
        assert!(keep(Some("deploy"), Some("prod"), None));
        assert!(keep(Some("deployments.apps"), None, None));
        assert!(!keep(Some("deployments.extensions"), None, None));
        assert!(!keep(Some("pods"), None, None));
        assert!(!keep(None, Some("default"), None));
        assert!(!keep(None, None, Some("app=web")));
        assert!(keep(None, None, Some("app!=web")));
        assert!(ObjectFilter::new(None, None, Some("a in b")).is_err());
    }
}
