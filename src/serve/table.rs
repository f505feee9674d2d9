//! Server-side printing (`as=Table`): the columns and cells the apiserver's printers give
//! the common built-in kinds (ages relative to now, READY as x/y, RESTARTS with the last
//! restart's age), a CRD's additionalPrinterColumns (simple JSONPath), and NAME/AGE for
//! every other kind. It only reads the served object.

use super::api::Resource;
use serde_json::{Value, json};

/// A column: name, type, format, priority (0 shown by default, 1 with `-o wide`).
pub struct Column {
    pub name: String,
    pub ty: &'static str,
    pub format: &'static str,
    pub priority: i64,
}

fn col(name: &str, ty: &'static str, priority: i64) -> Column {
    Column {
        name: name.into(),
        ty,
        format: if name == "Name" { "name" } else { "" },
        priority,
    }
}

/// How a resource's rows are printed.
pub enum Printer {
    /// A built-in kind the apiserver has a printer for.
    Builtin(&'static str),
    /// A custom resource: its CRD's printer columns (none: NAME, AGE).
    Crd(Vec<super::api::PrinterColumn>),
    /// A built-in kind without a printer: NAME and CREATED AT, as the default converter.
    Default,
}

/// The built-in resources the server prints with their own columns, as the apiserver
/// does; any other built-in gets NAME and AGE.
pub const BUILTIN_PRINTED: &[&str] = &[
    "pods",
    "deployments",
    "replicasets",
    "daemonsets",
    "statefulsets",
    "jobs",
    "services",
    "nodes",
    "events",
    "namespaces",
    "configmaps",
    "secrets",
    "serviceaccounts",
    "leases",
    "endpointslices",
    "clusterroles",
];

impl Printer {
    pub fn of(r: &Resource) -> Printer {
        if let Some(cols) = &r.printer_columns {
            return Printer::Crd(cols.clone());
        }
        match BUILTIN_PRINTED.iter().find(|k| **k == r.resource) {
            Some(k) if r.builtin => Printer::Builtin(k),
            // A custom resource without a CRD in the keyspace: what a CRD without
            // printer columns gives (NAME, AGE).
            _ if !r.builtin => Printer::Crd(Vec::new()),
            _ => Printer::Default,
        }
    }

