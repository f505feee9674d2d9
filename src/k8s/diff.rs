//! What differs between two states of a key, in Kubernetes terms: the object each side
//! holds as the apiserver serves it, with fields that change on their own (noise) set
//! aside, the paths of the fields that differ, and a unified diff of the YAML `kubectl`
//! prints for each side. A key that is no object (or whose value cannot be decoded) is
//! compared as bytes. It works on one key at a time and never holds a keyspace.

use super::encryption::Decryptor;
use super::filter::ObjectFilter;
use super::object::{ObjectInfo, decode_stored_json, describe_with};
use super::render::View;
use super::schema::Release;
use crate::display::printable;
use crate::etcd::diff::Pair;
use serde::Serialize;
use serde_json::Value;

/// Fields that change without anyone changing the object, hidden unless asked for:
/// `(path to an object or a list of objects, field)`.
pub const NOISE: &[(&[&str], &str)] = &[
    (&["metadata"], "resourceVersion"),
    (&["metadata"], "managedFields"),
    (&["metadata"], "generation"),
    (&["status", "conditions"], "lastHeartbeatTime"),
    (&["status", "conditions"], "lastProbeTime"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Added,
    Removed,
    Changed,
}

/// How to compare.
pub struct Options<'d> {
    /// The apiserver's etcd prefix.
    pub prefix: String,
    /// Whose served form to compare and print.
    pub release: Release,
    /// Keep the noise fields ([`NOISE`]).
    pub all_fields: bool,
    pub filter: ObjectFilter,
    pub dec: Option<&'d Decryptor>,
}

/// One key that differs.
#[derive(Debug, Clone, Serialize)]
pub struct Difference {
    /// The key, printable (see [`printable`]).
    pub key: String,
    pub change: Change,
    /// `resource` or `resource.group`; empty for a key that is no object key.
    pub resource: String,
    pub namespace: Option<String>,
    pub name: String,
    pub kind: String,
    pub old_mod_revision: Option<i64>,
    pub new_mod_revision: Option<i64>,
    /// `object` (served objects compared) or `bytes` (values compared as stored).
    pub compared: &'static str,
    /// The fields that differ, as `spec.template.spec.containers[0].image` (objects
    /// changed on both sides only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    /// Each side as text: an object's YAML, or a value that is UTF-8; `None` for an absent
    /// side or a binary value.
    #[serde(skip)]
    pub old_text: Option<String>,
    #[serde(skip)]
    pub new_text: Option<String>,
    #[serde(skip)]
    pub old_len: usize,
    #[serde(skip)]
    pub new_len: usize,
}

/// The resource of a summary as kubectl names it with its group: `deployments.apps`.
pub fn resource_label(o: &ObjectInfo<'_>) -> String {
    match (o.resource, o.group) {
        ("", _) => String::new(),
        (r, "") => r.to_string(),
        (r, g) => format!("{r}.{g}"),
    }
}

/// Removes the noise fields from an object.
pub fn strip_noise(v: &mut Value) {
    for (path, field) in NOISE {
        strip_at(v, path, field);
    }
}

fn strip_at(v: &mut Value, path: &[&str], field: &str) {
    match v {
        Value::Array(items) => items.iter_mut().for_each(|i| strip_at(i, path, field)),
        Value::Object(m) => match path.split_first() {
            None => {
                m.remove(field);
            }
            Some((first, rest)) => {
                if let Some(c) = m.get_mut(*first) {
                    strip_at(c, rest, field);
                }
            }
        },
        _ => {}
    }
}

fn push_member(path: &str, name: &str) -> String {
    let simple = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    match (path.is_empty(), simple) {
        (true, true) => name.to_string(),
        (false, true) => format!("{path}.{name}"),
        (_, false) => format!("{path}[{}]", Value::from(name)),
    }
}

/// The paths where `a` and `b` differ, in `a`'s member order then `b`'s added members.
/// Lists of different lengths differ as a whole.
pub fn changed_paths(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                let p = push_member(path, k);
                match y.get(k) {
                    Some(vb) => changed_paths(va, vb, &p, out),
                    None => out.push(p),
                }
            }
            for k in y.keys().filter(|k| !x.contains_key(*k)) {
                out.push(push_member(path, k));
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                changed_paths(va, vb, &format!("{path}[{i}]"), out);
            }
        }
        _ if a == b => {}
        _ => out.push(if path.is_empty() {
            ".".into()
        } else {
            path.into()
        }),
    }
}

/// One side decoded as the apiserver serves it (noise removed unless asked for).
fn served(key: &[u8], kv: &crate::etcd::KeyValueRef<'_>, o: &Options<'_>) -> Option<Value> {
    let view = View::served(o.release, kv.mod_revision);
    let text = decode_stored_json(key, kv.value, &view, o.dec).ok()?;
    let mut v: Value = serde_json::from_str(&text).ok()?;
    if !o.all_fields {
        strip_noise(&mut v);
    }
    Some(v)
}

fn yaml_of(v: &Value) -> String {
    let json = v.to_string();
    crate::k8s::yaml::json_to_yaml(&json)
        .unwrap_or_else(|_| serde_json::to_string_pretty(v).unwrap_or(json) + "\n")
}

