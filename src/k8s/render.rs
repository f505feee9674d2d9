//! Full decoding: a built-in kind's protobuf rendered as the JSON Kubernetes writes for it,
//! driven by the tables in [`super::schema`]. Fields come out in Go field order; omitempty,
//! pointers and nil slices follow Go's encoding/json; Time, MicroTime, Duration, Quantity,
//! IntOrString, RawExtension, FieldsV1 and bytes are written as Kubernetes writes them.
//! A field the schema does not know is kept under [`UNKNOWN_FIELDS`], never dropped.
//! Which fields exist and how they are omitted follow the chosen release ([`View`]); text is
//! escaped as Go escapes it ([`super::gojson`]). It writes through [`Out`]: as JSON text,
//! or into export's YAML document ([`super::yaml::Builder`]) in the same order, so both
//! hold the same members. It never changes what the wire says.

use super::gojson::{self, Escape};
use super::meta::rfc3339;
use super::schema::{self, MESSAGES, Msg, Release, Render, Rep, Ty};
use crate::wire::{Fields, Value as W, WireError, read_varint};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use std::fmt;

/// Whose output to reproduce: a release's apiserver, serving the object (with
/// `metadata.resourceVersion` set to its mod revision) or showing it as stored (without).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View {
    pub release: Release,
    pub resource_version: Option<i64>,
}

impl View {
    /// As the newest release stores it.
    pub const STORED: View = View {
        release: Release::NEWEST,
        resource_version: None,
    };

    /// What a release's GET returns for an object last modified at `mod_revision`.
    pub fn served(release: Release, mod_revision: i64) -> View {
        View {
            release,
            resource_version: Some(mod_revision),
        }
    }

    /// How strings are escaped by the Go that built this release.
    pub fn escape(&self) -> Escape {
        Escape {
            short_bf: self.release.minor() >= 30,
        }
    }
}

/// Which subtrees of an object's JSON a reader needs (`.`-separated paths of member names
/// from the top; arrays are transparent): what a Table row reads of a served object, so
/// that only that is written ([`render_object_json_shaped`]) and parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Everything but these.
    Drop(&'static [&'static str]),
    /// Only these.
    Keep(&'static [&'static str]),
}

impl Shape {
    /// For `path`: `Some(true)` wanted whole, `Some(false)` wanted in part (descend),
    /// `None` not wanted.
    pub fn at(self, path: &str) -> Option<bool> {
        let (list, keep) = match self {
            Shape::Drop(list) => (list, false),
            Shape::Keep(list) => (list, true),
        };
        let p = path.as_bytes();
        let Some((&p0, &pn)) = p.first().zip(p.last()) else {
            return (!keep).then_some(true);
        };
        // Called for every member of the part of an object being pruned: most entries
        // differ in their first or the path's last byte, and are passed over on those.
        let mut under = false;
        for u in list.iter().map(|u| u.as_bytes()) {
            if u.len() < p.len() || u[0] != p0 || u[p.len() - 1] != pn || u[..p.len()] != *p {
                continue;
            }
            match u.get(p.len()) {
                None => return keep.then_some(true),
                Some(b'.') => under = true,
                Some(_) => {}
            }
        }
        match (keep, under) {
            (_, true) => Some(false),
            (true, false) => None,
            (false, false) => Some(true),
        }
    }
}

/// What the recursive renderer carries down.
pub(super) struct Cx {
    pub(super) bit: schema::Releases,
    pub(super) esc: Escape,
    pub(super) rv: Option<String>,
    /// Set: only the members this shape wants are written (see [`render_object_json_shaped`]).
    only: Option<Shape>,
    /// The path of the members being written while `pruning`.
    path: std::cell::RefCell<String>,
    /// Whether the members being written are still chosen by `only` (false inside a subtree
    /// wanted whole).
    pruning: std::cell::Cell<bool>,
}

impl Cx {
    pub(super) fn new(view: &View) -> Cx {
        Cx {
            bit: view.release.bit(),
            esc: view.escape(),
            rv: view.resource_version.map(|r| r.to_string()),
            only: None,
            path: Default::default(),
            pruning: std::cell::Cell::new(false),
        }
    }
}

