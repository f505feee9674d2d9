//! Full decoding: a built-in kind's protobuf rendered as the JSON Kubernetes writes for it,
//! driven by the tables in [`super::schema`]. Fields come out in Go field order; omitempty,
//! pointers and nil slices follow Go's encoding/json; Time, MicroTime, Duration, Quantity,
//! IntOrString, RawExtension, FieldsV1 and bytes are written as Kubernetes writes them.
//! A field the schema does not know is kept under [`UNKNOWN_FIELDS`], never dropped.

use super::meta::rfc3339;
use super::schema::{self, MESSAGES, Msg, Render, Rep, Ty};
use crate::wire::{Fields, Value as W, WireError, read_varint};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Number, Value};
use std::fmt;

/// The key under which fields unknown to the schema are shown, by field number.
pub const UNKNOWN_FIELDS: &str = "x-reshift-unknown-fields";

/// Nesting beyond this is refused (Kubernetes types nest a dozen levels at most).
const MAX_DEPTH: u32 = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderError {
    /// No schema for this apiVersion and kind (a custom resource stored as protobuf, or a
    /// kind newer than the schemas).
    NoSchema {
        api_version: String,
        kind: String,
    },
    Wire {
        path: String,
        err: WireError,
    },
    TooDeep,
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RenderError::NoSchema { api_version, kind } => {
                write!(f, "no schema for {kind} in {api_version}")
            }
            RenderError::Wire { path, err } => write!(f, "{path}: {err}"),
            RenderError::TooDeep => write!(f, "messages nested more than {MAX_DEPTH} deep"),
        }
    }
}

impl std::error::Error for RenderError {}

fn wire(path: &str) -> impl Fn(WireError) -> RenderError + '_ {
    move |err| RenderError::Wire {
        path: path.to_string(),
        err,
    }
}

/// Renders the object inside a `k8s\0` envelope (its apiVersion, kind and raw bytes).
pub fn render_object(api_version: &str, kind: &str, raw: &[u8]) -> Result<Value, RenderError> {
    let msg = schema::kind(api_version, kind).ok_or_else(|| RenderError::NoSchema {
        api_version: api_version.to_string(),
        kind: kind.to_string(),
    })?;
    let mut out = Map::new();
    if msg.type_meta {
        if !kind.is_empty() {
            out.insert("kind".into(), Value::String(kind.into()));
        }
        if !api_version.is_empty() {
            out.insert("apiVersion".into(), Value::String(api_version.into()));
        }
    }
    fields_into(msg, raw, &mut out, 0)?;
    Ok(Value::Object(out))
}

/// Renders one message of the given schema (for tests and tools).
pub fn render_message(msg: &'static Msg, raw: &[u8]) -> Result<Value, RenderError> {
    message(msg, raw, 0)
}

