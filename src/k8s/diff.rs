//! What differs between two states of a key, in Kubernetes terms: the object each side
//! holds as the apiserver serves it, with fields that change on their own (noise) set
//! aside, the paths of the fields that differ, and a unified diff of the YAML `kubectl`
//! prints for each side. A key that is no object (or whose value cannot be decoded) is
//! compared as bytes. It works on one key at a time and never holds a keyspace.

use super::encryption::Decryptor;
use super::filter::ObjectFilter;
use super::jsontree::{self, J};
use super::object::{ObjectInfo, decode_stored_json, describe_with};
use super::render::View;
use super::schema::Release;
use crate::display::printable;
use crate::etcd::diff::Pair;
use serde::Serialize;

/// Fields that change without anyone changing the object, hidden unless asked for:
/// `(path to an object or a list of objects, field)`.
pub const NOISE: &[(&[&str], &str)] = &[
    (&["metadata"], "resourceVersion"),
    (&["metadata"], "managedFields"),
    (&["metadata"], "generation"),
    (&["status", "conditions"], "lastHeartbeatTime"),
    (&["status", "conditions"], "lastProbeTime"),
];

/// The members of [`NOISE`] whose path runs through maps alone: left out while an object's
/// document is built (see [`super::yaml::Builder`]), so that they are never made.
const NOISE_LEFT_OUT: &[&[&str]] = &[
    &["metadata", "resourceVersion"],
    &["metadata", "managedFields"],
    &["metadata", "generation"],
];

/// Documents this deep are left to the tree (whose reader stops at 512 levels).
const DOC_DEPTH: usize = 500;

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
    /// What to work out for each difference.
    pub detail: Detail,
    /// Compare objects as trees read from their served text even where their documents
    /// could be built from the protobuf (the two ways must agree; tests compare them).
    pub trees_only: bool,
}

/// How much [`compare`] works out about each difference, beyond whether it differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Whether it differs (and how: added, removed, changed), for counts.
    Counts,
    /// And the paths of the fields that differ.
    Paths,
    /// And the unified diff of the two sides' texts with this many lines of context
    /// ([`Difference::unified`]; no paths).
    Text(usize),
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
    /// The unified diff of the two texts, for [`Detail::Text`].
    #[serde(skip)]
    pub unified: Option<String>,
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
pub fn strip_noise(v: &mut J<'_>) {
    for (path, field) in NOISE {
        strip_at(v, path, field);
    }
}

fn strip_at(v: &mut J<'_>, path: &[&str], field: &str) {
    match v {
        J::Arr(items) => items.iter_mut().for_each(|i| strip_at(i, path, field)),
        J::Obj(m) => match path.split_first() {
            None => m.retain(|(k, _)| k != field),
            Some((first, rest)) => {
                if let Some((_, c)) = m.iter_mut().find(|(k, _)| k == first) {
                    strip_at(c, rest, field);
                }
            }
        },
        _ => {}
    }
}

/// Two numbers' texts hold the same value: the same text, or the same float64 when either
/// is written as a float (an integer text stays an integer, as in a generic decoder).
fn same_number(a: &str, b: &str) -> bool {
    let float = |s: &str| s.contains(['.', 'e', 'E']);
    a == b
        || (float(a)
            && float(b)
            && a.parse::<f64>()
                .ok()
                .is_some_and(|x| b.parse::<f64>() == Ok(x)))
}

/// `a` and `b` hold the same value: strings by their value (not their escapes), objects
/// whatever their member order.
pub fn same(a: &J<'_>, b: &J<'_>) -> bool {
    match (a, b) {
        (J::Null, J::Null) => true,
        (J::Bool(x), J::Bool(y)) => x == y,
        (J::Num(x), J::Num(y)) => same_number(x, y),
        (J::Str(x, _), J::Str(y, _)) => x == y,
        (J::Arr(x), J::Arr(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q)),
        (J::Obj(x), J::Obj(y)) => {
            x.len() == y.len()
                && x.iter().enumerate().all(|(i, (k, va))| {
                    // Members are nearly always in the same order: look there first.
                    let vb = match y.get(i) {
                        Some((kb, vb)) if kb == k => Some(vb),
                        _ => y.iter().find(|(kb, _)| kb == k).map(|(_, v)| v),
                    };
                    vb.is_some_and(|vb| same(va, vb))
                })
        }
        _ => false,
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
        (_, false) => format!("{path}[{}]", serde_json::Value::from(name)),
    }
}