/// Where the renderer writes an object: its JSON text (a `String`), or a document built
/// node by node (export's [`super::yaml::Builder`], which then never reads text back).
/// Members, items and scalars arrive in the order the text has them. A writer that is not
/// text takes only what objects commonly hold: for the rare rest (fields the schema does
/// not know, embedded raw JSON) [`Out::text`] gives `None`, the renderer calls
/// [`Out::refuse`], and the caller renders the object as text instead.
pub(super) trait Out<'r> {
    /// The JSON text being written, when this writer is text.
    fn text(&mut self) -> Option<&mut String>;
    /// Something was met that only text takes.
    fn refuse(&mut self);
    /// A member's name (see [`key`]); `first` is cleared.
    fn key(&mut self, first: &mut bool, name: &'static str);
    fn open_map(&mut self);
    fn close_map(&mut self);
    fn open_seq(&mut self);
    fn close_seq(&mut self);
    /// Before an item of a sequence or an entry of a map; `first` is cleared.
    fn sep(&mut self, first: &mut bool);
    fn null(&mut self);
    fn boolean(&mut self, b: bool);
    fn int(&mut self, v: i64);
    fn uint(&mut self, v: u64);
    fn float64(&mut self, f: f64);
    fn float32(&mut self, f: f32);
    /// A string made while rendering (times, quantities, base64, names).
    fn str(&mut self, s: &str, esc: Escape);
    fn string(&mut self, s: String, esc: Escape) {
        self.str(&s, esc);
    }
    /// A Go string's bytes as the wire has them (not always UTF-8).
    fn wire_str(&mut self, b: &'r [u8], esc: Escape);
    /// A map entry's key (after [`Out::sep`]); its value follows.
    fn map_key(&mut self, k: std::borrow::Cow<'r, [u8]>, esc: Escape);
    /// Embedded JSON (FieldsV1, RawExtension): compacted as Go's encoder writes a
    /// Marshaler's JSON, or, when it is not JSON, as the base64 of its bytes.
    fn raw_json(&mut self, b: &'r [u8], esc: Escape) {
        match self.text() {
            Some(t) => {
                if !gojson::compact(t, b) {
                    gojson::string(t, STANDARD.encode(b).as_bytes(), esc)
                }
            }
            None => self.refuse(),
        }
    }
}

impl<'r> Out<'r> for String {
    #[inline]
    fn text(&mut self) -> Option<&mut String> {
        Some(self)
    }
    fn refuse(&mut self) {}
    #[inline]
    fn key(&mut self, first: &mut bool, name: &'static str) {
        gojson::plain_key(self, first, name);
    }
    #[inline]
    fn open_map(&mut self) {
        self.push('{');
    }
    #[inline]
    fn close_map(&mut self) {
        self.push('}');
    }
    #[inline]
    fn open_seq(&mut self) {
        self.push('[');
    }
    #[inline]
    fn close_seq(&mut self) {
        self.push(']');
    }
    #[inline]
    fn sep(&mut self, first: &mut bool) {
        if !std::mem::take(first) {
            self.push(',');
        }
    }
    #[inline]
    fn null(&mut self) {
        self.push_str("null");
    }
    #[inline]
    fn boolean(&mut self, b: bool) {
        self.push_str(if b { "true" } else { "false" });
    }
    #[inline]
    fn int(&mut self, v: i64) {
        self.push_str(itoa::Buffer::new().format(v));
    }
    #[inline]
    fn uint(&mut self, v: u64) {
        self.push_str(itoa::Buffer::new().format(v));
    }
    fn float64(&mut self, f: f64) {
        gojson::float64(self, f);
    }
    fn float32(&mut self, f: f32) {
        gojson::float32(self, f);
    }
    #[inline]
    fn str(&mut self, s: &str, esc: Escape) {
        gojson::string(self, s.as_bytes(), esc);
    }
    #[inline]
    fn wire_str(&mut self, b: &'r [u8], esc: Escape) {
        gojson::string(self, b, esc);
    }
    fn map_key(&mut self, k: std::borrow::Cow<'r, [u8]>, esc: Escape) {
        gojson::string(self, &k, esc);
        self.push(':');
    }
}

impl<'r> Out<'r> for super::yaml::Builder<'r> {
    fn text(&mut self) -> Option<&mut String> {
        None
    }
    fn refuse(&mut self) {
        super::yaml::Builder::refuse(self);
    }
    #[inline]
    fn key(&mut self, first: &mut bool, name: &'static str) {
        *first = false;
        super::yaml::Builder::key(self, name);
    }
    fn open_map(&mut self) {
        super::yaml::Builder::open_map(self);
    }
    fn close_map(&mut self) {
        super::yaml::Builder::close_map(self);
    }
    fn open_seq(&mut self) {
        super::yaml::Builder::open_seq(self);
    }
    fn close_seq(&mut self) {
        super::yaml::Builder::close_seq(self);
    }
    #[inline]
    fn sep(&mut self, first: &mut bool) {
        *first = false;
    }
    fn null(&mut self) {
        super::yaml::Builder::null(self);
    }
    fn boolean(&mut self, b: bool) {
        super::yaml::Builder::boolean(self, b);
    }
    fn int(&mut self, v: i64) {
        super::yaml::Builder::int(self, v);
    }
    fn uint(&mut self, v: u64) {
        super::yaml::Builder::uint(self, v);
    }
    fn float64(&mut self, f: f64) {
        self.number_text(|t| gojson::float64(t, f));
    }
    fn float32(&mut self, f: f32) {
        self.number_text(|t| gojson::float32(t, f));
    }
    fn str(&mut self, s: &str, _: Escape) {
        super::yaml::Builder::string(self, std::borrow::Cow::Owned(s.to_owned()));
    }
    fn string(&mut self, s: String, _: Escape) {
        super::yaml::Builder::string(self, std::borrow::Cow::Owned(s));
    }
    #[inline]
    fn wire_str(&mut self, b: &'r [u8], _: Escape) {
        self.wire_string(b);
    }
    fn map_key(&mut self, k: std::borrow::Cow<'r, [u8]>, _: Escape) {
        self.wire_key(k);
    }
    fn raw_json(&mut self, b: &'r [u8], _: Escape) {
        if self.leaving_out() {
            return self.left_out_raw(b);
        }
        let mut text = String::with_capacity(b.len());
        if gojson::compact(&mut text, b) {
            self.json(&text);
        } else {
            super::yaml::Builder::string(self, std::borrow::Cow::Owned(STANDARD.encode(b)));
        }
    }
}

pub(super) const OBJECT_META: &str = "k8s.apimachinery.meta.v1.ObjectMeta";

/// The key under which fields unknown to the schema are shown, by field number.
pub const UNKNOWN_FIELDS: &str = "x-reshift-unknown-fields";

/// Nesting beyond this is refused (Kubernetes types nest a dozen levels at most).
pub(super) const MAX_DEPTH: u32 = 100;

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
    /// A JSON-stored value the Go type cannot take (as the apiserver's decoder refuses it).
    Decode(String),
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RenderError::NoSchema { api_version, kind } => {
                write!(f, "no schema for {kind} in {api_version}")
            }
            RenderError::Wire { path, err } => write!(f, "{path}: {err}"),
            RenderError::TooDeep => write!(f, "messages nested more than {MAX_DEPTH} deep"),
            RenderError::Decode(e) => write!(f, "decode: {e}"),
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

/// The schema of a kind, or the error saying there is none.
pub(super) fn kind_schema(api_version: &str, kind: &str) -> Result<&'static Msg, RenderError> {
    schema::kind(api_version, kind).ok_or_else(|| RenderError::NoSchema {
        api_version: api_version.to_string(),
        kind: kind.to_string(),
    })
}