/// Compares the two sides of `pair`. `None` when the filter keeps neither side, or when
/// the objects are the same once the noise fields are set aside.
pub fn compare(pair: &Pair<'_>, o: &Options<'_>) -> Option<Difference> {
    let (old, new) = (pair.old.map(|r| r.kv()), pair.new.map(|r| r.kv()));
    // Labels come from the decrypted object only when a selector needs them.
    let dec = o.dec.filter(|_| o.filter.needs_labels());
    let old_info = old.map(|kv| describe_with(pair.key, kv.value, &o.prefix, dec));
    let new_info = new.map(|kv| describe_with(pair.key, kv.value, &o.prefix, dec));
    if !o.filter.is_empty()
        && !old_info.as_ref().is_some_and(|i| o.filter.keeps(i))
        && !new_info.as_ref().is_some_and(|i| o.filter.keeps(i))
    {
        return None;
    }
    let info = new_info.as_ref().or(old_info.as_ref())?;
    let change = match (&old, &new) {
        (None, _) => Change::Added,
        (_, None) => Change::Removed,
        _ => Change::Changed,
    };
    let mut d = Difference {
        key: printable(pair.key).into_owned(),
        change,
        resource: resource_label(info),
        namespace: info.namespace.map(str::to_string),
        name: info.name.to_string(),
        kind: new_info
            .iter()
            .chain(old_info.iter())
            .map(|i| i.kind.to_string())
            .find(|k| !k.is_empty())
            .unwrap_or_default(),
        old_mod_revision: old.map(|kv| kv.mod_revision),
        new_mod_revision: new.map(|kv| kv.mod_revision),
        compared: "bytes",
        paths: Vec::new(),
        old_text: None,
        new_text: None,
        old_len: old.map_or(0, |kv| kv.value.len()),
        new_len: new.map_or(0, |kv| kv.value.len()),
    };
    // An object key whose every present side decodes is compared as served objects.
    if !info.resource.is_empty() {
        let a = old.map(|kv| served(pair.key, &kv, o));
        let b = new.map(|kv| served(pair.key, &kv, o));
        if !matches!(a, Some(None)) && !matches!(b, Some(None)) {
            let (a, b) = (a.flatten(), b.flatten());
            if let (Some(x), Some(y)) = (&a, &b) {
                if x == y {
                    return None;
                }
                changed_paths(x, y, "", &mut d.paths);
            }
            d.compared = "object";
            d.old_text = a.as_ref().map(yaml_of);
            d.new_text = b.as_ref().map(yaml_of);
            return Some(d);
        }
    }
    if let (Some(x), Some(y)) = (&old, &new) {
        if x.value == y.value {
            return None;
        }
    }
    let text = |kv: &Option<crate::etcd::KeyValueRef<'_>>| {
        kv.and_then(|kv| std::str::from_utf8(kv.value).ok().map(str::to_string))
    };
    d.old_text = text(&old);
    d.new_text = text(&new);
    Some(d)
}

/// The header name of a side: `a/registry/pods/default/web`, or `/dev/null` when absent.
fn side_name(side: &str, key: &str, present: bool) -> String {
    if !present {
        return "/dev/null".into();
    }
    match key.strip_prefix('/') {
        Some(rest) => format!("{side}/{rest}"),
        None => format!("{side}/{key}"),
    }
}

/// `d` as a unified diff with `context` lines around each change, headed
/// `--- a/<key>` / `+++ b/<key>` (`/dev/null` for an absent side); values that are not
/// text say only that they differ, as `diff` says of binary files.
pub fn unified(d: &Difference, context: usize) -> String {
    let (has_old, has_new) = (d.change != Change::Added, d.change != Change::Removed);
    let a = side_name("a", &d.key, has_old);
    let b = side_name("b", &d.key, has_new);
    let old_ok = !has_old || d.old_text.is_some();
    let new_ok = !has_new || d.new_text.is_some();
    if !(old_ok && new_ok) {
        return format!(
            "Binary values {a} ({} bytes) and {b} ({} bytes) differ\n",
            d.old_len, d.new_len
        );
    }
    let (x, y) = (
        d.old_text.as_deref().unwrap_or(""),
        d.new_text.as_deref().unwrap_or(""),
    );
    let diff = similar::TextDiff::from_lines(x, y);
    let mut u = diff.unified_diff();
    u.context_radius(context).header(&a, &b);
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn noise_is_stripped_and_paths_found() {
        let mut a = json!({"metadata": {"name": "x", "resourceVersion": "5", "generation": 2,
            "labels": {"app.kubernetes.io/name": "w"}},
            "status": {"conditions": [{"type": "Ready", "lastHeartbeatTime": "t1", "status": "True"}]}});
        let mut b = json!({"metadata": {"name": "x", "resourceVersion": "9", "generation": 3,
            "labels": {"app.kubernetes.io/name": "v"}},
            "status": {"conditions": [{"type": "Ready", "lastHeartbeatTime": "t2", "status": "True"}]},
            "spec": {"replicas": 2}});
        strip_noise(&mut a);
        strip_noise(&mut b);
        assert_eq!(a["metadata"].get("resourceVersion"), None);
        assert_eq!(a["status"]["conditions"][0].get("lastHeartbeatTime"), None);
        let mut paths = Vec::new();
        changed_paths(&a, &b, "", &mut paths);
        assert_eq!(
            paths,
            ["metadata.labels[\"app.kubernetes.io/name\"]", "spec"]
        );
    }
}
