//! A summary of each stored object — where its key puts it, what its value is, and its
//! metadata — decoded for a whole keyspace on all cores.

use super::cbor;
use super::encryption::Decryptor;
use super::key::parse_key;
use super::meta::{ObjectMeta, check_protobuf_meta, json_meta, protobuf_meta};
use super::render::{Shape, View};
use super::value::{Encrypted, StoredValue, classify};
use rayon::prelude::*;
use serde::Serialize;
use std::borrow::Cow;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectInfo<'a> {
    pub group: &'a str,
    /// Empty when the key is not under the prefix.
    pub resource: &'a str,
    pub namespace: Option<&'a str>,
    pub name: &'a str,
    pub api_version: Cow<'a, str>,
    pub kind: Cow<'a, str>,
    /// `protobuf`, `json`, `cbor`, `encrypted` or `raw`.
    pub encoding: &'static str,
    pub value_bytes: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encrypted: Option<Encrypted<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ObjectMeta<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// With a decryptor, for an encrypted value: whether it decrypted (when not, `error`
    /// says why; when it did, kind and metadata are the decrypted object's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decrypted: Option<bool>,
}

/// Describes one key and value. Never fails: what cannot be decoded is said in `error`.
pub fn describe<'a>(key: &'a [u8], value: &'a [u8], prefix: &str) -> ObjectInfo<'a> {
    describe_to(key, value, prefix, true)
}

/// [`describe`] for summaries that count objects by kind: the same answer but `metadata`,
/// which is left out. A protobuf object's ObjectMeta is still walked, so `error` says the
/// same; its strings are neither checked nor copied, which is most of the work.
pub fn describe_kind<'a>(key: &'a [u8], value: &'a [u8], prefix: &str) -> ObjectInfo<'a> {
    describe_to(key, value, prefix, false)
}

fn describe_to<'a>(key: &'a [u8], value: &'a [u8], prefix: &str, meta: bool) -> ObjectInfo<'a> {
    let k = std::str::from_utf8(key)
        .ok()
        .and_then(|k| parse_key(k, prefix));
    let mut o = ObjectInfo {
        group: k.as_ref().map_or("", |k| k.group),
        resource: k.as_ref().map_or("", |k| k.resource),
        namespace: k.as_ref().and_then(|k| k.namespace),
        name: k.as_ref().map_or("", |k| k.name),
        api_version: Cow::Borrowed(""),
        kind: Cow::Borrowed(""),
        encoding: "raw",
        value_bytes: value.len(),
        encrypted: None,
        metadata: None,
        error: None,
        decrypted: None,
    };
    match classify(value) {
        Err(e) => {
            o.encoding = "protobuf";
            o.error = Some(e.to_string());
        }
        Ok(v) => {
            o.encoding = v.encoding();
            match v {
                StoredValue::Protobuf(env) => {
                    o.api_version = crate::wire::text_lossy(env.api_version);
                    o.kind = crate::wire::text_lossy(env.kind);
                    let checked = if meta {
                        protobuf_meta(env.raw).map(|m| o.metadata = m)
                    } else {
                        check_protobuf_meta(env.raw)
                    };
                    if let Err(e) = checked {
                        o.error = Some(format!("object metadata: {e}"));
                    }
                }
                StoredValue::Json(j) => match serde_json::from_slice::<serde_json::Value>(j) {
                    Ok(v) => unstructured_info(&mut o, &v, meta),
                    Err(e) => o.error = Some(format!("JSON: {e}")),
                },
                StoredValue::Cbor(c) => match cbor::to_value(c) {
                    Ok(v) => unstructured_info(&mut o, &v, meta),
                    Err(e) => o.error = Some(format!("CBOR: {e}")),
                },
                StoredValue::Encrypted(e) => o.encrypted = Some(e),
                StoredValue::Raw(_) => {}
            }
        }
    }
    o
}

/// Fills what a summary says of an object decoded into a generic value (JSON or CBOR):
/// its kind, and its metadata when `meta`.
fn unstructured_info(o: &mut ObjectInfo<'_>, v: &serde_json::Value, meta: bool) {
    o.api_version = Cow::Owned(v["apiVersion"].as_str().unwrap_or("").to_string());
    o.kind = Cow::Owned(v["kind"].as_str().unwrap_or("").to_string());
    if meta {
        o.metadata = json_meta(v);
    }
}

/// [`describe`], reading an encrypted value with `dec` first (when given): its kind and
/// metadata are then the decrypted object's, or `error` says why it did not decrypt.
pub fn describe_with<'a>(
    key: &'a [u8],
    value: &'a [u8],
    prefix: &str,
    dec: Option<&Decryptor>,
) -> ObjectInfo<'a> {
    let mut o = describe(key, value, prefix);
    let (Some(d), Some(_)) = (dec, &o.encrypted) else {
        return o;
    };
    match d.decrypt(key, value) {
        Ok(plain) => {
            let inner = describe(key, &plain, prefix);
            o.api_version = Cow::Owned(inner.api_version.into_owned());
            o.kind = Cow::Owned(inner.kind.into_owned());
            o.metadata = inner.metadata.map(super::meta::ObjectMeta::into_owned);
            o.error = inner.error;
            o.decrypted = Some(true);
        }
        Err(e) => {
            o.error = Some(e.to_string());
            o.decrypted = Some(false);
        }
    }
    o
}