/// Renders the object inside a `k8s\0` envelope (its apiVersion, kind and raw bytes) as
/// compact JSON text, written straight from the wire (no intermediate tree).
pub fn render_object_json(
    api_version: &str,
    kind: &str,
    raw: &[u8],
    view: &View,
) -> Result<String, RenderError> {
    let msg = kind_schema(api_version, kind)?;
    let cx = Cx::new(view);
    // Served JSON is about 2.3 times the protobuf: one allocation for nearly all objects.
    let mut out = String::with_capacity(raw.len() * 3 + 256);
    let mut first = open_object(msg, api_version, kind, &mut out, &cx);
    object_body(msg, raw, &mut out, &mut first, 0, &cx)?;
    out.push('}');
    Ok(out)
}

/// [`render_object_json`] of only the members `shape` wants, and `metadata` whole: each
/// member written is written as [`render_object_json`] writes it, at the same place, so a
/// reader that reads only what `shape` wants finds the same values in either text (a map
/// wanted in part is written whole). The rest is not decoded: a fault in it (bytes that are
/// not protobuf, a quantity that does not parse) is not seen, where the whole render fails.
pub fn render_object_json_shaped(
    api_version: &str,
    kind: &str,
    raw: &[u8],
    view: &View,
    shape: Shape,
) -> Result<String, RenderError> {
    let msg = kind_schema(api_version, kind)?;
    let mut cx = Cx::new(view);
    cx.only = Some(shape);
    cx.pruning.set(true);
    let mut out = String::with_capacity(raw.len() / 2 + 256);
    let mut first = open_object(msg, api_version, kind, &mut out, &cx);
    object_body(msg, raw, &mut out, &mut first, 0, &cx)?;
    out.push('}');
    Ok(out)
}

/// The YAML document of the object inside a `k8s\0` envelope, as
/// [`super::yaml::Document::read_leaving_out`] reads [`render_object_json`]'s text with
/// `skip`, built without the text (it borrows the strings of `raw`). `Ok(None)` when the
/// object holds something only the text takes (see [`super::yaml::Builder`]): read the
/// text then. A render error is the one [`render_object_json`] gives.
pub fn render_object_doc<'r>(
    api_version: &str,
    kind: &str,
    raw: &'r [u8],
    view: &View,
    skip: &'static [&'static [&'static str]],
) -> Result<Option<super::yaml::Document<'r>>, RenderError> {
    let msg = kind_schema(api_version, kind)?;
    let cx = Cx::new(view);
    let mut out = super::yaml::Builder::new(skip, raw.len());
    let mut first = open_object(msg, api_version, kind, &mut out, &cx);
    object_body(msg, raw, &mut out, &mut first, 0, &cx)?;
    out.close_map();
    Ok(out.finish())
}

/// Puts `cx`'s path back to its length before a member, and pruning back on, when the
/// member is written.
struct Restore<'c>(&'c Cx, usize);

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        self.0.path.borrow_mut().truncate(self.1);
        self.0.pruning.set(true);
    }
}