    pub fn columns(&self) -> Vec<Column> {
        let names: &[(&str, &'static str, i64)] = match self {
            Printer::Crd(cols) => {
                let mut out = vec![col("Name", "string", 0)];
                out.extend(cols.iter().map(|c| Column {
                    name: c.name.clone(),
                    ty: leak_ty(&c.ty),
                    format: leak_format(&c.format),
                    priority: c.priority,
                }));
                if cols.is_empty() {
                    out.push(col("Age", "date", 0));
                }
                return out;
            }
            Printer::Default => &[("Name", "string", 0), ("Created At", "date", 0)],
            Printer::Builtin(k) => match *k {
                "pods" => &[
                    ("Name", "string", 0),
                    ("Ready", "string", 0),
                    ("Status", "string", 0),
                    ("Restarts", "string", 0),
                    ("Age", "string", 0),
                    ("IP", "string", 1),
                    ("Node", "string", 1),
                    ("Nominated Node", "string", 1),
                    ("Readiness Gates", "string", 1),
                ],
                "deployments" => &[
                    ("Name", "string", 0),
                    ("Ready", "string", 0),
                    ("Up-to-date", "string", 0),
                    ("Available", "string", 0),
                    ("Age", "string", 0),
                    ("Containers", "string", 1),
                    ("Images", "string", 1),
                    ("Selector", "string", 1),
                ],
                "replicasets" => &[
                    ("Name", "string", 0),
                    ("Desired", "integer", 0),
                    ("Current", "integer", 0),
                    ("Ready", "integer", 0),
                    ("Age", "string", 0),
                    ("Containers", "string", 1),
                    ("Images", "string", 1),
                    ("Selector", "string", 1),
                ],
                "daemonsets" => &[
                    ("Name", "string", 0),
                    ("Desired", "integer", 0),
                    ("Current", "integer", 0),
                    ("Ready", "integer", 0),
                    ("Up-to-date", "integer", 0),
                    ("Available", "integer", 0),
                    ("Node Selector", "string", 0),
                    ("Age", "string", 0),
                    ("Containers", "string", 1),
                    ("Images", "string", 1),
                    ("Selector", "string", 1),
                ],
                "statefulsets" => &[
                    ("Name", "string", 0),
                    ("Ready", "string", 0),
                    ("Age", "string", 0),
                    ("Containers", "string", 1),
                    ("Images", "string", 1),
                ],
                "jobs" => &[
                    ("Name", "string", 0),
                    ("Status", "string", 0),
                    ("Completions", "string", 0),
                    ("Duration", "string", 0),
                    ("Age", "string", 0),
                    ("Containers", "string", 1),
                    ("Images", "string", 1),
                    ("Selector", "string", 1),
                ],
                "services" => &[
                    ("Name", "string", 0),
                    ("Type", "string", 0),
                    ("Cluster-IP", "string", 0),
                    ("External-IP", "string", 0),
                    ("Port(s)", "string", 0),
                    ("Age", "string", 0),
                    ("Selector", "string", 1),
                ],
                "nodes" => &[
                    ("Name", "string", 0),
                    ("Status", "string", 0),
                    ("Roles", "string", 0),
                    ("Age", "string", 0),
                    ("Version", "string", 0),
                    ("Internal-IP", "string", 1),
                    ("External-IP", "string", 1),
                    ("OS-Image", "string", 1),
                    ("Kernel-Version", "string", 1),
                    ("Container-Runtime", "string", 1),
                ],
                "events" => &[
                    ("Last Seen", "string", 0),
                    ("Type", "string", 0),
                    ("Reason", "string", 0),
                    ("Object", "string", 0),
                    ("Subobject", "string", 1),
                    ("Source", "string", 1),
                    ("Message", "string", 0),
                    ("First Seen", "string", 1),
                    ("Count", "string", 1),
                    ("Name", "string", 1),
                ],
                "namespaces" => &[
                    ("Name", "string", 0),
                    ("Status", "string", 0),
                    ("Age", "string", 0),
                ],
                "configmaps" => &[
                    ("Name", "string", 0),
                    ("Data", "string", 0),
                    ("Age", "string", 0),
                ],
                "secrets" => &[
                    ("Name", "string", 0),
                    ("Type", "string", 0),
                    ("Data", "string", 0),
                    ("Age", "string", 0),
                ],
                "serviceaccounts" => &[
                    ("Name", "string", 0),
                    ("Secrets", "string", 0),
                    ("Age", "string", 0),
                ],
                "leases" => &[
                    ("Name", "string", 0),
                    ("Holder", "string", 0),
                    ("Age", "string", 0),
                ],
                "endpointslices" => &[
                    ("Name", "string", 0),
                    ("AddressType", "string", 0),
                    ("Ports", "string", 0),
                    ("Endpoints", "string", 0),
                    ("Age", "string", 0),
                ],
                "clusterroles" => &[("Name", "string", 0), ("Created At", "date", 0)],
                _ => &[("Name", "string", 0), ("Age", "date", 0)],
            },
        };
        names
            .iter()
            .map(|&(n, ty, p)| {
                let mut c = col(n, ty, p);
                if n == "Created At" {
                    c.ty = "date";
                }
                c
            })
            .collect()
    }

    /// The column definitions as the Table's `columnDefinitions`.
    pub fn column_json(&self) -> Value {
        Value::Array(
            self.columns()
                .into_iter()
                .map(|c| {
                    json!({
                        "name": c.name,
                        "type": c.ty,
                        "format": c.format,
                        "description": "",
                        "priority": c.priority,
                    })
                })
                .collect(),
        )
    }

    /// One row's cells for the served object `o`, `now` in seconds since the epoch.
    pub fn cells(&self, o: &Value, now: i64) -> Vec<Value> {
        let name = s(&o["metadata"]["name"]);
        let age = || Value::String(age_of(&o["metadata"]["creationTimestamp"], now));
        match self {
            Printer::Default => vec![name.into(), created(o)],
            Printer::Crd(cols) => {
                let mut out = vec![Value::String(name)];
                for c in cols {
                    let v = json_path(o, &c.json_path).unwrap_or(Value::Null);
                    out.push(if c.ty == "date" {
                        match &v {
                            Value::String(_) => Value::String(age_of(&v, now)),
                            _ => Value::Null,
                        }
                    } else {
                        v
                    });
                }
                if cols.is_empty() {
                    out.push(age());
                }
                out
            }
            Printer::Builtin(k) => match *k {
                "pods" => pod_cells(o, now),
                "deployments" => {
                    let st = &o["status"];
                    let spec = &o["spec"];
                    let (cs, imgs) = containers(&spec["template"]["spec"]);
                    vec![
                        name.into(),
                        format!("{}/{}", i(&st["readyReplicas"]), i(&spec["replicas"])).into(),
                        i(&st["updatedReplicas"]).into(),
                        i(&st["availableReplicas"]).into(),
                        age(),
                        cs.into(),
                        imgs.into(),
                        selector(&spec["selector"]).into(),
                    ]
                }
                "replicasets" => {
                    let (st, spec) = (&o["status"], &o["spec"]);
                    let (cs, imgs) = containers(&spec["template"]["spec"]);
                    vec![
                        name.into(),
                        i(&spec["replicas"]).into(),
                        i(&st["replicas"]).into(),
                        i(&st["readyReplicas"]).into(),
                        age(),
                        cs.into(),
                        imgs.into(),
                        selector(&spec["selector"]).into(),
                    ]
                }
                "daemonsets" => {
                    let (st, spec) = (&o["status"], &o["spec"]);
                    let (cs, imgs) = containers(&spec["template"]["spec"]);
                    vec![
                        name.into(),
                        i(&st["desiredNumberScheduled"]).into(),
                        i(&st["currentNumberScheduled"]).into(),
                        i(&st["numberReady"]).into(),
                        i(&st["updatedNumberScheduled"]).into(),
                        i(&st["numberAvailable"]).into(),
                        labels(&spec["template"]["spec"]["nodeSelector"]).into(),
                        age(),
                        cs.into(),
                        imgs.into(),
                        selector(&spec["selector"]).into(),
                    ]
                }
                "statefulsets" => {
                    let (st, spec) = (&o["status"], &o["spec"]);
                    let (cs, imgs) = containers(&spec["template"]["spec"]);
                    let want = spec["replicas"].as_i64().unwrap_or(1);
                    vec![
                        name.into(),
                        format!("{}/{want}", i(&st["readyReplicas"])).into(),
                        age(),
                        cs.into(),
                        imgs.into(),
                    ]
                }
                "jobs" => job_cells(o, now),
                "services" => service_cells(o, now),
                "nodes" => node_cells(o, now),
                "events" => event_cells(o, now),
                "namespaces" => vec![name.into(), s(&o["status"]["phase"]).into(), age()],
                "configmaps" => {
                    let n = count(&o["data"]) + count(&o["binaryData"]);
                    vec![name.into(), n.into(), age()]
                }
                "secrets" => vec![
                    name.into(),
                    s(&o["type"]).into(),
                    count(&o["data"]).into(),
                    age(),
                ],
                "serviceaccounts" => vec![name.into(), count(&o["secrets"]).into(), age()],
                "leases" => {
                    let h = match s(&o["spec"]["holderIdentity"]) {
                        x if x.is_empty() => String::new(),
                        x => x,
                    };
                    vec![name.into(), h.into(), age()]
                }
                "endpointslices" => {
                    let ports: Vec<String> = arr(&o["ports"])
                        .iter()
                        .map(|p| {
                            p["port"]
                                .as_i64()
                                .map_or("<unset>".into(), |x| x.to_string())
                        })
                        .collect();
                    let eps: Vec<String> = arr(&o["endpoints"])
                        .iter()
                        .flat_map(|e| arr(&e["addresses"]).iter().map(s).collect::<Vec<_>>())
                        .collect();
                    vec![
                        name.into(),
                        s(&o["addressType"]).into(),
                        none_if_empty(ports.join(",")).into(),
                        none_if_empty(limit_list(&eps, 3)).into(),
                        age(),
                    ]
                }
                _ => vec![name.into(), created(o)],
            },
        }
    }
}

/// Subtrees of a built-in object that no column and no field selector reads: skipped
/// when a served object is parsed for its row (`.`-separated; arrays are transparent).
pub const BUILTIN_UNREAD: &[&str] = &[
    "metadata.managedFields",
    "metadata.annotations",
    "spec.volumes",
    "spec.containers.env",
    "spec.containers.envFrom",
    "spec.containers.volumeMounts",
    "spec.containers.resources",
    "spec.containers.livenessProbe",
    "spec.containers.readinessProbe",
    "spec.containers.startupProbe",
    "spec.containers.securityContext",
    "spec.containers.command",
    "spec.containers.args",
    "spec.containers.lifecycle",
    "spec.initContainers.env",
    "spec.initContainers.volumeMounts",
    "spec.initContainers.command",
    "spec.initContainers.args",
    "spec.affinity",
    "spec.tolerations",
    "spec.template.metadata",
    "spec.template.spec.volumes",
    "spec.template.spec.affinity",
    "spec.template.spec.tolerations",
    "spec.template.spec.containers.env",
    "spec.template.spec.containers.envFrom",
    "spec.template.spec.containers.volumeMounts",
    "spec.template.spec.containers.resources",
    "spec.template.spec.containers.livenessProbe",
    "spec.template.spec.containers.readinessProbe",
    "spec.template.spec.containers.startupProbe",
    "spec.template.spec.containers.securityContext",
    "spec.template.spec.containers.command",
    "spec.template.spec.containers.args",
    "spec.template.spec.initContainers",
];

/// What a pod's row and the pods' selectors read (label selectors, the field selectors
/// the apiserver offers for pods, the cells): only these subtrees are built.
const POD_READ: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.labels",
    "metadata.creationTimestamp",
    "metadata.deletionTimestamp",
    "metadata.resourceVersion",
    "spec.containers.name",
    "spec.containers.image",
    "spec.initContainers.name",
    "spec.nodeName",
    "spec.readinessGates",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.reason",
    "status.podIP",
    "status.podIPs",
    "status.nominatedNodeName",
    "status.conditions",
    "status.containerStatuses.ready",
    "status.containerStatuses.started",
    "status.containerStatuses.restartCount",
    "status.containerStatuses.state",
    "status.containerStatuses.lastState.terminated.finishedAt",
    "status.initContainerStatuses.ready",
    "status.initContainerStatuses.started",
    "status.initContainerStatuses.restartCount",
    "status.initContainerStatuses.state",
    "status.initContainerStatuses.lastState.terminated.finishedAt",
];

pub use crate::k8s::render::Shape;

/// A served object parsed for its row: the tree of the subtrees a [`Shape`] keeps, and
/// the `metadata` text as served (for the row's PartialObjectMetadata).
pub struct Light<'a> {
    pub value: Value,
    pub metadata: Option<&'a serde_json::value::RawValue>,
}

