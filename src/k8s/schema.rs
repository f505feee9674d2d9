//! The Kubernetes built-in kinds' schemas: proto/k8s/*.proto, compiled by build.rs into
//! static tables (messages in name order, fields in Go field order, and the kinds served
//! under each group and version). The JSON facts (names, omitempty, inline, pointers, and
//! the types with a JSON form of their own) ride on the .proto files as options.

/// A field's value type. `Msg(i)` indexes [`MESSAGES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    String,
    Bytes,
    Bool,
    Int32,
    Int64,
    Uint32,
    Uint64,
    Double,
    Float,
    Msg(u16),
}

/// How a field repeats: once, as a list, or as a map (key type, value type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rep {
    One,
    Many,
    Map(Ty, Ty),
}

/// How a message is written in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Render {
    /// An object of its fields.
    Plain,
    /// metav1.Time: RFC 3339 to the second, null when zero.
    Time,
    /// metav1.MicroTime: RFC 3339 with microseconds, null when zero.
    MicroTime,
    /// metav1.Duration: Go's duration string.
    Duration,
    /// resource.Quantity: its canonical string.
    Quantity,
    /// intstr.IntOrString: a number or a string.
    IntOrString,
    /// runtime.RawExtension, metav1.FieldsV1: raw bytes that are JSON, embedded.
    RawJson,
    /// A named Go slice: the array of field 1.
    Items,
}

#[derive(Debug)]
pub struct Field {
    pub num: u32,
    pub json: &'static str,
    pub ty: Ty,
    pub rep: Rep,
    pub omitempty: bool,
    pub inline: bool,
    pub pointer: bool,
}

#[derive(Debug)]
pub struct Msg {
    pub name: &'static str,
    pub render: Render,
    pub type_meta: bool,
    pub fields: &'static [Field],
}

include!(concat!(env!("OUT_DIR"), "/k8s_schema.rs"));

/// The message of a kind served under `apiVersion` (`group/version`, or `version` for the
/// core group). The meta.k8s.io kinds every group serves (Status, DeleteOptions, WatchEvent,
/// ...) are found under any group.
pub fn kind(api_version: &str, kind: &str) -> Option<&'static Msg> {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let find = |g: &str, v: &str| {
        KINDS
            .binary_search_by(|(kg, kv, kk, _)| (*kg, *kv, *kk).cmp(&(g, v, kind)))
            .ok()
            .map(|i| &MESSAGES[KINDS[i].3 as usize])
    };
    find(group, version).or_else(|| find("meta.k8s.io", "v1"))
}

/// A message by its full protobuf name, for example `k8s.api.core.v1.Pod`.
pub fn message(full_name: &str) -> Option<&'static Msg> {
    MESSAGES
        .binary_search_by(|m| m.name.cmp(full_name))
        .ok()
        .map(|i| &MESSAGES[i])
}