/// Whether `field` of a message written at `depth` is written under `cx.only`: `None` when
/// it is left out, else what restores `cx` after it (when pruning).
fn choose<'c>(field: &schema::Field, depth: u32, cx: &'c Cx) -> Option<Option<Restore<'c>>> {
    let Some(shape) = cx.only.filter(|_| cx.pruning.get() && !field.inline) else {
        return Some(None);
    };
    let mut path = cx.path.borrow_mut();
    let len = path.len();
    if len > 0 {
        path.push('.');
    }
    path.push_str(field.json);
    // A Table row's PartialObjectMetadata is the served metadata, whole.
    let at = if depth == 0 && field.json == "metadata" {
        Some(true)
    } else {
        shape.at(&path)
    };
    match at {
        None => {
            path.truncate(len);
            None
        }
        Some(whole) => {
            if whole || matches!(field.rep, Rep::Map(..)) {
                cx.pruning.set(false);
            }
            Some(Some(Restore(cx, len)))
        }
    }
}

/// Opens a kind's object: `{`, then `kind` and `apiVersion` where its Go type embeds
/// TypeMeta. Returns whether the next member is the first.
pub(super) fn open_object<'r, O: Out<'r>>(
    msg: &'static Msg,
    api_version: &str,
    kind: &str,
    out: &mut O,
    cx: &Cx,
) -> bool {
    out.open_map();
    let mut first = true;
    if msg.type_meta {
        if !kind.is_empty() {
            key(out, &mut first, "kind");
            string(out, kind, cx);
        }
        if !api_version.is_empty() {
            key(out, &mut first, "apiVersion");
            string(out, api_version, cx);
        }
    }
    first
}

/// [`render_object_json`] as a JSON value.
pub fn render_object(
    api_version: &str,
    kind: &str,
    raw: &[u8],
    view: &View,
) -> Result<Value, RenderError> {
    let text = render_object_json(api_version, kind, raw, view)?;
    Ok(serde_json::from_str(&text).expect("the renderer writes valid JSON"))
}

/// Renders one message of the given schema (for tests and tools).
pub fn render_message(msg: &'static Msg, raw: &[u8], view: &View) -> Result<Value, RenderError> {
    let mut out = String::new();
    message(msg, raw, &mut out, 0, &Cx::new(view))?;
    Ok(serde_json::from_str(&out).expect("the renderer writes valid JSON"))
}

/// What one field received from the wire: nothing, its last value, or (repeated fields and
/// maps) where in the message its first value starts and how many it has.
#[derive(Clone, Copy)]
enum Slot<'a> {
    Empty,
    One(W<'a>),
    Many { from: usize, n: usize },
}

/// The `n` values of `field` in `raw` from offset `from` (a field's start), in wire order:
/// what [`members`] counted into a [`Slot::Many`] (it read the whole message without error).
fn many<'r>(
    raw: &'r [u8],
    from: usize,
    n: usize,
    field: &'static schema::Field,
) -> impl Iterator<Item = W<'r>> {
    Fields::new(raw.get(from..).unwrap_or_default())
        .map_while(Result::ok)
        .filter(move |(num, v)| *num == field.num && wire_fits(field.ty, field.rep, v))
        .map(|(_, v)| v)
        .take(n)
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

/// Writes `"name":`, after a comma unless it is the object's first member.
/// A member's name: the schema's JSON names, `kind`, `apiVersion`, [`UNKNOWN_FIELDS`] and
/// field numbers, none of which needs escaping (`schema_names_need_no_escaping`).
#[inline]
pub(super) fn key<'r, O: Out<'r>>(out: &mut O, first: &mut bool, name: &'static str) {
    out.key(first, name);
}

/// A JSON string, escaped as Go escapes it.
#[inline]
pub(super) fn string<'r, O: Out<'r>>(out: &mut O, s: &str, cx: &Cx) {
    out.str(s, cx.esc);
}

/// A Go string holding these bytes (not always UTF-8), escaped as Go escapes it.
#[inline]
fn bytes_string<'r, O: Out<'r>>(out: &mut O, b: &'r [u8], cx: &Cx) {
    out.wire_str(b, cx.esc);
}

fn number(out: &mut String, n: impl itoa::Integer) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// The members of `msg`'s object (without braces): its fields in Go order, inline
/// fields' members in their place, then any fields the schema does not know.
fn object_body<'r, O: Out<'r>>(
    msg: &'static Msg,
    raw: &'r [u8],
    out: &mut O,
    first: &mut bool,
    depth: u32,
    cx: &Cx,
) -> Result<(), RenderError> {
    let mut unknown = Vec::new();
    members(msg, raw, out, first, &mut unknown, depth, cx)?;
    if !unknown.is_empty() {
        let Some(out) = out.text() else {
            out.refuse();
            return Ok(());
        };
        key(out, first, UNKNOWN_FIELDS);
        // Field numbers in order of first appearance; a repeated one as an array.
        let mut nums: Vec<u32> = Vec::new();
        for (n, _) in &unknown {
            if !nums.contains(n) {
                nums.push(*n);
            }
        }
        out.push('{');
        let mut inner = true;
        for n in nums {
            gojson::plain_key(out, &mut inner, &n.to_string());
            let vals: Vec<&W<'_>> = unknown
                .iter()
                .filter(|(m, _)| *m == n)
                .map(|(_, v)| v)
                .collect();
            if vals.len() > 1 {
                out.push('[');
            }
            for (i, v) in vals.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                match v {
                    W::Varint(x) | W::Fixed64(x) => number(out, *x),
                    W::Fixed32(x) => number(out, *x),
                    W::Bytes(b) => gojson::string(out, STANDARD.encode(b).as_bytes(), cx.esc),
                }
            }
            if vals.len() > 1 {
                out.push(']');
            }
        }
        out.push('}');
    }
    Ok(())
}