impl Printer {
    /// What [`Printer::cells`] and the selectors read of this printer's objects.
    pub fn shape(&self) -> Shape {
        match self {
            // A CRD's JSONPaths may read anything but the field manager's bookkeeping.
            Printer::Crd(_) => Shape::Drop(&["metadata.managedFields"]),
            Printer::Builtin("pods") => Shape::Keep(POD_READ),
            Printer::Builtin(_) | Printer::Default => Shape::Drop(BUILTIN_UNREAD),
        }
    }
}

/// Parses a served object in one pass, building only what `shape` keeps (the rest is
/// scanned, not kept), and borrows its metadata's text.
pub fn light(text: &str, shape: Shape) -> Option<Light<'_>> {
    use serde::Deserializer;
    let mut de = serde_json::Deserializer::from_str(text);
    let (value, metadata) = (&mut de).deserialize_map(Top { shape }).ok()?;
    Some(Light { value, metadata })
}

/// The next map value, member `key` of the value at `path`, as `shape` has it (`None`:
/// skipped). `path` is put back as it was.
fn entry<'de, A: serde::de::MapAccess<'de>>(
    map: &mut A,
    path: &mut String,
    key: &str,
    shape: Shape,
) -> Result<Option<Value>, A::Error> {
    let len = path.len();
    if len > 0 {
        path.push('.');
    }
    path.push_str(key);
    let v = match shape.at(path) {
        None => map.next_value::<serde::de::IgnoredAny>().map(|_| None),
        Some(true) => map.next_value::<Value>().map(Some),
        Some(false) => map.next_value_seed(Pruned { path, shape }).map(Some),
    };
    path.truncate(len);
    v
}