/// Describes every (key, value) on all cores and keeps what `pick` returns, in input order.
/// Each description is dropped as soon as `pick` has looked at it, so memory holds only
/// what is kept.
pub fn pick_all<'a, T: Send>(
    kvs: &[(&'a [u8], &'a [u8])],
    prefix: &str,
    pick: impl Fn(usize, ObjectInfo<'a>) -> Option<T> + Sync,
) -> Vec<T> {
    pick_all_with(kvs, prefix, None, pick)
}

/// [`pick_all`] with [`describe_with`].
pub fn pick_all_with<'a, T: Send>(
    kvs: &[(&'a [u8], &'a [u8])],
    prefix: &str,
    dec: Option<&Decryptor>,
    pick: impl Fn(usize, ObjectInfo<'a>) -> Option<T> + Sync,
) -> Vec<T> {
    kvs.par_iter()
        .enumerate()
        .filter_map(|(i, (k, v))| pick(i, describe_with(k, v, prefix, dec)))
        .collect()
}

/// Folds the description of every (key, value) into per-thread accumulators on all
/// cores, then merges them.
pub fn fold_all<'a, A: Send>(
    kvs: &[(&'a [u8], &'a [u8])],
    prefix: &str,
    init: impl Fn() -> A + Sync + Send,
    fold: impl Fn(&mut A, ObjectInfo<'a>) + Sync + Send,
    merge: impl Fn(A, A) -> A + Sync + Send,
) -> A {
    fold_all_with(kvs, prefix, None, init, fold, merge)
}

/// [`fold_all`] with [`describe_with`].
pub fn fold_all_with<'a, A: Send>(
    kvs: &[(&'a [u8], &'a [u8])],
    prefix: &str,
    dec: Option<&Decryptor>,
    init: impl Fn() -> A + Sync + Send,
    fold: impl Fn(&mut A, ObjectInfo<'a>) + Sync + Send,
    merge: impl Fn(A, A) -> A + Sync + Send,
) -> A {
    kvs.par_iter()
        .fold(&init, |mut acc, (k, v)| {
            fold(&mut acc, describe_with(k, v, prefix, dec));
            acc
        })
        .reduce(&init, merge)
}

/// A stored value in full, as the chosen release's apiserver writes the object in JSON (see
/// [`decode_object_json`]), as a JSON value.
pub fn decode_object(value: &[u8], view: &View) -> Result<serde_json::Value, String> {
    decode_object_json(value, view)
        .map(|t| serde_json::from_str(&t).expect("the renderer writes valid JSON"))
}

/// A stored value in full as compact JSON text on one line, byte for byte as the chosen
/// release's apiserver writes it: a protobuf object rendered from its kind's schema
/// (straight from the wire), a JSON or CBOR object as the apiserver decodes and re-encodes
/// it. Encrypted values, values that are not objects (or that the apiserver's decoder
/// refuses), and protobuf kinds without a schema are errors that say which.
pub fn decode_object_json(value: &[u8], view: &View) -> Result<String, String> {
    decode_object_json_shaped(value, view, None)
}

/// [`decode_object_json`], a protobuf object written with only what `shape` wants
/// ([`super::render::render_object_json_shaped`]); JSON and CBOR objects are written whole.
pub fn decode_object_json_shaped(
    value: &[u8],
    view: &View,
    shape: Option<Shape>,
) -> Result<String, String> {
    match classify(value) {
        Err(e) => Err(format!("protobuf envelope: {e}")),
        Ok(StoredValue::Protobuf(env)) => {
            let (av, kind) = (
                crate::wire::text_lossy(env.api_version),
                crate::wire::text_lossy(env.kind),
            );
            match shape {
                None => super::render::render_object_json(&av, &kind, env.raw, view),
                Some(s) => super::render::render_object_json_shaped(&av, &kind, env.raw, view, s),
            }
            .map_err(|e| e.to_string())
        }
        Ok(StoredValue::Json(j)) => json_object(j, view),
        Ok(StoredValue::Cbor(c)) => cbor::to_value(c)
            .map_err(|e| format!("CBOR: {e}"))
            .and_then(|v| cbor_object(v, c.len(), view)),
        Ok(StoredValue::Encrypted(e)) => Err(format!(
            "encrypted at rest ({} {}, key {:?}); --encryption-provider-config decrypts it",
            e.provider, e.version, e.key_name
        )),
        Ok(StoredValue::Raw(_)) => Err("not a Kubernetes object".into()),
    }
}

/// [`decode_object_json`] of the value stored under `key`, decrypted first with `dec` when
/// it is encrypted at rest (a value that does not decrypt is an error naming its provider
/// and key).
pub fn decode_stored_json(
    key: &[u8],
    value: &[u8],
    view: &View,
    dec: Option<&Decryptor>,
) -> Result<String, String> {
    decode_stored_json_shaped(key, value, view, dec, None)
}