/// How the chosen release writes one field.
#[derive(Clone, Copy)]
pub(super) struct Rules {
    /// The release's Go type has the field: its zero value is written when absent (unless
    /// omitted). A field the release lacks is shown only when the wire has it.
    pub(super) known: bool,
    pub(super) omitempty: bool,
    pub(super) omitzero: bool,
    pub(super) pointer: bool,
}

#[inline]
pub(super) fn rules(field: &schema::Field, cx: &Cx) -> Rules {
    let has = |mask: schema::Releases| mask & cx.bit != 0;
    let known = has(field.releases);
    Rules {
        known,
        omitempty: !known || has(field.omitempty),
        omitzero: known && has(field.omitzero),
        pointer: if known {
            has(field.pointer)
        } else {
            field.pointer != 0
        },
    }
}

fn members<'r, O: Out<'r>>(
    msg: &'static Msg,
    raw: &'r [u8],
    out: &mut O,
    first: &mut bool,
    unknown: &mut Vec<(u32, W<'r>)>,
    depth: u32,
    cx: &Cx,
) -> Result<(), RenderError> {
    if depth > MAX_DEPTH {
        return Err(RenderError::TooDeep);
    }
    // Most messages have few fields: their slots live on the stack.
    let mut small = [Slot::Empty; 24];
    let mut large: Vec<Slot<'_>>;
    let slots: &mut [Slot<'_>] = if msg.fields.len() <= small.len() {
        &mut small[..msg.fields.len()]
    } else {
        large = vec![Slot::Empty; msg.fields.len()];
        &mut large
    };
    let mut fields = Fields::new(raw);
    loop {
        let at = fields.position();
        let Some(f) = fields.next() else { break };
        let (num, v) = f.map_err(wire(msg.name))?;
        let Some(i) = msg.field_index(num) else {
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
                Slot::Many { n, .. } => *n += 1,
                s => *s = Slot::Many { from: at, n: 1 },
            },
        }
    }
    // A served object's metadata carries its mod revision as the resourceVersion.
    let served_rv = match (&cx.rv, depth, msg.name) {
        (Some(rv), 1, OBJECT_META) => Some(rv.as_str()),
        _ => None,
    };
    for (field, &slot) in msg.fields.iter().zip(slots.iter()) {
        let Some(_restore) = choose(field, depth, cx) else {
            continue;
        };
        let r = rules(field, cx);
        if let (Some(rv), 6) = (served_rv, field.num) {
            // As `present` writes a non-empty string.
            key(out, first, field.json);
            string(out, rv, cx);
            continue;
        }
        if field.inline {
            let inner = match slot {
                Slot::One(W::Bytes(b)) => b,
                Slot::Empty if !r.known => continue,
                _ => &[][..],
            };
            if let Ty::Msg(m) = field.ty {
                members(
                    &MESSAGES[m as usize],
                    inner,
                    out,
                    first,
                    unknown,
                    depth + 1,
                    cx,
                )?;
            }
            continue;
        }
        match (field.rep, slot) {
            (Rep::Many, Slot::Many { from, n }) => {
                key(out, first, field.json);
                list(field.ty, many(raw, from, n, field), out, depth, cx)?;
            }
            (Rep::Map(k, v), Slot::Many { from, n }) => {
                key(out, first, field.json);
                map(k, v, many(raw, from, n, field), out, depth, cx)?;
            }
            // Most fields: a string, written unless empty and omitted (as `present` does).
            (Rep::One, Slot::One(W::Bytes(b))) if field.ty == Ty::String => {
                if !(b.is_empty() && (r.omitempty || r.omitzero) && !r.pointer) {
                    key(out, first, field.json);
                    bytes_string(out, b, cx);
                }
            }
            (Rep::One, Slot::One(v)) => present(field, r, v, out, first, depth, cx)?,
            (Rep::Many | Rep::Map(..), _) => {
                if !r.omitempty && !r.omitzero {
                    key(out, first, field.json);
                    out.null();
                }
            }
            (Rep::One, _) => absent(field, r, out, first, depth, cx)?,
        }
    }
    Ok(())
}