/// The object's top level: `metadata` is kept as text too.
struct Top {
    shape: Shape,
}

impl<'de> serde::de::Visitor<'de> for Top {
    type Value = (Value, Option<&'de serde_json::value::RawValue>);

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        use serde::de::{DeserializeSeed, Error};
        let mut out = serde_json::Map::new();
        let mut meta = None;
        let mut path = String::new();
        while let Some(k) = map.next_key::<String>()? {
            if k == "metadata" && meta.is_none() {
                let raw: &'de serde_json::value::RawValue = map.next_value()?;
                meta = Some(raw);
                let mut de = serde_json::Deserializer::from_str(raw.get());
                let v = match self.shape.at("metadata") {
                    None => continue,
                    Some(true) => serde_json::from_str(raw.get()).map_err(A::Error::custom)?,
                    Some(false) => Pruned {
                        path: &mut "metadata".into(),
                        shape: self.shape,
                    }
                    .deserialize(&mut de)
                    .map_err(A::Error::custom)?,
                };
                out.insert(k, v);
                continue;
            }
            if let Some(v) = entry(&mut map, &mut path, &k, self.shape)? {
                out.insert(k, v);
            }
        }
        Ok((Value::Object(out), meta))
    }
}

/// A JSON value at `path`, of the subtrees `shape` keeps (`path` is put back as it was).
struct Pruned<'p> {
    path: &'p mut String,
    shape: Shape,
}