/// The paths where `a` and `b` differ, in `a`'s member order then `b`'s added members.
/// Lists of different lengths differ as a whole.
pub fn changed_paths(a: &J<'_>, b: &J<'_>, path: &str, out: &mut Vec<String>) {
    match (a, b) {
        (J::Obj(x), J::Obj(y)) => {
            for (i, (k, va)) in x.iter().enumerate() {
                let vb = match y.get(i) {
                    Some((kb, vb)) if kb == k => Some(vb),
                    _ => y.iter().find(|(kb, _)| kb == k).map(|(_, v)| v),
                };
                match vb {
                    // Equal members need no path.
                    Some(vb) if same(va, vb) => {}
                    Some(vb) => changed_paths(va, vb, &push_member(path, k), out),
                    None => out.push(push_member(path, k)),
                }
            }
            for (k, _) in y.iter().filter(|(k, _)| !x.iter().any(|(ka, _)| ka == k)) {
                out.push(push_member(path, k));
            }
        }
        (J::Arr(x), J::Arr(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                if !same(va, vb) {
                    changed_paths(va, vb, &format!("{path}[{i}]"), out);
                }
            }
        }
        _ if same(a, b) => {}
        _ => out.push(if path.is_empty() {
            ".".into()
        } else {
            path.into()
        }),
    }
}

/// Writes `s` as a JSON string, as serde_json writes it.
fn write_json_string(out: &mut String, s: &str) {
    // Most keys need no escape: quoted as they are.
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&serde_json::Value::from(s).to_string());
    }
}

/// Writes `v` as compact JSON, keeping each string's escapes and each number's text as
/// read, so that the YAML of the text written is the YAML of the text read minus what was
/// removed from the tree.
pub fn write_tree(out: &mut String, v: &J<'_>) {
    match v {
        J::Null => out.push_str("null"),
        J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        J::Num(n) => out.push_str(n),
        J::Str(s, raw) => match std::str::from_utf8(raw) {
            Ok(raw) => {
                out.push('"');
                out.push_str(raw);
                out.push('"');
            }
            Err(_) => write_json_string(out, s),
        },
        J::Arr(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_tree(out, x);
            }
            out.push(']');
        }
        J::Obj(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, k);
                out.push(':');
                write_tree(out, x);
            }
            out.push('}');
        }
    }
}

/// One side decoded as the apiserver serves it: its JSON text.
fn served(key: &[u8], kv: &crate::etcd::KeyValueRef<'_>, o: &Options<'_>) -> Option<String> {
    let view = View::served(o.release, kv.mod_revision);
    decode_stored_json(key, kv.value, &view, o.dec).ok()
}

/// Room for the YAML of the JSON `text`.
fn yaml_buffer(text: &str) -> String {
    String::with_capacity(text.len() + text.len() / 4 + 16)
}

/// The YAML kubectl prints for a side: of its tree `v` (`text` as served, minus what was
/// removed from it when `stripped`).
pub fn yaml_of(text: &str, v: &J<'_>, stripped: bool) -> String {
    let mut y = yaml_buffer(text);
    if crate::k8s::yaml::write_yaml_tree(v, &mut y).is_some() {
        return y;
    }
    let json = if stripped {
        let mut s = String::with_capacity(text.len());
        write_tree(&mut s, v);
        std::borrow::Cow::Owned(s)
    } else {
        std::borrow::Cow::Borrowed(text)
    };
    crate::k8s::yaml::json_to_yaml(&json).unwrap_or_else(|_| {
        serde_json::from_str::<serde_json::Value>(&json)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .map_or_else(|| json.to_string(), |p| p + "\n")
    })
}