/// A field that did not appear on the wire, as Go would write its zero value.
pub(super) fn absent<'r, O: Out<'r>>(
    field: &'static schema::Field,
    r: Rules,
    out: &mut O,
    first: &mut bool,
    depth: u32,
    cx: &Cx,
) -> Result<(), RenderError> {
    if !r.known || r.omitzero {
        return Ok(());
    }
    let nil = |out: &mut O, first: &mut bool| {
        if !r.omitempty {
            key(out, first, field.json);
            out.null();
        }
    };
    if r.pointer {
        nil(out, first);
        return Ok(());
    }
    match field.ty {
        Ty::Msg(m) => {
            let msg = &MESSAGES[m as usize];
            if msg.render == Render::Items {
                nil(out, first);
            } else {
                // Go never leaves out a struct under omitempty (only under omitzero).
                key(out, first, field.json);
                message(msg, &[], out, depth + 1, cx)?;
            }
        }
        Ty::Bytes => nil(out, first),
        ty => {
            if !r.omitempty {
                key(out, first, field.json);
                zero(ty, out);
            }
        }
    }
    Ok(())
}

pub(super) fn zero<'r, O: Out<'r>>(ty: Ty, out: &mut O) {
    match ty {
        Ty::String => out.str("", Escape::NEW),
        Ty::Bool => out.boolean(false),
        Ty::Bytes => out.null(),
        _ => out.int(0),
    }
}

/// Whether a present scalar is Go's zero value (left out under omitempty).
fn scalar_is_zero(ty: Ty, v: &W<'_>) -> bool {
    match (ty, v) {
        (_, W::Bytes(b)) => b.is_empty(),
        (Ty::Int32, W::Varint(x)) => *x as i32 == 0,
        (Ty::Uint32, W::Varint(x)) => *x as u32 == 0,
        (_, W::Varint(x)) => *x == 0,
        (_, W::Fixed64(x)) => f64::from_bits(*x) == 0.0,
        (_, W::Fixed32(x)) => f32::from_bits(*x) == 0.0,
    }
}