impl<'de> serde::de::DeserializeSeed<'de> for Pruned<'_> {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Pruned<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Pruned {
            path: &mut *self.path,
            shape: self.shape,
        })? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(k) = map.next_key::<String>()? {
            if let Some(v) = entry(&mut map, self.path, &k, self.shape)? {
                out.insert(k, v);
            }
        }
        Ok(Value::Object(out))
    }
}

fn leak_ty(t: &str) -> &'static str {
    match t {
        "integer" => "integer",
        "number" => "number",
        "boolean" => "boolean",
        "date" => "date",
        _ => "string",
    }
}

fn leak_format(f: &str) -> &'static str {
    match f {
        "name" => "name",
        "int32" => "int32",
        "int64" => "int64",
        "date-time" => "date-time",
        "byte" => "byte",
        "password" => "password",
        _ => "",
    }
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or("").to_string()
}

fn i(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn arr(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

fn count(v: &Value) -> i64 {
    match v {
        Value::Object(m) => m.len() as i64,
        Value::Array(a) => a.len() as i64,
        _ => 0,
    }
}

fn none_if_empty(x: String) -> String {
    if x.is_empty() { "<none>".into() } else { x }
}

/// The first `n` of a list joined with commas, with `+ N more...` for the rest.
fn limit_list(xs: &[String], n: usize) -> String {
    if xs.len() <= n {
        xs.join(",")
    } else {
        format!("{} + {} more...", xs[..n].join(","), xs.len() - n)
    }
}

/// The default printer's `Created At` cell: the creation timestamp itself.
fn created(o: &Value) -> Value {
    o["metadata"]["creationTimestamp"].clone()
}

fn labels(m: &Value) -> String {
    match m.as_object() {
        Some(m) if !m.is_empty() => {
            let mut kv: Vec<String> = m.iter().map(|(k, v)| format!("{k}={}", s(v))).collect();
            kv.sort();
            kv.join(",")
        }
        _ => "<none>".into(),
    }
}

/// A LabelSelector as metav1.FormatLabelSelector writes it.
fn selector(sel: &Value) -> String {
    let Some(m) = sel.as_object() else {
        return "<none>".into();
    };
    let mut parts: Vec<String> = Vec::new();
    if let Some(ml) = m.get("matchLabels").and_then(Value::as_object) {
        let mut kv: Vec<String> = ml.iter().map(|(k, v)| format!("{k}={}", s(v))).collect();
        kv.sort();
        parts.extend(kv);
    }
    for e in arr(&sel["matchExpressions"]) {
        let (k, op) = (s(&e["key"]), s(&e["operator"]));
        let vals: Vec<String> = arr(&e["values"]).iter().map(s).collect();
        parts.push(match op.as_str() {
            "In" => format!("{k} in ({})", vals.join(",")),
            "NotIn" => format!("{k} notin ({})", vals.join(",")),
            "Exists" => k,
            "DoesNotExist" => format!("!{k}"),
            _ => format!("{k} {op} ({})", vals.join(",")),
        });
    }
    if parts.is_empty() {
        "<none>".into()
    } else {
        parts.join(",")
    }
}

fn containers(pod_spec: &Value) -> (String, String) {
    let cs = arr(&pod_spec["containers"]);
    (
        cs.iter()
            .map(|c| s(&c["name"]))
            .collect::<Vec<_>>()
            .join(","),
        cs.iter()
            .map(|c| s(&c["image"]))
            .collect::<Vec<_>>()
            .join(","),
    )
}

/// Seconds since the epoch of an RFC 3339 time (`2006-01-02T15:04:05Z`, fractions and
/// offsets allowed).
pub fn parse_time(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (h, mi, se) = (n(11..13)?, n(14..16)?, n(17..19)?);
    let mut rest = &t[19..];
    if let Some(r) = rest.strip_prefix('.') {
        rest = r.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match rest {
        "Z" | "z" => 0,
        r if r.len() == 6 => {
            let sign = if r.starts_with('-') { -1 } else { 1 };
            sign * (r.get(1..3)?.parse::<i64>().ok()? * 3600
                + r.get(4..6)?.parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    // Days from the civil date (proleptic Gregorian).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + se - offset)
}

/// apimachinery's HumanDuration of `secs`.
pub fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    } else if secs < 0 {
        return "0s".into();
    } else if secs < 60 * 2 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        let sec = secs % 60;
        return if sec == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{sec}s")
        };
    } else if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let m = minutes % 60;
        if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        }
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        let h = hours % 24;
        if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        }
    } else if hours < 24 * 365 * 2 {
        format!("{}d", hours / 24)
    } else if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        }
    } else {
        format!("{}y", hours / 24 / 365)
    }
}