/// A side's served text read as a tree, noise removed unless asked for: `Some(None)` for
/// an absent side, `None` when the text does not read.
///
/// With `like`, the other side's text and tree: the root members written the same there
/// are taken from that tree, not read again (the same tree; noise removal is idempotent).
/// Where its root members lie ([`jsontree::Spans`]) comes with the tree.
fn tree<'t>(
    text: Option<&'t str>,
    like: Option<(&str, &J<'t>, &jsontree::Spans)>,
    o: &Options<'_>,
) -> Option<Option<(J<'t>, Option<jsontree::Spans>)>> {
    let Some(t) = text else {
        return Some(None);
    };
    let (mut v, spans) = match like {
        Some((lt, lv, ls)) => (jsontree::parse_str_like(t, lt, lv, ls).ok()?, None),
        None => jsontree::parse_str_spans(t).ok()?,
    };
    if !o.all_fields {
        strip_noise(&mut v);
    }
    Some(Some((v, spans)))
}

/// Compares the two sides of `pair`. `None` when the filter keeps neither side, or when
/// the objects are the same once the noise fields are set aside.
pub fn compare(pair: &Pair<'_>, o: &Options<'_>) -> Option<Difference> {
    let mut d = compare_sides(pair, o)?;
    if let Detail::Text(context) = o.detail {
        if d.unified.is_none() {
            d.unified = Some(unified(&d, context));
        }
        d.old_text = None;
        d.new_text = None;
    }
    Some(d)
}

fn compare_sides(pair: &Pair<'_>, o: &Options<'_>) -> Option<Difference> {
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
        unified: None,
        old_len: old.map_or(0, |kv| kv.value.len()),
        new_len: new.map_or(0, |kv| kv.value.len()),
    };
    // A key on one side only is counted without decoding it.
    if o.detail == Detail::Counts && change != Change::Changed {
        return Some(d);
    }
    // An object key whose every present side decodes is compared as served objects: as
    // the YAML documents built straight from their protobuf where both sides build (the
    // paths of `-o json` follow the served text's member order, so they take the trees).
    if !info.resource.is_empty() && o.detail != Detail::Paths && !o.trees_only {
        if let Some(sides) = compare_documents(pair.key, &d.key, old, new, o) {
            let sides = sides?;
            d.compared = "object";
            d.old_text = sides.old;
            d.new_text = sides.new;
            d.unified = sides.unified;
            return Some(d);
        }
    }
    if !info.resource.is_empty() {
        let a = old.map(|kv| served(pair.key, &kv, o));
        let b = new.map(|kv| served(pair.key, &kv, o));
        if !matches!(a, Some(None)) && !matches!(b, Some(None)) {
            let (a, b) = (a.flatten(), b.flatten());
            let ta = tree(a.as_deref(), None, o);
            let like = match (a.as_deref(), &ta) {
                (Some(t), Some(Some((v, Some(s))))) => Some((t, v, s)),
                _ => None,
            };
            let tb = tree(b.as_deref(), like, o);
            let ta = ta.map(|t| t.map(|(v, _)| v));
            let tb = tb.map(|t| t.map(|(v, _)| v));
            if let (Some(ta), Some(tb)) = (ta, tb) {
                if let (Some(x), Some(y)) = (&ta, &tb) {
                    if same(x, y) {
                        return None;
                    }
                    // The table shows a unified diff, not the paths.
                    if o.detail == Detail::Paths {
                        changed_paths(x, y, "", &mut d.paths);
                    }
                }
                d.compared = "object";
                if let Detail::Text(_) = o.detail {
                    let stripped = !o.all_fields;
                    if let (Some(x), Some(y)) = (&ta, &tb) {
                        let (ta, tb) = (a.as_deref().unwrap_or(""), b.as_deref().unwrap_or(""));
                        let (mut ya, mut yb) = (yaml_buffer(ta), yaml_buffer(tb));
                        if crate::k8s::yaml::write_yaml_tree_pair(x, y, &mut ya, &mut yb) {
                            d.old_text = Some(ya);
                            d.new_text = Some(yb);
                            return Some(d);
                        }
                    }
                    d.old_text = a
                        .as_deref()
                        .zip(ta.as_ref())
                        .map(|(t, v)| yaml_of(t, v, stripped));
                    d.new_text = b
                        .as_deref()
                        .zip(tb.as_ref())
                        .map(|(t, v)| yaml_of(t, v, stripped));
                }
                return Some(d);
            }
        }
    }
    if let (Some(x), Some(y)) = (&old, &new) {
        if x.value == y.value {
            return None;
        }
    }
    if let Detail::Text(_) = o.detail {
        let text = |kv: &Option<crate::etcd::KeyValueRef<'_>>| {
            kv.and_then(|kv| std::str::from_utf8(kv.value).ok().map(str::to_string))
        };
        d.old_text = text(&old);
        d.new_text = text(&new);
    }
    Some(d)
}