/// Whether a message on the wire decodes to Go's zero value of its struct (what omitzero
/// leaves out): no field but zero ones, and for times the zero time.
fn message_is_zero(msg: &'static Msg, raw: &[u8], depth: u32) -> bool {
    if raw.is_empty() {
        return true;
    }
    if depth > MAX_DEPTH {
        return false;
    }
    if matches!(msg.render, Render::Time | Render::MicroTime) {
        let (mut secs, mut nanos) = (0i64, 0i64);
        for f in Fields::new(raw) {
            match f {
                Ok((1, W::Varint(x))) => secs = x as i64,
                Ok((2, W::Varint(x))) => nanos = x as i64,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
        return secs == GO_ZERO_TIME && nanos == 0;
    }
    Fields::new(raw).all(|f| {
        let Ok((num, v)) = f else { return false };
        let Some(field) = msg.field_index(num).map(|i| &msg.fields[i]) else {
            return false;
        };
        match (field.rep, field.ty, v) {
            (Rep::One, Ty::Msg(m), W::Bytes(b)) => {
                message_is_zero(&MESSAGES[m as usize], b, depth + 1)
            }
            (Rep::One, Ty::Msg(_), _) => false,
            (Rep::One, ty, v) => !field.pointer != 0 && scalar_is_zero(ty, &v),
            _ => false,
        }
    })
}

fn present<'r, O: Out<'r>>(
    field: &'static schema::Field,
    r: Rules,
    v: W<'r>,
    out: &mut O,
    first: &mut bool,
    depth: u32,
    cx: &Cx,
) -> Result<(), RenderError> {
    if let Ty::Msg(m) = field.ty {
        let msg = &MESSAGES[m as usize];
        if r.omitzero && !r.pointer {
            if let W::Bytes(b) = v {
                if message_is_zero(msg, b, depth) {
                    return Ok(());
                }
            }
        }
        // A named slice is left out when empty; a struct is always written.
        if msg.render == Render::Items && r.omitempty {
            let empty = match v {
                W::Bytes(b) => !Fields::new(b).any(|f| matches!(f, Ok((1, _)))),
                _ => true,
            };
            if empty {
                return Ok(());
            }
        }
        key(out, first, field.json);
        return single(field.ty, v, out, depth, cx);
    }
    if (r.omitempty || r.omitzero) && !r.pointer && scalar_is_zero(field.ty, &v) {
        return Ok(());
    }
    key(out, first, field.json);
    single(field.ty, v, out, depth, cx)
}

fn single<'r, O: Out<'r>>(
    ty: Ty,
    v: W<'r>,
    out: &mut O,
    depth: u32,
    cx: &Cx,
) -> Result<(), RenderError> {
    match (ty, v) {
        (Ty::Msg(m), W::Bytes(b)) => message(&MESSAGES[m as usize], b, out, depth + 1, cx)?,
        (Ty::String, W::Bytes(b)) => bytes_string(out, b, cx),
        (Ty::Bytes, W::Bytes(b)) => out.string(STANDARD.encode(b), cx.esc),
        (Ty::Bool, W::Varint(x)) => out.boolean(x != 0),
        (Ty::Int32, W::Varint(x)) => out.int(i64::from(x as i32)),
        (Ty::Int64, W::Varint(x)) => out.int(x as i64),
        (Ty::Uint32, W::Varint(x)) => out.int(i64::from(x as u32)),
        (Ty::Uint64, W::Varint(x)) => out.uint(x),
        (Ty::Double, W::Fixed64(x)) => out.float64(f64::from_bits(x)),
        (Ty::Float, W::Fixed32(x)) => out.float32(f32::from_bits(x)),
        _ => out.null(),
    }
    Ok(())
}

fn list<'r, O: Out<'r>>(
    ty: Ty,
    items: impl IntoIterator<Item = W<'r>>,
    out: &mut O,
    depth: u32,
    cx: &Cx,
) -> Result<(), RenderError> {
    out.open_seq();
    let mut first = true;
    let mut sep = |out: &mut O| out.sep(&mut first);
    for v in items {
        match (ty, v) {
            // Packed scalars: one length-delimited run of varints or fixed values.
            (Ty::Bool | Ty::Int32 | Ty::Int64 | Ty::Uint32 | Ty::Uint64, W::Bytes(b)) => {
                let mut pos = 0;
                while pos < b.len() {
                    let x = read_varint(b, &mut pos).map_err(wire("packed list"))?;
                    sep(out);
                    single(ty, W::Varint(x), out, depth, cx)?;
                }
            }
            (Ty::Double, W::Bytes(b)) => {
                for c in b.chunks_exact(8) {
                    sep(out);
                    out.float64(f64::from_le_bytes(c.try_into().unwrap_or([0; 8])));
                }
            }
            (Ty::Float, W::Bytes(b)) => {
                for c in b.chunks_exact(4) {
                    sep(out);
                    out.float32(f32::from_le_bytes(c.try_into().unwrap_or([0; 4])));
                }
            }
            _ => {
                sep(out);
                single(ty, v, out, depth, cx)?;
            }
        }
    }
    out.close_seq();
    Ok(())
}

fn map<'r, O: Out<'r>>(
    key_ty: Ty,
    val: Ty,
    entries: impl IntoIterator<Item = W<'r>>,
    out: &mut O,
    depth: u32,
    cx: &Cx,
) -> Result<(), RenderError> {
    use std::borrow::Cow;
    // A key given twice keeps its last value, as Go's map does; Go writes the keys sorted.
    let mut pairs: Vec<(Cow<'r, [u8]>, Option<W<'r>>)> = Vec::new();
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
        let k: Cow<'r, [u8]> = match (key_ty, k) {
            (_, None) => Cow::Borrowed(&b""[..]),
            (Ty::String | Ty::Bytes, Some(W::Bytes(b))) => Cow::Borrowed(b),
            (_, Some(x)) => {
                let mut s = String::new();
                single(key_ty, x, &mut s, depth, cx)?;
                Cow::Owned(s.trim_matches('"').as_bytes().to_vec())
            }
        };
        match pairs.iter_mut().find(|(old, _)| *old == k) {
            Some(slot) => slot.1 = v,
            None => pairs.push((k, v)),
        }
    }
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    out.open_map();
    let mut first = true;
    for (k, v) in pairs {
        out.sep(&mut first);
        out.map_key(k, cx.esc);
        match (val, v) {
            (_, Some(x)) => single(val, x, out, depth, cx)?,
            (Ty::Msg(m), None) => message(&MESSAGES[m as usize], &[], out, depth + 1, cx)?,
            // A map's []byte value is never nil: an empty one is "".
            (Ty::Bytes, None) => out.str("", cx.esc),
            (ty, None) => zero(ty, out),
        }
    }
    out.close_map();
    Ok(())
}