/// What one field received from the wire.
#[derive(Clone)]
enum Slot<'a> {
    Empty,
    One(W<'a>),
    Many(Vec<W<'a>>),
}

fn wire_fits(ty: Ty, rep: Rep, v: &W<'_>) -> bool {
    match (rep, v) {
        (Rep::Map(..), W::Bytes(_)) => true,
        (Rep::Map(..), _) => false,
        (_, W::Bytes(_)) => matches!(ty, Ty::String | Ty::Bytes | Ty::Msg(_)) || rep == Rep::Many,
        (_, W::Varint(_)) => matches!(
            ty,
            Ty::Bool | Ty::Int32 | Ty::Int64 | Ty::Uint32 | Ty::Uint64
        ),
        (_, W::Fixed64(_)) => ty == Ty::Double,
        (_, W::Fixed32(_)) => ty == Ty::Float,
    }
}

fn fields_into(
    msg: &'static Msg,
    raw: &[u8],
    out: &mut Map<String, Value>,
    depth: u32,
) -> Result<(), RenderError> {
    if depth > MAX_DEPTH {
        return Err(RenderError::TooDeep);
    }
    let mut slots: Vec<Slot<'_>> = vec![Slot::Empty; msg.fields.len()];
    let mut unknown: Vec<(u32, W<'_>)> = Vec::new();
    for f in Fields::new(raw) {
        let (num, v) = f.map_err(wire(msg.name))?;
        let Some(i) = msg.fields.iter().position(|f| f.num == num) else {
            unknown.push((num, v));
            continue;
        };
        let field = &msg.fields[i];
        if !wire_fits(field.ty, field.rep, &v) {
            unknown.push((num, v));
            continue;
        }
        match field.rep {
            Rep::One => slots[i] = Slot::One(v),
            Rep::Many | Rep::Map(..) => match &mut slots[i] {
                Slot::Many(list) => list.push(v),
                s => *s = Slot::Many(vec![v]),
            },
        }
    }
    for (field, slot) in msg.fields.iter().zip(slots) {
        if field.inline {
            let inner = match slot {
                Slot::One(W::Bytes(b)) => b,
                _ => &[][..],
            };
            if let Ty::Msg(m) = field.ty {
                fields_into(&MESSAGES[m as usize], inner, out, depth + 1)?;
            }
            continue;
        }
        let value = match (field.rep, slot) {
            (Rep::Many, Slot::Many(items)) => Some(list(field.ty, &items, depth)?),
            (Rep::Map(k, v), Slot::Many(entries)) => Some(map(k, v, &entries, depth)?),
            (Rep::One, Slot::One(v)) => present(field, v, depth)?,
            (Rep::Many | Rep::Map(..), _) => (!field.omitempty).then_some(Value::Null),
            (Rep::One, _) => absent(field, depth)?,
        };
        if let Some(v) = value {
            out.insert(field.json.to_string(), v);
        }
    }
    if !unknown.is_empty() {
        let slot = out
            .entry(UNKNOWN_FIELDS)
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = slot {
            for (num, v) in unknown {
                let v = match v {
                    W::Varint(x) | W::Fixed64(x) => Value::Number(x.into()),
                    W::Fixed32(x) => Value::Number(x.into()),
                    W::Bytes(b) => Value::String(STANDARD.encode(b)),
                };
                match m.entry(num.to_string()) {
                    serde_json::map::Entry::Vacant(e) => {
                        e.insert(v);
                    }
                    serde_json::map::Entry::Occupied(mut e) => match e.get_mut() {
                        Value::Array(a) => a.push(v),
                        old => *old = Value::Array(vec![old.take(), v]),
                    },
                }
            }
        }
    }
    Ok(())
}

/// A field that did not appear on the wire, as Go would write its zero value.
fn absent(field: &schema::Field, depth: u32) -> Result<Option<Value>, RenderError> {
    let nil = || (!field.omitempty).then_some(Value::Null);
    if field.pointer {
        return Ok(nil());
    }
    match field.ty {
        Ty::Msg(m) => {
            let msg = &MESSAGES[m as usize];
            if msg.render == Render::Items {
                return Ok(nil());
            }
            // Go never leaves out a struct, omitempty or not.
            Ok(Some(message(msg, &[], depth + 1)?))
        }
        Ty::Bytes => Ok(nil()),
        ty => Ok((!field.omitempty).then(|| zero(ty))),
    }
}

fn zero(ty: Ty) -> Value {
    match ty {
        Ty::String => Value::String(String::new()),
        Ty::Bool => Value::Bool(false),
        Ty::Bytes => Value::Null,
        Ty::Double | Ty::Float => Value::Number(Number::from_f64(0.0).unwrap_or(0.into())),
        _ => Value::Number(0.into()),
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Array(a) => a.is_empty(),
        Value::Object(_) => false,
    }
}

fn present(field: &schema::Field, v: W<'_>, depth: u32) -> Result<Option<Value>, RenderError> {
    let value = single(field.ty, v, depth)?;
    if let Ty::Msg(m) = field.ty {
        // A named slice left out when empty; a struct is always written.
        let items = MESSAGES[m as usize].render == Render::Items;
        if items && field.omitempty && is_empty(&value) {
            return Ok(None);
        }
        return Ok(Some(value));
    }
    if field.omitempty && !field.pointer && is_empty(&value) {
        return Ok(None);
    }
    Ok(Some(value))
}

fn single(ty: Ty, v: W<'_>, depth: u32) -> Result<Value, RenderError> {
    Ok(match (ty, v) {
        (Ty::Msg(m), W::Bytes(b)) => message(&MESSAGES[m as usize], b, depth + 1)?,
        (Ty::String, W::Bytes(b)) => Value::String(String::from_utf8_lossy(b).into_owned()),
        (Ty::Bytes, W::Bytes(b)) => Value::String(STANDARD.encode(b)),
        (Ty::Bool, W::Varint(x)) => Value::Bool(x != 0),
        (Ty::Int32, W::Varint(x)) => Value::Number((x as i32).into()),
        (Ty::Int64, W::Varint(x)) => Value::Number((x as i64).into()),
        (Ty::Uint32, W::Varint(x)) => Value::Number((x as u32).into()),
        (Ty::Uint64, W::Varint(x)) => Value::Number(x.into()),
        (Ty::Double, W::Fixed64(x)) => float(f64::from_bits(x)),
        (Ty::Float, W::Fixed32(x)) => float(f64::from(f32::from_bits(x))),
        _ => Value::Null,
    })
}

fn float(f: f64) -> Value {
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

fn list(ty: Ty, items: &[W<'_>], depth: u32) -> Result<Value, RenderError> {
    let mut out = Vec::with_capacity(items.len());
    for &v in items {
        match (ty, v) {
            // Packed scalars: one length-delimited run of varints or fixed values.
            (Ty::Bool | Ty::Int32 | Ty::Int64 | Ty::Uint32 | Ty::Uint64, W::Bytes(b)) => {
                let mut pos = 0;
                while pos < b.len() {
                    let x = read_varint(b, &mut pos).map_err(wire("packed list"))?;
                    out.push(single(ty, W::Varint(x), depth)?);
                }
            }
            (Ty::Double, W::Bytes(b)) => {
                for c in b.chunks_exact(8) {
                    out.push(float(f64::from_le_bytes(c.try_into().unwrap_or([0; 8]))));
                }
            }
            (Ty::Float, W::Bytes(b)) => {
                for c in b.chunks_exact(4) {
                    let x = f32::from_le_bytes(c.try_into().unwrap_or([0; 4]));
                    out.push(float(f64::from(x)));
                }
            }
            _ => out.push(single(ty, v, depth)?),
        }
    }
    Ok(Value::Array(out))
}

fn map(key: Ty, val: Ty, entries: &[W<'_>], depth: u32) -> Result<Value, RenderError> {
    let mut out = Map::new();
    for e in entries {
        let W::Bytes(b) = e else { continue };
        let (mut k, mut v) = (None, None);
        for f in Fields::new(b) {
            match f.map_err(wire("map entry"))? {
                (1, x) => k = Some(x),
                (2, x) => v = Some(x),
                _ => {}
            }
        }
        let k = match k.map(|k| single(key, k, depth)).transpose()? {
            Some(Value::String(s)) => s,
            Some(other) => other.to_string(),
            None => String::new(),
        };
        let v = match (val, v) {
            (_, Some(x)) => single(val, x, depth)?,
            (Ty::Msg(m), None) => message(&MESSAGES[m as usize], &[], depth + 1)?,
            (ty, None) => zero(ty),
        };
        out.insert(k, v);
    }
    Ok(Value::Object(out))
}

/// One message in its JSON form.
fn message(msg: &'static Msg, raw: &[u8], depth: u32) -> Result<Value, RenderError> {
    if depth > MAX_DEPTH {
        return Err(RenderError::TooDeep);
    }
    let err = wire(msg.name);
    let scalar = |want: u32| -> Result<Option<W<'_>>, RenderError> {
        let mut found = None;
        for f in Fields::new(raw) {
            let (n, v) = f.map_err(&err)?;
            if n == want {
                found = Some(v);
            }
        }
        Ok(found)
    };
    let int = |v: Option<W<'_>>| match v {
        Some(W::Varint(x)) => x as i64,
        _ => 0,
    };
    fn bytes(v: Option<W<'_>>) -> Option<&[u8]> {
        match v {
            Some(W::Bytes(b)) => Some(b),
            _ => None,
        }
    }
    Ok(match msg.render {
        Render::Plain => {
            let mut out = Map::new();
            fields_into(msg, raw, &mut out, depth)?;
            Value::Object(out)
        }
        Render::Time | Render::MicroTime => {
            // An empty message is the zero time, written as null.
            let secs = int(scalar(1)?);
            if raw.is_empty() || secs == GO_ZERO_TIME {
                Value::Null
            } else if msg.render == Render::Time {
                Value::String(rfc3339(secs))
            } else {
                let micros = int(scalar(2)?) / 1000;
                let s = rfc3339(secs);
                Value::String(format!("{}.{micros:06}Z", &s[..s.len() - 1]))
            }
        }
        Render::Duration => Value::String(go_duration(int(scalar(1)?))),
        Render::Quantity => match bytes(scalar(1)?) {
            Some(b) if !b.is_empty() => Value::String(String::from_utf8_lossy(b).into_owned()),
            _ => Value::String("0".into()),
        },
        Render::IntOrString => {
            if int(scalar(1)?) == 1 {
                let s = bytes(scalar(3)?).unwrap_or_default();
                Value::String(String::from_utf8_lossy(s).into_owned())
            } else {
                Value::Number((int(scalar(2)?) as i32).into())
            }
        }
        Render::RawJson => match bytes(scalar(1)?) {
            None => Value::Null,
            Some(b) => serde_json::from_slice(b).unwrap_or_else(|_| {
                if b.is_empty() {
                    Value::Null
                } else {
                    Value::String(STANDARD.encode(b))
                }
            }),
        },
        Render::Items => {
            let mut out = Map::new();
            fields_into(msg, raw, &mut out, depth)?;
            match out.remove("items") {
                Some(Value::Array(a)) => Value::Array(a),
                _ => Value::Array(Vec::new()),
            }
        }
    })
}

/// Seconds of Go's zero time.Time (0001-01-01T00:00:00Z) since the Unix epoch.
const GO_ZERO_TIME: i64 = -62_135_596_800;

/// A duration in nanoseconds as Go's time.Duration.String writes it: "1h2m3.5s", "1.5ms",
/// "0s".
pub fn go_duration(d: i64) -> String {
    fn frac(v: u64, prec: u32) -> String {
        if v == 0 {
            return String::new();
        }
        let digits = format!("{v:0width$}", width = prec as usize);
        format!(".{}", digits.trim_end_matches('0'))
    }
    if d == 0 {
        return "0s".into();
    }
    let u = d.unsigned_abs();
    let sign = if d < 0 { "-" } else { "" };
    const SEC: u64 = 1_000_000_000;
    if u < SEC {
        let (unit, prec) = if u < 1_000 {
            ("ns", 0)
        } else if u < 1_000_000 {
            ("µs", 3)
        } else {
            ("ms", 6)
        };
        let p = 10u64.pow(prec);
        return format!("{sign}{}{}{unit}", u / p, frac(u % p, prec));
    }
    let f = frac(u % SEC, 9);
    let secs = u / SEC;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{sign}{h}h{m}m{s}{f}s")
    } else if m > 0 {
        format!("{sign}{m}m{s}{f}s")
    } else {
        format!("{sign}{s}{f}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_go_writes_them() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(1), "1ns");
        assert_eq!(go_duration(1_500), "1.5µs");
        assert_eq!(go_duration(2_000_000), "2ms");
        assert_eq!(go_duration(1_500_000_000), "1.5s");
        assert_eq!(go_duration(90 * 1_000_000_000), "1m30s");
        assert_eq!(go_duration(3600 * 1_000_000_000), "1h0m0s");
        assert_eq!(go_duration(-61 * 1_000_000_000), "-1m1s");
    }

    #[test]
    fn kinds_resolve_through_groups_and_meta() {
        assert_eq!(
            schema::kind("apps/v1", "Deployment").unwrap().name,
            "k8s.api.apps.v1.Deployment"
        );
        assert_eq!(
            schema::kind("v1", "Pod").unwrap().name,
            "k8s.api.core.v1.Pod"
        );
        assert_eq!(
            schema::kind("v1", "DeleteOptions").unwrap().name,
            "k8s.apimachinery.meta.v1.DeleteOptions"
        );
        assert!(schema::kind("example.com/v1", "Widget").is_none());
    }
}