/// A side's YAML document built from its protobuf, noise removed unless asked for, handed
/// to `f` (`None` for an absent side). `None` where only the text's way answers: the value
/// is no protobuf of a built-in kind, does not decode, holds what the builder does not
/// take, is deeper than the tree reads, or holds numbers whose nodes lose their text.
fn with_document<R>(
    key: &[u8],
    kv: Option<crate::etcd::KeyValueRef<'_>>,
    o: &Options<'_>,
    f: impl FnOnce(Option<&super::yaml::Document<'_>>) -> Option<R>,
) -> Option<R> {
    let Some(kv) = kv else {
        return f(None);
    };
    let view = View::served(o.release, kv.mod_revision);
    let skip = if o.all_fields { &[] } else { NOISE_LEFT_OUT };
    super::object::with_stored_doc(key, kv.value, &view, o.dec, skip, |d| {
        if d.depth() >= DOC_DEPTH || !d.exact_numbers() {
            return None;
        }
        if !o.all_fields {
            for (path, field) in NOISE {
                d.strip(path, field);
            }
        }
        f(Some(d))
    })
    .flatten()
}

/// What [`compare_documents`] makes of two sides that differ: each side's YAML, or the
/// unified diff already made of texts cut short.
struct Sides {
    old: Option<String>,
    new: Option<String>,
    unified: Option<String>,
}

/// Both sides of an object key compared as the documents [`with_document`] builds:
/// `None` where either side is left to the text, `Some(None)` when they hold the same
/// value, else each side's YAML when the detail asks for text. The members both sides end
/// with are written only as far as the unified diff (of the key printed as `name`) can
/// show them, and the diff is made here; where that diff cannot be found from the cut
/// texts alone, the whole texts are written.
fn compare_documents(
    key: &[u8],
    name: &str,
    old: Option<crate::etcd::KeyValueRef<'_>>,
    new: Option<crate::etcd::KeyValueRef<'_>>,
    o: &Options<'_>,
) -> Option<Option<Sides>> {
    let Detail::Text(context) = o.detail else {
        return with_document(key, old, o, |a| {
            with_document(key, new, o, |b| {
                let same = matches!((a, b), (Some(x), Some(y)) if x.same(y));
                Some((!same).then_some(Sides {
                    old: None,
                    new: None,
                    unified: None,
                }))
            })
        });
    };
    let whole = |d: &super::yaml::Document<'_>, kv: Option<crate::etcd::KeyValueRef<'_>>| {
        let mut y = String::with_capacity(kv.map_or(0, |kv| kv.value.len() * 2 + 256));
        d.write(&mut y);
        y
    };
    with_document(key, old, o, |a| {
        with_document(key, new, o, |b| {
            let (Some(x), Some(y)) = (a, b) else {
                return Some(Some(Sides {
                    old: a.map(|x| whole(x, old)),
                    new: b.map(|y| whole(y, new)),
                    unified: None,
                }));
            };
            if x.same(y) {
                return Some(None);
            }
            let (mut ya, mut yb) = (String::new(), String::new());
            // The unified diff of texts cut a margin past the lines it shows is that of
            // the whole texts (see `unified_trimmed`).
            if super::yaml::write_pair(x, y, &mut ya, &mut yb, Some(context + MARGIN + 2)) {
                let (ha, hb) = (side_name("a", name, true), side_name("b", name, true));
                if let Some(u) = unified_trimmed(&ya, &yb, &ha, &hb, context) {
                    return Some(Some(Sides {
                        old: None,
                        new: None,
                        unified: Some(u),
                    }));
                }
                ya.clear();
                yb.clear();
                super::yaml::write_pair(x, y, &mut ya, &mut yb, None);
            }
            Some(Some(Sides {
                old: Some(ya),
                new: Some(yb),
                unified: None,
            }))
        })
    })
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
    if let Some(u) = unified_trimmed(x, y, &a, &b, context) {
        return u;
    }
    let diff = similar::TextDiff::from_lines(x, y);
    let mut u = diff.unified_diff();
    u.context_radius(context).header(&a, &b);
    u.to_string()
}

/// Lines past those `unified` must show kept on each side of the lines the two texts
/// share at their start and end, so that what `similar` makes of them (its compaction
/// slides a change along equal lines) can be seen to stay inside.
const MARGIN: usize = 16;

/// How many bytes `a` and `b` start with in common (sixteen compared at a time).
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let mut n = 0;
    for (x, y) in a.chunks_exact(16).zip(b.chunks_exact(16)) {
        if x != y {
            break;
        }
        n += 16;
    }
    n + a[n..]
        .iter()
        .zip(&b[n..])
        .take_while(|(x, y)| x == y)
        .count()
}