/// The age of a timestamp as the printers show it (`<unknown>` without one).
fn age_of(t: &Value, now: i64) -> String {
    match t.as_str().and_then(parse_time) {
        Some(secs) => human_duration(now - secs),
        None => "<unknown>".into(),
    }
}

fn pod_cells(o: &Value, now: i64) -> Vec<Value> {
    let (spec, st) = (&o["spec"], &o["status"]);
    let total = arr(&spec["containers"]).len();
    let mut ready = 0;
    let mut restarts = 0i64;
    let mut last_restart: Option<i64> = None;
    let mut reason = match s(&st["reason"]) {
        r if !r.is_empty() => r,
        _ => s(&st["phase"]),
    };
    let note_restart = |c: &Value, restarts: &mut i64, last: &mut Option<i64>| {
        *restarts += i(&c["restartCount"]);
        if let Some(t) = c["lastState"]["terminated"]["finishedAt"]
            .as_str()
            .and_then(parse_time)
        {
            *last = Some(last.map_or(t, |l| l.max(t)));
        }
    };
    let mut initializing = false;
    let inits = arr(&st["initContainerStatuses"]);
    let n_init = arr(&spec["initContainers"]).len();
    for (k, c) in inits.iter().enumerate() {
        note_restart(c, &mut restarts, &mut last_restart);
        let term = &c["state"]["terminated"];
        let wait = &c["state"]["waiting"];
        if term.is_object() && i(&term["exitCode"]) == 0 {
            continue;
        }
        if c["started"].as_bool() == Some(true) && c["state"]["running"].is_object() {
            continue;
        }
        reason = if term.is_object() {
            match s(&term["reason"]) {
                r if !r.is_empty() => format!("Init:{r}"),
                _ if i(&term["signal"]) != 0 => format!("Init:Signal:{}", i(&term["signal"])),
                _ => format!("Init:ExitCode:{}", i(&term["exitCode"])),
            }
        } else if wait.is_object()
            && !s(&wait["reason"]).is_empty()
            && s(&wait["reason"]) != "PodInitializing"
        {
            format!("Init:{}", s(&wait["reason"]))
        } else {
            format!("Init:{k}/{n_init}")
        };
        initializing = true;
        break;
    }
    if !initializing {
        restarts = 0;
        last_restart = None;
        let mut has_running = false;
        for c in arr(&st["containerStatuses"]).iter().rev() {
            note_restart(c, &mut restarts, &mut last_restart);
            let (wait, term) = (&c["state"]["waiting"], &c["state"]["terminated"]);
            if wait.is_object() && !s(&wait["reason"]).is_empty() {
                reason = s(&wait["reason"]);
            } else if term.is_object() && !s(&term["reason"]).is_empty() {
                reason = s(&term["reason"]);
            } else if term.is_object() {
                reason = if i(&term["signal"]) != 0 {
                    format!("Signal:{}", i(&term["signal"]))
                } else {
                    format!("ExitCode:{}", i(&term["exitCode"]))
                };
            } else if c["ready"].as_bool() == Some(true) && c["state"]["running"].is_object() {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            let ready_cond = arr(&st["conditions"])
                .iter()
                .any(|c| s(&c["type"]) == "Ready" && s(&c["status"]) == "True");
            reason = if ready_cond { "Running" } else { "NotReady" }.into();
        }
    }
    if o["metadata"]["deletionTimestamp"].is_string() {
        reason = if s(&st["reason"]) == "NodeLost" {
            "Unknown".into()
        } else {
            "Terminating".into()
        };
    }
    let restarts_cell = match last_restart {
        Some(t) => format!("{restarts} ({} ago)", human_duration(now - t)),
        None => restarts.to_string(),
    };
    let ip = match s(&st["podIP"]) {
        x if x.is_empty() => "<none>".into(),
        x => x,
    };
    let node = match s(&spec["nodeName"]) {
        x if x.is_empty() => "<none>".into(),
        x => x,
    };
    let nominated = match s(&st["nominatedNodeName"]) {
        x if x.is_empty() => "<none>".into(),
        x => x,
    };
    let gates = arr(&spec["readinessGates"]);
    let gates_cell = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let true_conds = gates
            .iter()
            .filter(|g| {
                arr(&st["conditions"])
                    .iter()
                    .any(|c| s(&c["type"]) == s(&g["conditionType"]) && s(&c["status"]) == "True")
            })
            .count();
        format!("{true_conds}/{}", gates.len())
    };
    vec![
        s(&o["metadata"]["name"]).into(),
        format!("{ready}/{total}").into(),
        reason.into(),
        restarts_cell.into(),
        age_of(&o["metadata"]["creationTimestamp"], now).into(),
        ip.into(),
        node.into(),
        nominated.into(),
        gates_cell.into(),
    ]
}

