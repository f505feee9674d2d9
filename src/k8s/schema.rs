//! The Kubernetes built-in kinds' schemas: proto/k8s/*.proto, compiled by build.rs into
//! static tables (messages in name order, fields in Go field order, and the kinds served
//! under each group and version). The JSON facts (names, inline, the types with a JSON
//! form of their own, and per release which fields exist and which are omitempty, omitzero
//! or pointers) ride on the .proto files as options, generated from the Go types of every
//! release by tools/k8s-schema/gen.py.

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
    /// apiextensions' JSONSchemaPropsOrArray: the array of its schemas (field 2) when it has
    /// any, else its one schema (field 1), else null.
    SchemaOrArray,
    /// apiextensions' JSONSchemaPropsOrBool: its schema (field 2) when it has one, else its
    /// bool (field 1).
    SchemaOrBool,
    /// apiextensions' JSONSchemaPropsOrStringArray: the array of its strings (field 2) when
    /// it has any, else its schema (field 1), else null.
    SchemaOrStringArray,
}

/// A field of a message: its wire number and type, its JSON name, and, per Kubernetes
/// release (a [`Releases`] mask), whether that release's Go type has it and with which JSON
/// rules.
#[derive(Debug)]
pub struct Field {
    pub num: u32,
    pub json: &'static str,
    pub ty: Ty,
    pub rep: Rep,
    pub inline: bool,
    /// The releases whose Go type has this field.
    pub releases: Releases,
    /// The releases whose JSON tag says omitempty.
    pub omitempty: Releases,
    /// The releases whose JSON tag says omitzero (Go 1.24; apimachinery 0.34 and later).
    pub omitzero: Releases,
    /// The releases whose Go field is a pointer.
    pub pointer: Releases,
}

/// A set of Kubernetes releases: bit i is 1.(FIRST_MINOR + i).
pub type Releases = u16;

/// The oldest Kubernetes minor release the schemas describe (1.27).
pub const FIRST_MINOR: u32 = 27;
/// The newest (1.37).
pub const LAST_MINOR: u32 = 37;

/// One Kubernetes release, whose apiserver output is reproduced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Release(u8);

impl Release {
    /// The newest release the schemas describe: the default.
    pub const NEWEST: Release = Release((LAST_MINOR - FIRST_MINOR) as u8);

    /// `1.33`, `v1.33`, `1.33.4` or `33`; an error names the releases that exist.
    pub fn parse(s: &str) -> Result<Release, String> {
        let t = s.trim().trim_start_matches('v');
        let minor = t.strip_prefix("1.").unwrap_or(t);
        let minor = minor.split('.').next().unwrap_or("");
        match minor.parse::<u32>() {
            Ok(m) if (FIRST_MINOR..=LAST_MINOR).contains(&m) => {
                Ok(Release((m - FIRST_MINOR) as u8))
            }
            _ => Err(format!(
                "Kubernetes version {s:?}: reshift renders 1.{FIRST_MINOR} to 1.{LAST_MINOR}"
            )),
        }
    }

    /// The minor version (27 for 1.27).
    pub fn minor(self) -> u32 {
        FIRST_MINOR + u32::from(self.0)
    }

    /// This release's bit in a [`Releases`] mask.
    pub fn bit(self) -> Releases {
        1 << self.0
    }
}

impl std::fmt::Display for Release {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "1.{}", self.minor())
    }
}

#[derive(Debug)]
pub struct Msg {
    pub name: &'static str,
    pub render: Render,
    pub type_meta: bool,
    pub fields: &'static [Field],
    /// Field number -> 1 + the field's place in `fields` (0: no such field), for field
    /// numbers below 256; larger numbers are searched for.
    pub by_num: &'static [u8],
}

impl Msg {
    /// The place in `fields` of field number `num`.
    #[inline]
    pub fn field_index(&self, num: u32) -> Option<usize> {
        if num < 256 && self.fields.len() < 256 {
            match self.by_num.get(num as usize) {
                Some(&i) if i > 0 => Some(i as usize - 1),
                _ => None,
            }
        } else {
            self.fields.iter().position(|f| f.num == num)
        }
    }
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

/// The message of a kind served under exactly `apiVersion`, without the meta.k8s.io
/// fallback of [`kind`]: whether the apiserver has a Go type for it (a custom resource has
/// none).
pub fn builtin_kind(api_version: &str, kind: &str) -> Option<&'static Msg> {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    KINDS
        .binary_search_by(|(kg, kv, kk, _)| (*kg, *kv, *kk).cmp(&(group, version, kind)))
        .ok()
        .map(|i| &MESSAGES[KINDS[i].3 as usize])
}

/// A message by its full protobuf name, for example `k8s.api.core.v1.Pod`.
pub fn message(full_name: &str) -> Option<&'static Msg> {
    MESSAGES
        .binary_search_by(|m| m.name.cmp(full_name))
        .ok()
        .map(|i| &MESSAGES[i])
}