/// How many bytes `a` and `b` end with in common (sixteen compared at a time).
fn common_suffix(a: &[u8], b: &[u8]) -> usize {
    let mut n = 0;
    for (x, y) in a.rchunks_exact(16).zip(b.rchunks_exact(16)) {
        if x != y {
            break;
        }
        n += 16;
    }
    let (a, b) = (&a[..a.len() - n], &b[..b.len() - n]);
    n + a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x == y)
        .count()
}

/// `similar`'s unified diff of two texts that end in a line break, headed `a` and `b`,
/// found without splitting the lines the two share at their start and end: `similar`
/// diffs the changed middle with `context + MARGIN` lines around it, and the hunks' line
/// numbers are moved by the shared lines left out. `None` when the hunks reach into that
/// margin (or what is left out is too little to matter): the caller diffs the whole texts.
fn unified_trimmed(x: &str, y: &str, a: &str, b: &str, context: usize) -> Option<String> {
    use similar::DiffOp;
    if !x.ends_with('\n') || !y.ends_with('\n') || x == y {
        return None;
    }
    let (xb, yb) = (x.as_bytes(), y.as_bytes());
    // The whole lines both start with: up to the last line break in the common bytes.
    let same = common_prefix(xb, yb);
    let head = memchr::memrchr(b'\n', &xb[..same]).map_or(0, |i| i + 1);
    // The whole lines both end with: from the first line break in the common bytes at the
    // end (outside the head), so each starts after a line break both hold.
    let room = xb.len().min(yb.len()) - head;
    let tail_same = common_suffix(&xb[xb.len() - room..], &yb[yb.len() - room..]);
    let tail = match memchr::memchr(b'\n', &xb[xb.len() - tail_same..]) {
        Some(i) => tail_same - i - 1,
        None => 0,
    };
    let keep = context + MARGIN;
    // Back up `keep` lines from the head's end, forward `keep` lines from the tail's start.
    let mut start = head;
    let mut kept_head = 0;
    while kept_head < keep && start > 0 {
        start = memchr::memrchr(b'\n', &xb[..start - 1]).map_or(0, |i| i + 1);
        kept_head += 1;
    }
    let mut end = tail;
    let mut kept_tail = 0;
    while kept_tail < keep && end > 0 {
        let from = xb.len() - end;
        let Some(i) = memchr::memchr(b'\n', &xb[from..]) else {
            break;
        };
        end -= i + 1;
        kept_tail += 1;
    }
    if start == 0 && end == 0 {
        return None;
    }
    let skipped = memchr::memchr_iter(b'\n', &xb[..start]).count();
    let xs = &x[start..x.len() - end];
    let ys = &y[start..y.len() - end];
    let diff = similar::TextDiff::from_lines(xs, ys);
    let ops = diff.ops();
    // A change that reaches the lines kept around the middle may have been placed
    // otherwise with the whole texts.
    let equal_edge =
        |op: Option<&DiffOp>| matches!(op, Some(DiffOp::Equal { len, .. }) if *len > context);
    if (start > 0 && !equal_edge(ops.first())) || (end > 0 && !equal_edge(ops.last())) {
        return None;
    }
    let moved = |op: &DiffOp| match *op {
        DiffOp::Equal {
            old_index,
            new_index,
            len,
        } => DiffOp::Equal {
            old_index: old_index + skipped,
            new_index: new_index + skipped,
            len,
        },
        DiffOp::Delete {
            old_index,
            old_len,
            new_index,
        } => DiffOp::Delete {
            old_index: old_index + skipped,
            old_len,
            new_index: new_index + skipped,
        },
        DiffOp::Insert {
            old_index,
            new_index,
            new_len,
        } => DiffOp::Insert {
            old_index: old_index + skipped,
            new_index: new_index + skipped,
            new_len,
        },
        DiffOp::Replace {
            old_index,
            old_len,
            new_index,
            new_len,
        } => DiffOp::Replace {
            old_index: old_index + skipped,
            old_len,
            new_index: new_index + skipped,
            new_len,
        },
    };
    let mut out = String::new();
    for group in diff.grouped_ops(context) {
        if group.is_empty() {
            continue;
        }
        if out.is_empty() {
            out.push_str(&format!("--- {a}\n+++ {b}\n"));
        }
        let shifted: Vec<DiffOp> = group.iter().map(moved).collect();
        out.push_str(&format!(
            "{}\n",
            similar::udiff::UnifiedHunkHeader::new(&shifted)
        ));
        for op in &group {
            for change in diff.iter_changes(op) {
                out.push(match change.tag() {
                    similar::ChangeTag::Equal => ' ',
                    similar::ChangeTag::Delete => '-',
                    similar::ChangeTag::Insert => '+',
                });
                out.push_str(change.value());
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(s: &str) -> J<'_> {
        jsontree::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn noise_is_stripped_and_paths_found() {
        let a = r#"{"metadata": {"name": "x", "resourceVersion": "5", "generation": 2,
            "labels": {"app.kubernetes.io/name": "w"}},
            "status": {"conditions": [{"type": "Ready", "lastHeartbeatTime": "t1", "status": "True"}]}}"#;
        let b = r#"{"metadata": {"name": "x", "resourceVersion": "9", "generation": 3,
            "labels": {"app.kubernetes.io/name": "v"}},
            "status": {"conditions": [{"type": "Ready", "lastHeartbeatTime": "t2", "status": "True"}]},
            "spec": {"replicas": 2}}"#;
        let (mut a, mut b) = (tree(a), tree(b));
        strip_noise(&mut a);
        strip_noise(&mut b);
        assert_eq!(a.get("metadata").unwrap().get("resourceVersion"), None);
        let J::Arr(conds) = a.get("status").unwrap().get("conditions").unwrap() else {
            panic!("conditions")
        };
        assert_eq!(conds[0].get("lastHeartbeatTime"), None);
        assert_eq!(conds[0].get("status").and_then(J::as_str), Some("True"));
        let mut paths = Vec::new();
        changed_paths(&a, &b, "", &mut paths);
        assert_eq!(
            paths,
            ["metadata.labels[\"app.kubernetes.io/name\"]", "spec"]
        );
        let mut s = String::new();
        write_tree(&mut s, &a);
        assert_eq!(
            s,
            r#"{"metadata":{"name":"x","labels":{"app.kubernetes.io/name":"w"}},"status":{"conditions":[{"type":"Ready","status":"True"}]}}"#
        );
    }

    /// `similar`'s unified diff of the whole texts.
    fn whole(x: &str, y: &str, context: usize) -> String {
        let diff = similar::TextDiff::from_lines(x, y);
        let mut u = diff.unified_diff();
        u.context_radius(context).header("a/k", "b/k");
        u.to_string()
    }

    #[test]
    fn unified_diff_of_the_changed_middle_is_the_whole_texts_one() {
        // Texts of many lines, few of them distinct (so that changes can slide along equal
        // lines), edited by a fixed pseudo-random sequence near the start, the middle and
        // the end; every context width from 0 to 5.
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let (mut trimmed, mut declined) = (0, 0);
        for round in 0..400 {
            let lines = 1 + next(120) as usize;
            let distinct = 1 + next(if round % 2 == 0 { 3 } else { 40 });
            let old: Vec<String> = (0..lines)
                .map(|_| format!("  key-{}: v\n", next(distinct)))
                .collect();
            let mut new = old.clone();
            for _ in 0..1 + next(3) {
                let at = match next(3) {
                    0 => next(4) as usize,
                    1 => new.len() / 2,
                    _ => new.len().saturating_sub(next(4) as usize),
                }
                .min(new.len());
                match next(3) {
                    0 => new.insert(at, format!("  key-{}: v\n", next(distinct + 1))),
                    1 if at < new.len() => {
                        new.remove(at);
                    }
                    _ => new.insert(at, "  added: x\n".into()),
                }
            }
            let (x, y) = (old.concat(), new.concat());
            for context in 0..6 {
                let want = whole(&x, &y, context);
                match unified_trimmed(&x, &y, "a/k", "b/k", context) {
                    Some(got) => {
                        assert_eq!(got, want, "round {round}, context {context}");
                        trimmed += 1;
                    }
                    None => declined += 1,
                }
            }
        }
        // Both ways are taken.
        assert!(trimmed > 1000 && declined > 100, "{trimmed} {declined}");
        for (a, b) in [("", ""), ("abc", "abd"), ("x", "xy")] {
            for k in [0, 15, 16, 17, 40] {
                let (a, b) = (
                    "p".repeat(k) + a + &"s".repeat(k),
                    "p".repeat(k) + b + &"s".repeat(k),
                );
                let naive = |f: &dyn Fn(usize) -> (u8, u8)| {
                    (0..a.len().min(b.len()))
                        .take_while(|&i| f(i).0 == f(i).1)
                        .count()
                };
                let (x, y) = (a.as_bytes(), b.as_bytes());
                assert_eq!(common_prefix(x, y), naive(&|i| (x[i], y[i])));
                assert_eq!(
                    common_suffix(x, y),
                    naive(&|i| (x[x.len() - 1 - i], y[y.len() - 1 - i]))
                );
            }
        }
        // Texts without a final line break, and the same texts, go the whole way.
        assert_eq!(unified_trimmed("a\nb", "a\nc", "a", "b", 3), None);
        assert_eq!(unified_trimmed("a\n", "a\n", "a", "b", 3), None);
    }

    /// The members left out while building are the noise whose path runs through maps
    /// alone (the metadata's), and only those.
    #[test]
    fn noise_left_out_is_the_metadata_noise() {
        let metadata: Vec<Vec<&str>> = NOISE
            .iter()
            .filter(|(path, _)| *path == ["metadata"])
            .map(|(path, field)| path.iter().chain([field]).copied().collect())
            .collect();
        let left_out: Vec<Vec<&str>> = NOISE_LEFT_OUT.iter().map(|p| p.to_vec()).collect();
        assert_eq!(left_out, metadata);
    }

    #[test]
    fn sameness_is_by_value() {
        assert!(same(
            &tree(r#"{"a":1,"b":"\u0041"}"#),
            &tree(r#"{"b":"A","a":1}"#)
        ));
        assert!(same(&tree("[1.5e0]"), &tree("[1.50]")));
        assert!(!same(&tree("[1]"), &tree("[1.0]")));
        assert!(!same(&tree(r#"{"a":1}"#), &tree(r#"{"a":1,"b":2}"#)));
        let mut paths = Vec::new();
        changed_paths(
            &tree(r#"{"a":[1,2],"b":{"c":1}}"#),
            &tree(r#"{"a":[1],"b":{"c":2}}"#),
            "",
            &mut paths,
        );
        assert_eq!(paths, ["a", "b.c"]);
    }
}