fn job_cells(o: &Value, now: i64) -> Vec<Value> {
    let (spec, st) = (&o["spec"], &o["status"]);
    let completions = match spec["completions"].as_i64() {
        Some(c) => format!("{}/{c}", i(&st["succeeded"])),
        None => {
            let p = spec["parallelism"].as_i64().unwrap_or(1);
            if p > 1 {
                format!("{}/1 of {p}", i(&st["succeeded"]))
            } else {
                format!("{}/1", i(&st["succeeded"]))
            }
        }
    };
    let cond = |t: &str| {
        arr(&st["conditions"])
            .iter()
            .any(|c| s(&c["type"]) == t && s(&c["status"]) == "True")
    };
    let status = if cond("Complete") {
        "Complete"
    } else if cond("Failed") {
        "Failed"
    } else if o["metadata"]["deletionTimestamp"].is_string() {
        "Terminating"
    } else if cond("SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else if cond("FailureTarget") {
        "FailureTarget"
    } else if cond("Suspended") {
        "Suspended"
    } else {
        "Running"
    };
    let start = st["startTime"].as_str().and_then(parse_time);
    let done = st["completionTime"].as_str().and_then(parse_time);
    let duration = match (start, done) {
        (Some(a), Some(b)) => human_duration(b - a),
        (Some(a), None) => human_duration(now - a),
        _ => String::new(),
    };
    let (cs, imgs) = containers(&spec["template"]["spec"]);
    vec![
        s(&o["metadata"]["name"]).into(),
        status.into(),
        completions.into(),
        duration.into(),
        age_of(&o["metadata"]["creationTimestamp"], now).into(),
        cs.into(),
        imgs.into(),
        selector(&spec["selector"]).into(),
    ]
}

fn service_cells(o: &Value, now: i64) -> Vec<Value> {
    let (spec, st) = (&o["spec"], &o["status"]);
    let ty = s(&spec["type"]);
    let cluster_ip = match s(&spec["clusterIP"]) {
        x if x.is_empty() => "<none>".into(),
        x => x,
    };
    let ext: Vec<String> = arr(&spec["externalIPs"]).iter().map(s).collect();
    let external = match ty.as_str() {
        "ClusterIP" | "NodePort" => none_if_empty(ext.join(",")),
        "LoadBalancer" => {
            let mut ips: Vec<String> = arr(&st["loadBalancer"]["ingress"])
                .iter()
                .map(|i| match s(&i["ip"]) {
                    x if x.is_empty() => s(&i["hostname"]),
                    x => x,
                })
                .filter(|x| !x.is_empty())
                .collect();
            ips.extend(ext);
            if ips.is_empty() {
                "<pending>".into()
            } else {
                ips.join(",")
            }
        }
        "ExternalName" => s(&spec["externalName"]),
        _ => "<unknown>".into(),
    };
    let ports: Vec<String> = arr(&spec["ports"])
        .iter()
        .map(|p| {
            let proto = match s(&p["protocol"]) {
                x if x.is_empty() => "TCP".into(),
                x => x,
            };
            match p["nodePort"].as_i64() {
                Some(np) if np != 0 => format!("{}:{np}/{proto}", i(&p["port"])),
                _ => format!("{}/{proto}", i(&p["port"])),
            }
        })
        .collect();
    vec![
        s(&o["metadata"]["name"]).into(),
        ty.into(),
        cluster_ip.into(),
        external.into(),
        none_if_empty(ports.join(",")).into(),
        age_of(&o["metadata"]["creationTimestamp"], now).into(),
        labels(&spec["selector"]).into(),
    ]
}