/// [`decode_stored_json`] with [`decode_object_json_shaped`].
pub fn decode_stored_json_shaped(
    key: &[u8],
    value: &[u8],
    view: &View,
    dec: Option<&Decryptor>,
    shape: Option<Shape>,
) -> Result<String, String> {
    decode_object_json_shaped(&plain(key, value, dec)?, view, shape)
}

/// The value stored under `key`, decrypted with `dec` when it is encrypted at rest.
fn plain<'v>(
    key: &[u8],
    value: &'v [u8],
    dec: Option<&Decryptor>,
) -> Result<Cow<'v, [u8]>, String> {
    match dec {
        Some(d) => d.decrypt(key, value).map_err(|e| e.to_string()),
        None => Ok(Cow::Borrowed(value)),
    }
}

/// The YAML document of the object stored under `key` (decrypted with `dec` first), as
/// [`super::yaml::Document::read_leaving_out`] reads its served text ([`decode_stored_json`])
/// with `skip`, built straight from the protobuf and handed to `f`. `None` for an object not
/// stored as protobuf of a built-in kind, for one that does not decode, and for one holding
/// what only the text takes ([`super::yaml::Builder`]): the text's way gives the answer
/// then, or the error.
pub fn with_stored_doc<R>(
    key: &[u8],
    value: &[u8],
    view: &View,
    dec: Option<&Decryptor>,
    skip: &'static [&'static [&'static str]],
    f: impl FnOnce(&mut super::yaml::Document<'_>) -> R,
) -> Option<R> {
    let value = plain(key, value, dec).ok()?;
    let Ok(StoredValue::Protobuf(env)) = classify(&value) else {
        return None;
    };
    let (av, kind) = (
        crate::wire::text_lossy(env.api_version),
        crate::wire::text_lossy(env.kind),
    );
    let mut d = super::render::render_object_doc(&av, &kind, env.raw, view, skip).ok()??;
    Some(f(&mut d))
}

/// An object stored as JSON, as the apiserver serves it: a built-in kind decoded into its
/// Go type and encoded again ([`super::render_json`]); anything else (custom resources)
/// decoded into a generic map (keys sorted, integers as int64, other numbers as float64).
/// Either way `metadata.resourceVersion` is set when the view serves the object.
fn json_object(j: &[u8], view: &View) -> Result<String, String> {
    use super::jsontree::J;
    let mut v = super::jsontree::parse(j).map_err(|e| e.to_string())?;
    let J::Obj(members) = &mut v else {
        return Err("JSON value is not an object".into());
    };
    let text = |name: &str| {
        members
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.as_str())
            .map(str::to_string)
    };
    let (api_version, kind) = (text("apiVersion"), text("kind"));
    if let (Some(av), Some(k)) = (&api_version, &kind) {
        if super::schema::builtin_kind(av, k).is_some() {
            return super::render_json::render_json_object(av, k, &v, view)
                .map_err(|e| e.to_string());
        }
    }
    let rv = view.resource_version.map(|r| r.to_string());
    if let Some(rv) = rv {
        let meta = match members.iter().position(|(k, _)| k == "metadata") {
            Some(i) => &mut members[i].1,
            None => {
                members.push(("metadata".into(), J::Obj(Vec::new())));
                &mut members.last_mut().expect("just pushed").1
            }
        };
        if let J::Obj(m) = meta {
            match m.iter_mut().find(|(k, _)| k == "resourceVersion") {
                Some(slot) => slot.1 = J::Str(rv.into(), b""),
                None => m.push(("resourceVersion".into(), J::Str(rv.into(), b""))),
            }
        }
    }
    let mut out = String::with_capacity(j.len() + 32);
    super::gojson::unstructured_tree(&mut out, &v, view.escape())?;
    Ok(out)
}

/// A custom resource stored as CBOR, once decoded into a generic value, as the apiserver
/// serves it: keys sorted, integers as int64, other numbers as float64, with the
/// resourceVersion set.
fn cbor_object(mut v: serde_json::Value, stored_len: usize, view: &View) -> Result<String, String> {
    let Some(obj) = v.as_object_mut() else {
        return Err("CBOR value is not an object".into());
    };
    if let Some(rv) = view.resource_version {
        let meta = obj
            .entry("metadata")
            .or_insert_with(|| serde_json::Value::Object(Default::default()));
        if let Some(m) = meta.as_object_mut() {
            m.insert("resourceVersion".into(), rv.to_string().into());
        }
    }
    let mut out = String::with_capacity(stored_len + 32);
    super::gojson::unstructured(&mut out, &v, view.escape());
    Ok(out)
}

/// Decodes every value in full on all cores, as JSON text, and keeps what `pick` returns,
/// in input order.
pub fn decode_all<'a, T: Send>(
    kvs: &[(&'a [u8], &'a [u8])],
    view: &View,
    pick: impl Fn(usize, Result<String, String>) -> Option<T> + Sync,
) -> Vec<T> {
    kvs.par_iter()
        .enumerate()
        .filter_map(|(i, (_, v))| pick(i, decode_object_json(v, view)))
        .collect()
}