/// One message in its JSON form.
pub(super) fn message<'r, O: Out<'r>>(
    msg: &'static Msg,
    raw: &'r [u8],
    out: &mut O,
    depth: u32,
    cx: &Cx,
) -> Result<(), RenderError> {
    if depth > MAX_DEPTH {
        return Err(RenderError::TooDeep);
    }
    let err = wire(msg.name);
    let scalar = |want: u32| -> Result<Option<W<'r>>, RenderError> {
        let mut found = None;
        for f in Fields::new(raw) {
            let (n, v) = f.map_err(&err)?;
            if n == want {
                found = Some(v);
            }
        }
        Ok(found)
    };
    let int = |v: Option<W<'r>>| match v {
        Some(W::Varint(x)) => x as i64,
        _ => 0,
    };
    fn bytes(v: Option<W<'_>>) -> Option<&[u8]> {
        match v {
            Some(W::Bytes(b)) => Some(b),
            _ => None,
        }
    }
    match msg.render {
        Render::Plain => {
            out.open_map();
            let mut first = true;
            object_body(msg, raw, out, &mut first, depth, cx)?;
            out.close_map();
        }
        Render::Time | Render::MicroTime => {
            // An empty message is the zero time, written as null.
            let secs = int(scalar(1)?);
            if raw.is_empty() || secs == GO_ZERO_TIME {
                out.null();
            } else if msg.render == Render::Time {
                out.string(rfc3339(secs), cx.esc);
            } else {
                let micros = int(scalar(2)?) / 1000;
                let s = rfc3339(secs);
                out.string(format!("{}.{micros:06}Z", &s[..s.len() - 1]), cx.esc);
            }
        }
        Render::Duration => out.string(go_duration(int(scalar(1)?)), cx.esc),
        // The apiserver parses the stored string again (and fails on a bad one): what it
        // serves is the canonical form.
        Render::Quantity => match bytes(scalar(1)?) {
            None => out.str("0", cx.esc),
            Some(b) => {
                let q = std::str::from_utf8(b)
                    .map_err(|_| super::quantity::QuantityError::FormatWrong)
                    .and_then(super::quantity::canonical)
                    .map_err(|e| {
                        RenderError::Decode(format!(
                            "quantity {:?}: {e}",
                            String::from_utf8_lossy(b)
                        ))
                    })?;
                out.string(q, cx.esc)
            }
        },
        Render::IntOrString => {
            if int(scalar(1)?) == 1 {
                bytes_string(out, bytes(scalar(3)?).unwrap_or_default(), cx);
            } else {
                out.int(i64::from(int(scalar(2)?) as i32));
            }
        }
        Render::RawJson => match bytes(scalar(1)?) {
            None => out.null(),
            Some([]) => out.null(),
            // Go's encoder writes a Marshaler's JSON compacted, its text otherwise kept.
            Some(b) => out.raw_json(b, cx.esc),
        },
        Render::Items => {
            let items: Vec<W<'r>> = Fields::new(raw)
                .filter_map(|f| match f {
                    Ok((1, v)) => Some(Ok(v)),
                    Ok(_) => None,
                    Err(e) => Some(Err(e)),
                })
                .collect::<Result<_, _>>()
                .map_err(&err)?;
            let ty = msg.fields.first().map_or(Ty::String, |f| f.ty);
            list(ty, items, out, depth, cx)?;
        }
        // The apiextensions unions below write one member, as their MarshalJSON does; the
        // schema's type is their field's (JSONSchemaProps of the same version).
        Render::SchemaOrArray => {
            // Its list of schemas (field 2) when not empty, else its schema (field 1),
            // null without one.
            let (mut schema, mut schemas) = (None, Vec::new());
            for f in Fields::new(raw) {
                match f.map_err(&err)? {
                    (1, v) => schema = Some(v),
                    (2, v) => schemas.push(v),
                    _ => {}
                }
            }
            let ty = |n: u32| {
                msg.fields
                    .iter()
                    .find(|f| f.num == n)
                    .map_or(Ty::Bytes, |f| f.ty)
            };
            match schema {
                _ if !schemas.is_empty() => list(ty(2), schemas, out, depth, cx)?,
                Some(v) => single(ty(1), v, out, depth, cx)?,
                None => out.null(),
            }
        }
        Render::SchemaOrBool => {
            // Its schema (field 2) when set, else its bool (field 1).
            let (mut allows, mut schema) = (false, None);
            for f in Fields::new(raw) {
                match f.map_err(&err)? {
                    (1, W::Varint(x)) => allows = x != 0,
                    (2, v) => schema = Some(v),
                    _ => {}
                }
            }
            let ty = msg
                .fields
                .iter()
                .find(|f| f.num == 2)
                .map_or(Ty::Bytes, |f| f.ty);
            match schema {
                Some(v) => single(ty, v, out, depth, cx)?,
                None => out.boolean(allows),
            }
        }
        Render::SchemaOrStringArray => {
            // Its strings (field 2) when there are any, else its schema (field 1), null
            // without one.
            let (mut schema, mut strings) = (None, Vec::new());
            for f in Fields::new(raw) {
                match f.map_err(&err)? {
                    (1, v) => schema = Some(v),
                    (2, v) => strings.push(v),
                    _ => {}
                }
            }
            let ty = msg
                .fields
                .iter()
                .find(|f| f.num == 1)
                .map_or(Ty::Bytes, |f| f.ty);
            match schema {
                _ if !strings.is_empty() => list(Ty::String, strings, out, depth, cx)?,
                Some(v) => single(ty, v, out, depth, cx)?,
                None => out.null(),
            }
        }
    }
    Ok(())
}

/// Seconds of Go's zero time.Time (0001-01-01T00:00:00Z) since the Unix epoch.
pub(super) const GO_ZERO_TIME: i64 = -62_135_596_800;

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
    fn schema_names_need_no_escaping() {
        // `key` writes member names without escaping them.
        let mut names: Vec<&str> = vec!["kind", "apiVersion", UNKNOWN_FIELDS];
        for m in MESSAGES.iter() {
            names.extend(m.fields.iter().map(|f| f.json));
        }
        for n in names {
            assert!(gojson::plain_ascii(n.as_bytes()), "{n:?}");
        }
    }

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