fn node_cells(o: &Value, now: i64) -> Vec<Value> {
    let (spec, st, meta) = (&o["spec"], &o["status"], &o["metadata"]);
    let mut status: Vec<String> = Vec::new();
    for c in arr(&st["conditions"]) {
        if s(&c["type"]) == "Ready" {
            status.push(if s(&c["status"]) == "True" {
                "Ready".into()
            } else {
                "NotReady".into()
            });
        }
    }
    if status.is_empty() {
        status.push("Unknown".into());
    }
    if spec["unschedulable"].as_bool() == Some(true) {
        status.push("SchedulingDisabled".into());
    }
    let mut roles: Vec<String> = Vec::new();
    if let Some(l) = meta["labels"].as_object() {
        for (k, v) in l {
            if let Some(r) = k.strip_prefix("node-role.kubernetes.io/") {
                if !r.is_empty() {
                    roles.push(r.into());
                }
            } else if k == "kubernetes.io/role" && !s(v).is_empty() {
                roles.push(s(v));
            }
        }
    }
    roles.sort();
    roles.dedup();
    let addr = |t: &str| {
        arr(&st["addresses"])
            .iter()
            .find(|a| s(&a["type"]) == t)
            .map_or("<none>".into(), |a| s(&a["address"]))
    };
    let info = &st["nodeInfo"];
    let os_image = match s(&info["osImage"]) {
        x if x.is_empty() => "<unknown>".into(),
        x => x,
    };
    let kernel = match s(&info["kernelVersion"]) {
        x if x.is_empty() => "<unknown>".into(),
        x => x,
    };
    let runtime = match s(&info["containerRuntimeVersion"]) {
        x if x.is_empty() => "<unknown>".into(),
        x => x,
    };
    vec![
        s(&meta["name"]).into(),
        status.join(",").into(),
        none_if_empty(roles.join(",")).into(),
        age_of(&meta["creationTimestamp"], now).into(),
        s(&info["kubeletVersion"]).into(),
        addr("InternalIP").into(),
        addr("ExternalIP").into(),
        os_image.into(),
        kernel.into(),
        runtime.into(),
    ]
}

fn event_cells(o: &Value, now: i64) -> Vec<Value> {
    let first = match &o["firstTimestamp"] {
        Value::String(_) => o["firstTimestamp"].clone(),
        _ => o["eventTime"].clone(),
    };
    let last = match &o["lastTimestamp"] {
        Value::String(_) => o["lastTimestamp"].clone(),
        _ => first.clone(),
    };
    let first_age = age_of(&first, now);
    let last_age = if i(&o["series"]["count"]) > 1 {
        age_of(&o["series"]["lastObservedTime"], now)
    } else if i(&o["count"]) > 1 {
        format!(
            "{} (x{} over {})",
            age_of(&last, now),
            i(&o["count"]),
            first_age
        )
    } else {
        age_of(&last, now)
    };
    let inv = &o["involvedObject"];
    let object = format!(
        "{}/{}",
        s(&inv["kind"]).to_ascii_lowercase(),
        s(&inv["name"])
    );
    let src = &o["source"];
    let source = match (s(&src["component"]), s(&src["host"])) {
        (c, h) if !h.is_empty() => format!("{c}, {h}"),
        (c, _) if !c.is_empty() => c,
        _ => s(&o["reportingComponent"]),
    };
    let count = match i(&o["series"]["count"]) {
        0 => i(&o["count"]),
        n => n,
    };
    vec![
        last_age.into(),
        s(&o["type"]).into(),
        s(&o["reason"]).into(),
        object.into(),
        s(&inv["fieldPath"]).into(),
        source.into(),
        s(&o["message"]).trim().to_string().into(),
        first_age.into(),
        count.into(),
        s(&o["metadata"]["name"]).into(),
    ]
}

/// The value at a CRD printer column's JSONPath (`.spec.replicas`, `.status.conditions[0].type`,
/// `.metadata.labels.app`); `None` when absent or the path is beyond this simple form.
pub fn json_path(o: &Value, path: &str) -> Option<Value> {
    let p = path.trim().trim_start_matches('{').trim_end_matches('}');
    let p = p.strip_prefix('.').unwrap_or(p);
    let mut cur = o;
    for part in p.split('.').filter(|x| !x.is_empty()) {
        let (name, idx) = match part.split_once('[') {
            Some((n, rest)) => (n, rest.strip_suffix(']')?.parse::<usize>().ok()),
            None => (part, None),
        };
        if !name.is_empty() {
            cur = cur.get(name)?;
        }
        if let Some(k) = idx {
            cur = cur.get(k)?;
        }
    }
    Some(cur.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_as_the_printers_write_them() {
        let cases = [
            (-5, "<invalid>"),
            (0, "0s"),
            (119, "119s"),
            (120, "2m"),
            (125, "2m5s"),
            (600, "10m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 60, "3h1m"),
            (30 * 3600, "30h"),
            (3 * 86400 + 3600, "3d1h"),
            (40 * 86400, "40d"),
            (3 * 365 * 86400 + 5 * 86400, "3y5d"),
            (10 * 365 * 86400, "10y"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(secs), want, "{secs}");
        }
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_time("2023-11-14T22:13:39Z"), Some(1_700_000_019));
        assert_eq!(
            parse_time("2023-11-14T22:13:39.5+01:00"),
            Some(1_699_996_419)
        );
        assert_eq!(
            crate::k8s::meta::rfc3339(parse_time("2004-02-29T01:01:01Z").unwrap()),
            "2004-02-29T01:01:01Z"
        );
    }
}
