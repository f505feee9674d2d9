//! `reshift serve`: the read side of the Kubernetes API over a frozen keyspace, so kubectl,
//! client libraries and dashboards work against a dead cluster. Discovery ([`api`]), GET
//! and LIST with label and field selectors and paging, server-side printing ([`table`]),
//! and WATCH replaying the kept history; objects are the served form the renderers give.
//! It never writes: every write verb and every subresource that needs a live node answers
//! a metav1 Status saying so.

pub mod api;
pub mod proto;
pub mod table;
pub mod tls;

use crate::error::{Error, Result};
use crate::etcd::Keyspace;
use crate::etcd::keyspace::RevRecord;
use crate::k8s::encryption::Decryptor;
use crate::k8s::render::View;
use crate::k8s::schema::Release;
use crate::k8s::selector::Selector;
use crate::source::{Source, SourceKind};
use api::{Catalog, Resource};
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use table::Printer;

/// Objects decoded at a time while a list streams.
const BATCH: usize = 256;

/// What the server serves: the keyspace frozen at one revision.
pub struct Store {
    ks: &'static Keyspace<'static>,
    /// The served revision: every read is at it.
    pub revision: i64,
    prefix: String,
    release: Release,
    dec: Option<Decryptor>,
    pub catalog: Catalog,
    /// Warnings met while opening (a torn or damaged WAL).
    pub warnings: Vec<String>,
}

/// Opens `path` (any input reshift reads) for the life of the process: the maps and the
/// keyspace are kept until exit, which the server needs.
fn open_keyspace(path: &Path, use_wal: bool) -> Result<(&'static Keyspace<'static>, Vec<String>)> {
    let src: &'static Source = Box::leak(Box::new(Source::open(path)?));
    if src.kind == SourceKind::ReshiftSnapshot {
        let snap = src.snapshot()?;
        if snap.is_incremental() {
            // An incremental snapshot serves its chain's state (earlier files found beside it).
            use crate::snapshot::chain;
            let ch: &'static chain::Chain =
                Box::leak(Box::new(chain::Chain::resolve(&snap, &src.path, &[])?));
            let mut snaps = ch.snapshots()?;
            snaps.push(snap);
            let snaps: &'static [crate::snapshot::Snapshot<'static>] =
                Box::leak(snaps.into_boxed_slice());
            let decoded: &'static chain::Decoded = Box::leak(Box::new(chain::decode(snaps)?));
            let ks = chain::keyspace(snaps, decoded)?;
            return Ok((Box::leak(Box::new(ks)), vec![]));
        }
        let snap: &'static crate::snapshot::Snapshot<'static> = Box::leak(Box::new(snap));
        let (flat, ranges) = snap.all_chunks_flat()?;
        let flat: &'static _ = Box::leak(Box::new(flat));
        let chunks: Vec<&'static [u8]> = ranges.into_iter().map(|r| &flat[r]).collect();
        let chunks: &'static [&'static [u8]] = Box::leak(chunks.into_boxed_slice());
        let ks = crate::snapshot::open::keyspace(snap, chunks)?;
        return Ok((Box::leak(Box::new(ks)), vec![]));
    }
    let db: &'static crate::bbolt::Db<'static> = Box::leak(Box::new(src.db()?));
    let (base, wal) = crate::etcd::open::keyspace_and_wal(src, db, use_wal)?;
    let mut warnings = Vec::new();
    let ks = match wal {
        Some(w) => {
            match &w.summary.ending {
                crate::wal::Ending::Clean => {}
                crate::wal::Ending::Torn { segment, offset, reason } => warnings.push(format!(
                    "the WAL ends in a torn record ({segment} offset {offset}: {reason}); every entry before it was replayed"
                )),
                crate::wal::Ending::Damaged { segment, offset, reason } => warnings.push(format!(
                    "the WAL is damaged at {segment} offset {offset}: {reason}; replay stopped before it"
                )),
            }
            let w: &'static crate::etcd::open::WalState = Box::leak(Box::new(w));
            base.with_replay(&w.replayed)
        }
        None => base,
    };
    Ok((Box::leak(Box::new(ks)), warnings))
}

impl Store {
    /// Opens `path` at `revision` (the latest when `None`).
    pub fn open(
        path: &Path,
        use_wal: bool,
        revision: Option<i64>,
        prefix: &str,
        release: Release,
        dec: Option<Decryptor>,
    ) -> Result<Store> {
        let (ks, warnings) = open_keyspace(path, use_wal)?;
        let revision = match revision {
            Some(r) => {
                ks.check_revision(r)?;
                r
            }
            None => ks.revision,
        };
        let catalog = Catalog::build(ks, revision, prefix, dec.as_ref());
        Ok(Store {
            ks,
            revision,
            prefix: prefix.trim_end_matches('/').to_string(),
            release,
            dec,
            catalog,
            warnings,
        })
    }

    fn view(&self, mod_revision: i64) -> View {
        View::served(self.release, mod_revision)
    }

    /// The served JSON of one record.
    ///
    /// With `shape`, only what it wants of a protobuf object (and its metadata whole): what
    /// a Table row or a selector reads, written and parsed without the rest.
    fn object_json(
        &self,
        r: &RevRecord<'_>,
        shape: Option<table::Shape>,
    ) -> std::result::Result<String, String> {
        let kv = r.kv();
        crate::k8s::object::decode_stored_json_shaped(
            kv.key,
            kv.value,
            &self.view(kv.mod_revision),
            self.dec.as_ref(),
            shape,
        )
    }

    /// The served protobuf object (the envelope's raw, with its resourceVersion) of a
    /// record of `res`, when it is stored as protobuf in the group version served.
    fn object_proto(&self, res: &Resource, r: &RevRecord<'_>) -> Option<Vec<u8>> {
        use crate::k8s::value::{ENCRYPTED_PREFIX, StoredValue, classify};
        if !res.builtin {
            return None;
        }
        let kv = r.kv();
        let plain;
        let value = match &self.dec {
            Some(d) if kv.value.starts_with(ENCRYPTED_PREFIX) => {
                plain = d.decrypt(kv.key, kv.value).ok()?;
                &plain[..]
            }
            _ => kv.value,
        };
        let Ok(StoredValue::Protobuf(env)) = classify(value) else {
            return None;
        };
        if env.api_version != res.group_version().as_bytes() || env.kind != res.kind.as_bytes() {
            return None;
        }
        proto::served_raw(env.raw, kv.mod_revision).ok()
    }

    /// The key prefix of a resource's objects: in one namespace, or all of them.
    fn key_prefix(&self, r: &Resource, namespace: Option<&str>) -> String {
        let name = crate::k8s::key::ResourceName {
            resource: r.resource.clone(),
            group: Some(r.group.clone()),
        };
        let keys = name.keys(&self.prefix, namespace.unwrap_or("-"), "");
        match namespace {
            Some(_) if r.namespaced => keys[0].clone(),
            _ => keys[1].clone(),
        }
    }

    /// The key of one object.
    fn object_key(&self, r: &Resource, namespace: Option<&str>, name: &str) -> String {
        format!("{}{name}", self.key_prefix(r, namespace))
    }
}

/// Serves `store` on `listener` (plain TCP or [`tls::TlsListener`]) until the process
/// ends; with `token`, every request must carry it as its bearer token.
pub async fn serve<L>(
    store: Arc<Store>,
    listener: L,
    token: Option<Arc<str>>,
) -> std::io::Result<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    axum::serve(listener, router(store, token)).await
}

/// The API as a router (what [`serve`] runs; benches call it in process).
pub fn router(store: Arc<Store>, token: Option<Arc<str>>) -> axum::Router {
    axum::Router::new().fallback(move |req: Request<Body>| {
        let store = store.clone();
        let token = token.clone();
        async move {
            if let Some(t) = &token {
                if !authorized(req.headers(), t) {
                    return status(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized");
                }
            }
            handle(store, req).await
        }
    })
}

/// Whether the request's `Authorization: Bearer …` is `token`, compared in constant time.
fn authorized(h: &HeaderMap, token: &str) -> bool {
    use subtle::ConstantTimeEq;
    let Some(given) = h
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    bool::from(given.trim().as_bytes().ct_eq(token.as_bytes()))
}

/// A metav1 Status answer.
fn status(code: StatusCode, reason: &str, message: &str) -> Response {
    let body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code.as_u16(),
    });
    json_response(code, "application/json", body.to_string())
}

fn json_response(code: StatusCode, ctype: &str, body: String) -> Response {
    Response::builder()
        .status(code)
        .header(header::CONTENT_TYPE, ctype)
        .body(Body::from(body))
        .expect("a valid response")
}

fn ok_json(v: &Value) -> Response {
    json_response(StatusCode::OK, "application/json", v.to_string())
}

/// The query string's parameters, decoded.
fn query(req: &Request<Body>) -> Vec<(String, String)> {
    req.uri()
        .query()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// What a client asked for in `Accept`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Want {
    Json,
    Table,
    /// `application/vnd.kubernetes.protobuf`; whether JSON is acceptable too.
    Protobuf {
        json_ok: bool,
    },
    /// Aggregated discovery, apidiscovery.k8s.io v2 or v2beta1.
    Aggregated(&'static str),
}

fn accepts(h: &HeaderMap) -> Want {
    let a = h
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // The first of the client's choices that is served wins.
    let choices: Vec<String> = a.split(',').map(|c| c.replace(' ', "")).collect();
    for (k, c) in choices.iter().enumerate() {
        if c == proto::CONTENT_TYPE || c.starts_with("application/vnd.kubernetes.protobuf;") {
            if c.contains("as=") {
                continue;
            }
            let json_ok = choices[k + 1..].iter().any(|c| {
                c.starts_with("application/json") && !c.contains("as=") || c.starts_with("*/*")
            });
            return Want::Protobuf { json_ok };
        }
        if c.contains("as=Table") && c.contains("g=meta.k8s.io") && c.contains("v=v1") {
            return Want::Table;
        }
        if c.contains("as=APIGroupDiscoveryList") && c.contains("g=apidiscovery.k8s.io") {
            if c.contains("v=v2beta1") {
                return Want::Aggregated("v2beta1");
            }
            if c.contains("v=v2") {
                return Want::Aggregated("v2");
            }
        }
        if c.starts_with("application/json") || c.starts_with("*/*") || c.is_empty() {
            return Want::Json;
        }
    }
    Want::Json
}

/// A request for objects, parsed from its path.
struct Target<'s> {
    res: &'s Resource,
    namespace: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

async fn handle(store: Arc<Store>, req: Request<Body>) -> Response {
    let path = req.uri().path().trim_end_matches('/').to_string();
    let segs: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let want = accepts(req.headers());
    let is_read = req.method() == Method::GET || req.method() == Method::HEAD;
    // Discovery.
    match segs.as_slice() {
        ["version"] => return ok_json(&version_json(store.release)),
        ["healthz"] | ["livez"] | ["readyz"] => {
            return json_response(StatusCode::OK, "text/plain", "ok".into());
        }
        ["api"] => {
            if let Want::Aggregated(v) = want {
                return aggregated(&store, true, v);
            }
            return ok_json(&json!({
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}],
            }));
        }
        ["apis"] => {
            if let Want::Aggregated(v) = want {
                return aggregated(&store, false, v);
            }
            return ok_json(&store.catalog.group_list());
        }
        ["api", "v1"] => {
            return store.catalog.resource_list("", "v1").map_or_else(
                || not_found("the server could not find the requested resource"),
                |v| ok_json(&v),
            );
        }
        ["apis", g] => {
            return store.catalog.group(g).map_or_else(
                || not_found("the server could not find the requested resource"),
                |v| ok_json(&v),
            );
        }
        ["apis", g, v] => {
            return store.catalog.resource_list(g, v).map_or_else(
                || not_found("the server could not find the requested resource"),
                |v| ok_json(&v),
            );
        }
        _ => {}
    }
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return not_found("the server could not find the requested resource"),
    };
    let Some(t) = target(&store, group, version, rest) else {
        return not_found(&format!(
            "the server could not find the requested resource ({path})"
        ));
    };
    if let Some(sub) = &t.sub {
        if matches!(
            sub.as_str(),
            "exec" | "attach" | "portforward" | "log" | "proxy"
        ) {
            return status(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                &format!(
                    "{}/{} {sub}: this cluster is an offline copy read from etcd files by reshift serve (revision {}); there is no node to reach",
                    t.res.resource,
                    t.name.as_deref().unwrap_or(""),
                    store.revision
                ),
            );
        }
        if sub != "status" {
            return not_found(&format!("{}/{sub} is not served", t.res.resource));
        }
    }
    if !is_read {
        let what = match &t.name {
            Some(n) => format!("{} {n:?}", t.res.resource),
            None => t.res.resource.clone(),
        };
        return status(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            &format!(
                "{} {what}: reshift serve is read-only: this cluster is an offline copy read from etcd files (revision {})",
                req.method().as_str().to_lowercase(),
                store.revision
            ),
        );
    }
    let q = query(&req);
    let param = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let watch = matches!(param("watch"), Some("true" | "1"));
    if let Some(name) = &t.name {
        if !watch {
            return get_one(&store, &t, name, want);
        }
    }
    let opts = match ListOpts::parse(&q, t.res, t.name.as_deref()) {
        Ok(o) => o,
        Err(e) => return status(StatusCode::BAD_REQUEST, "BadRequest", &e),
    };
    if let Want::Protobuf { json_ok } = want {
        if !watch {
            return list_proto(store.clone(), &t, opts, json_ok).await;
        }
        if !json_ok {
            return not_acceptable();
        }
    }
    let want = match want {
        Want::Protobuf { .. } => Want::Json,
        w => w,
    };
    if watch {
        return watch_resp(store.clone(), &t, opts, want);
    }
    list(store.clone(), &t, opts, want)
}

/// What the apiserver answers when none of the client's media types can be served.
fn not_acceptable() -> Response {
    status(
        StatusCode::NOT_ACCEPTABLE,
        "NotAcceptable",
        "only the following media types are accepted: application/json, application/yaml",
    )
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn not_found(msg: &str) -> Response {
    status(StatusCode::NOT_FOUND, "NotFound", msg)
}

fn aggregated(store: &Store, legacy: bool, version: &'static str) -> Response {
    let body = store.catalog.aggregated(legacy, version).to_string();
    json_response(
        StatusCode::OK,
        &format!("application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"),
        body,
    )
}

fn version_json(release: Release) -> Value {
    json!({
        "major": "1",
        "minor": release.minor().to_string(),
        "emulationMajor": "1",
        "emulationMinor": release.minor().to_string(),
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": (release.minor() - 1).to_string(),
        "gitVersion": format!("v1.{}.0", release.minor()),
        "gitCommit": "",
        "gitTreeState": "",
        "buildDate": "",
        "goVersion": "",
        "compiler": "reshift",
        "platform": format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
    })
}

/// `rest` after the group version: `[namespaces/NS/]RESOURCE[/NAME[/SUB]]`, or the
/// namespaces resource itself.
fn target<'s>(store: &'s Store, group: &str, version: &str, rest: &[&str]) -> Option<Target<'s>> {
    let find = |r: &str| store.catalog.find(group, version, r);
    let (ns, rest) = match rest {
        ["namespaces", ns, r, more @ ..] if find(r).is_some_and(|x| x.namespaced) => {
            (Some(ns.to_string()), [&[*r][..], more].concat())
        }
        _ => (None, rest.to_vec()),
    };
    let res = find(rest.first()?)?;
    if rest.len() > 3 {
        return None;
    }
    Some(Target {
        res,
        namespace: ns,
        name: rest.get(1).map(|s| s.to_string()),
        sub: rest.get(2).map(|s| s.to_string()),
    })
}

fn get_one(store: &Store, t: &Target<'_>, name: &str, want: Want) -> Response {
    let ns = if t.res.namespaced {
        t.namespace.as_deref()
    } else {
        None
    };
    if t.res.namespaced && ns.is_none() {
        return not_found(&format!(
            "{} {name:?}: a namespace is needed",
            t.res.resource
        ));
    }
    let key = store.object_key(t.res, ns, name);
    let rec = match store.ks.get(key.as_bytes(), Some(store.revision)) {
        Ok(Some(r)) => r,
        _ => {
            return not_found(&format!(
                "{}{} {name:?} not found",
                t.res.resource,
                if t.res.group.is_empty() {
                    String::new()
                } else {
                    format!(".{}", t.res.group)
                }
            ));
        }
    };
    if let Want::Protobuf { json_ok } = want {
        match store.object_proto(t.res, &rec) {
            Some(raw) => {
                let body = proto::envelope(&t.res.group_version(), &t.res.kind, &raw);
                return Response::builder()
                    .status(StatusCode::OK)
                    .header(header::CONTENT_TYPE, proto::CONTENT_TYPE)
                    .body(Body::from(body))
                    .expect("a valid response");
            }
            None if !json_ok => return not_acceptable(),
            None => {}
        }
    }
    let printer = (want == Want::Table).then(|| Printer::of(t.res));
    let text = match store.object_json(&rec, printer.as_ref().map(Printer::shape)) {
        Ok(t) => t,
        Err(e) => {
            return status(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                &format!("{key}: {e}"),
            );
        }
    };
    if let Some(printer) = printer {
        let Some(row) = table_row(&printer, &text, now(), IncludeObject::Metadata) else {
            return status(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "bad JSON",
            );
        };
        let body = format!(
            "{{\"kind\":\"Table\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":{{\"resourceVersion\":\"{}\"}},\"columnDefinitions\":{},\"rows\":[{row}]}}",
            rec.kv().mod_revision,
            printer.column_json()
        );
        return json_response(StatusCode::OK, "application/json", body);
    }
    json_response(StatusCode::OK, "application/json", text)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum IncludeObject {
    None,
    Metadata,
    Object,
}

/// One Table row of the served object `text`: its cells computed from a light parse
/// ([`table::light`]), the object (or its metadata, as served) copied as text.
fn table_row(p: &Printer, text: &str, now: i64, inc: IncludeObject) -> Option<String> {
    let l = table::light(text, p.shape())?;
    Some(row_text(p, &l, text, now, inc))
}

fn row_text(p: &Printer, l: &table::Light<'_>, text: &str, now: i64, inc: IncludeObject) -> String {
    let cells = Value::Array(p.cells(&l.value, now)).to_string();
    match inc {
        IncludeObject::None => format!("{{\"cells\":{cells}}}"),
        IncludeObject::Metadata => format!(
            "{{\"cells\":{cells},\"object\":{{\"kind\":\"PartialObjectMetadata\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":{}}}}}",
            l.metadata.map_or("{}", |m| m.get())
        ),
        IncludeObject::Object => format!("{{\"cells\":{cells},\"object\":{text}}}"),
    }
}

/// One field selector requirement: path, wanted value, whether negated.
type FieldReq = (String, String, bool);

/// The fields the apiserver lets a kind be selected on, beyond metadata.name and
/// metadata.namespace.
fn selectable(res: &Resource) -> &'static [&'static str] {
    if !res.builtin {
        return &[];
    }
    match (res.group.as_str(), res.resource.as_str()) {
        ("", "pods") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.podIPs",
            "status.nominatedNodeName",
        ],
        ("", "events") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("", "secrets") => &["type"],
        ("", "namespaces") => &["status.phase"],
        ("", "nodes") => &["spec.unschedulable"],
        ("", "replicationcontrollers") => &["status.replicas"],
        ("", "persistentvolumeclaims") => &["spec.volumeName"],
        ("batch", "jobs") => &["status.successful"],
        ("certificates.k8s.io", "certificatesigningrequests") => &["spec.signerName"],
        _ => &[],
    }
}

/// The value a field selector compares for `path` on the served object `o`, as the
/// apiserver's field sets write it.
fn field_value(o: &Value, path: &str) -> String {
    let v = match path {
        "source" => &o["source"]["component"],
        "status.successful" => &o["status"]["succeeded"],
        "status.podIPs" => &o["status"]["podIP"],
        p => {
            let mut cur = o;
            for part in p.split('.') {
                cur = &cur[part];
            }
            cur
        }
    };
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Null if path == "spec.hostNetwork" || path == "spec.unschedulable" => "false".into(),
        Value::Null if path == "status.replicas" || path == "status.successful" => "0".into(),
        _ => String::new(),
    }
}

struct ListOpts {
    labels: Option<Selector>,
    fields: Vec<FieldReq>,
    limit: Option<usize>,
    /// Continue after this key.
    after: Option<String>,
    /// Watch: events after this revision (`None`: the current state as ADDED events).
    since: Option<i64>,
    include: IncludeObject,
    timeout: Option<u64>,
    bookmarks: bool,
}

impl ListOpts {
    fn parse(
        q: &[(String, String)],
        res: &Resource,
        name: Option<&str>,
    ) -> std::result::Result<ListOpts, String> {
        let param = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let labels = match param("labelSelector") {
            Some(s) if !s.is_empty() => Some(Selector::parse(s)?),
            _ => None,
        };
        let mut fields = Vec::new();
        if let Some(fs) = param("fieldSelector") {
            for term in fs.split(',').filter(|t| !t.is_empty()) {
                let (k, v, neg) = if let Some((k, v)) = term.split_once("!=") {
                    (k, v, true)
                } else if let Some((k, v)) = term.split_once("==") {
                    (k, v, false)
                } else if let Some((k, v)) = term.split_once('=') {
                    (k, v, false)
                } else {
                    return Err(format!(
                        "invalid field selector: {term:?}: expected = or !="
                    ));
                };
                let k = k.trim();
                if k != "metadata.name"
                    && k != "metadata.namespace"
                    && !selectable(res).contains(&k)
                {
                    return Err(format!("field label not supported: {k}"));
                }
                fields.push((
                    k.to_string(),
                    v.trim().replace("\\,", ",").replace("\\=", "="),
                    neg,
                ));
            }
        }
        if let Some(n) = name {
            // A watch of one object (`/pods/NAME?watch=true`).
            fields.push(("metadata.name".into(), n.to_string(), false));
        }
        let limit = match param("limit") {
            Some(l) => match l.parse::<i64>() {
                Ok(n) if n > 0 => Some(n as usize),
                Ok(_) => None,
                Err(_) => return Err(format!("limit {l:?} is not a number")),
            },
            None => None,
        };
        let after = match param("continue") {
            Some(c) if !c.is_empty() => Some(decode_continue(c)?),
            _ => None,
        };
        let since = match param("resourceVersion") {
            Some("") | Some("0") | None => None,
            Some(r) => Some(
                r.parse::<i64>()
                    .map_err(|_| format!("resourceVersion {r:?} is not a number"))?,
            ),
        };
        let include = match param("includeObject") {
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        };
        Ok(ListOpts {
            labels,
            fields,
            limit,
            after,
            since,
            include,
            timeout: param("timeoutSeconds").and_then(|t| t.parse().ok()),
            bookmarks: matches!(param("allowWatchBookmarks"), Some("true" | "1")),
        })
    }

    /// Whether any selector is given.
    fn selects(&self) -> bool {
        self.labels.is_some() || !self.fields.is_empty()
    }

    /// Whether the served object (parsed) passes the selectors.
    fn matches(&self, v: &Value) -> bool {
        if let Some(sel) = &self.labels {
            let mut labels = std::collections::BTreeMap::new();
            if let Some(m) = v["metadata"]["labels"].as_object() {
                for (k, x) in m {
                    labels.insert(
                        std::borrow::Cow::Borrowed(k.as_str()),
                        std::borrow::Cow::Borrowed(x.as_str().unwrap_or("")),
                    );
                }
            }
            if !sel.matches(&labels) {
                return false;
            }
        }
        for (k, want, neg) in &self.fields {
            if (field_value(v, k) == *want) == *neg {
                return false;
            }
        }
        true
    }

    /// Whether the served object `text` passes the selectors (`None`: it does not parse).
    fn matches_text(&self, text: &str) -> Option<bool> {
        if !self.selects() {
            return Some(true);
        }
        // No selectable field is in what a built-in's row leaves unread.
        let l = table::light(text, table::Shape::Drop(table::BUILTIN_UNREAD))?;
        Some(self.matches(&l.value))
    }

    /// What [`ListOpts::item`] reads of an object (`None`: all of it).
    fn shape(&self, printer: Option<&Printer>) -> Option<table::Shape> {
        printer
            .filter(|_| self.include != IncludeObject::Object)
            .map(Printer::shape)
    }

    /// The list item (object text or table row) of the served object `text` (written
    /// with [`ListOpts::shape`]), when it passes the selectors.
    fn item(&self, printer: Option<&Printer>, text: String, now: i64) -> Option<String> {
        match printer {
            None => self.matches_text(&text)?.then_some(text),
            Some(p) => {
                let l = table::light(&text, p.shape())?;
                self.matches(&l.value)
                    .then(|| row_text(p, &l, &text, now, self.include))
            }
        }
    }
}

fn encode_continue(rev: i64, key: &str) -> String {
    use base64::Engine;
    let j = json!({"v": "meta.k8s.io/v1", "rv": rev, "start": format!("{key}\u{0}")});
    base64::engine::general_purpose::URL_SAFE.encode(j.to_string())
}

fn decode_continue(c: &str) -> std::result::Result<String, String> {
    use base64::Engine;
    let bad = || "continue key is not valid".to_string();
    let raw = base64::engine::general_purpose::URL_SAFE
        .decode(c)
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(c))
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let start = v["start"].as_str().ok_or_else(bad)?;
    Ok(start.trim_end_matches('\u{0}').to_string())
}

/// The list's kind: `<Kind>List`, or a Table.
fn list_head(store: &Store, t: &Target<'_>, want: Want, cont: Option<&str>) -> String {
    let mut meta = serde_json::Map::new();
    meta.insert("resourceVersion".into(), store.revision.to_string().into());
    if let Some(c) = cont {
        meta.insert("continue".into(), c.into());
    }
    let meta = Value::Object(meta);
    if want == Want::Table {
        let p = Printer::of(t.res);
        format!(
            "{{\"kind\":\"Table\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":{meta},\"columnDefinitions\":{},\"rows\":[",
            p.column_json()
        )
    } else {
        format!(
            "{{\"kind\":{},\"apiVersion\":{},\"metadata\":{meta},\"items\":[",
            Value::String(format!("{}List", t.res.kind)),
            Value::String(t.res.group_version())
        )
    }
}

/// Renders one batch of records to the list items that pass the selectors (`None`: not
/// passed). Decoding runs on all cores.
fn render_batch(
    store: &Store,
    printer: Option<&Printer>,
    opts: &ListOpts,
    recs: &[RevRecord<'static>],
    now: i64,
) -> Vec<Option<String>> {
    use rayon::prelude::*;
    let shape = opts.shape(printer);
    recs.par_iter()
        .map(|r| opts.item(printer, store.object_json(r, shape).ok()?, now))
        .collect()
}

/// The records a list of `t` walks, after `opts.after` (a continue key): its own depth
/// only (a resource whose prefix is another's, `services/specs/x` under a namespace,
/// keeps its own).
fn list_records<'s>(
    store: &'s Store,
    t: &Target<'_>,
    prefix: &'s str,
    after: Option<&'s str>,
) -> crate::error::Result<impl Iterator<Item = RevRecord<'static>> + 's> {
    let depth = usize::from(t.res.namespaced && t.namespace.is_none());
    let plen = prefix.len();
    Ok(store
        .ks
        .state_after(
            prefix.as_bytes(),
            after.map(str::as_bytes),
            Some(store.revision),
        )?
        .filter(move |r| r.key[plen..].iter().filter(|&&c| c == b'/').count() == depth))
}

fn list(store: Arc<Store>, t: &Target<'_>, opts: ListOpts, want: Want) -> Response {
    let ns = if t.res.namespaced {
        t.namespace.clone()
    } else {
        None
    };
    let prefix = store.key_prefix(t.res, ns.as_deref());
    let printer = (want == Want::Table).then(|| Printer::of(t.res));
    let now = now();
    if let Some(limit) = opts.limit {
        // A page: bounded, so built here; it starts where the last one ended.
        let mut it = match list_records(&store, t, &prefix, opts.after.as_deref()) {
            Ok(it) => it.peekable(),
            Err(e) => return status(StatusCode::GONE, "Expired", &e.to_string()),
        };
        let mut items = Vec::new();
        let mut last: Option<RevRecord<'static>> = None;
        let mut more = false;
        while items.len() < limit {
            let batch: Vec<RevRecord<'static>> = it
                .by_ref()
                .take(BATCH.min(limit - items.len() + 8))
                .collect();
            if batch.is_empty() {
                break;
            }
            let rendered = render_batch(&store, printer.as_ref(), &opts, &batch, now);
            for (k, item) in rendered.into_iter().enumerate() {
                if items.len() == limit {
                    more = true;
                    break;
                }
                if let Some(x) = item {
                    items.push(x);
                    last = Some(batch[k]);
                }
            }
        }
        let more = more || it.peek().is_some();
        let cont = match last {
            Some(l) if more && items.len() == limit => Some(encode_continue(
                store.revision,
                &String::from_utf8_lossy(l.key),
            )),
            _ => None,
        };
        let mut body = list_head(&store, t, want, cont.as_deref());
        body.push_str(&items.join(","));
        body.push_str("]}");
        return json_response(StatusCode::OK, "application/json", body);
    }
    let recs: Vec<RevRecord<'static>> = match list_records(&store, t, &prefix, None) {
        Ok(it) => it.collect(),
        Err(e) => return status(StatusCode::GONE, "Expired", &e.to_string()),
    };
    // The whole list: streamed batch by batch.
    let head = list_head(&store, t, want, None);
    let (tx, rx) = tokio::sync::mpsc::channel::<std::result::Result<Bytes, std::io::Error>>(4);
    let store2 = store.clone();
    tokio::task::spawn_blocking(move || {
        if tx.blocking_send(Ok(Bytes::from(head))).is_err() {
            return;
        }
        let mut first = true;
        for chunk in recs.chunks(BATCH) {
            let mut buf = String::new();
            for item in render_batch(&store2, printer.as_ref(), &opts, chunk, now)
                .into_iter()
                .flatten()
            {
                if !first {
                    buf.push(',');
                }
                first = false;
                buf.push_str(&item);
            }
            if !buf.is_empty() && tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                return;
            }
        }
        let _ = tx.blocking_send(Ok(Bytes::from_static(b"]}")));
    });
    stream_response("application/json", rx)
}

fn stream_response(
    ctype: &str,
    rx: tokio::sync::mpsc::Receiver<std::result::Result<Bytes, std::io::Error>>,
) -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, ctype)
        .body(Body::from_stream(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        ))
        .expect("a valid response")
}

/// A LIST in protobuf (built-in kinds whose objects are all stored as protobuf in the
/// served version); JSON, or 406, otherwise. Two passes: the first keeps the items that
/// pass the selectors (and the page) and sizes them — the envelope is length-prefixed —
/// the second streams them.
async fn list_proto(store: Arc<Store>, t: &Target<'_>, opts: ListOpts, json_ok: bool) -> Response {
    let res = t.res.clone();
    let ns = if res.namespaced {
        t.namespace.clone()
    } else {
        None
    };
    let prefix = store.key_prefix(&res, ns.as_deref());
    // Pass 1 (on a blocking thread: it decodes).
    let recs: Vec<RevRecord<'static>> =
        match list_records(&store, t, &prefix, opts.after.as_deref()) {
            Ok(it) => it.collect(),
            Err(e) => return status(StatusCode::GONE, "Expired", &e.to_string()),
        };
    let store1 = store.clone();
    let res1 = res.clone();
    let sized = tokio::task::spawn_blocking(move || {
        let mut kept: Vec<(RevRecord<'static>, usize)> = Vec::new();
        let mut more = false;
        if !res1.builtin {
            return (None, opts);
        }
        for r in recs {
            if opts.limit.is_some_and(|l| kept.len() == l) {
                more = true;
                break;
            }
            if opts.selects() {
                match store1
                    .object_json(&r, Some(table::Shape::Drop(table::BUILTIN_UNREAD)))
                    .ok()
                    .and_then(|t| opts.matches_text(&t))
                {
                    Some(true) => {}
                    Some(false) => continue,
                    None => return (None, opts),
                }
            }
            match store1.object_proto(&res1, &r) {
                Some(raw) => kept.push((r, raw.len())),
                None => return (None, opts),
            }
        }
        (Some((kept, more)), opts)
    })
    .await;
    let (kept, more) = match sized {
        Ok((Some((k, m)), _)) => (k, m),
        Ok((None, o)) if json_ok => return list(store, t, o, Want::Json),
        Ok((None, _)) => return not_acceptable(),
        Err(e) => {
            return status(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                &e.to_string(),
            );
        }
    };
    let cont = match kept.last() {
        Some((l, _)) if more => encode_continue(store.revision, &String::from_utf8_lossy(l.key)),
        _ => String::new(),
    };
    let head = proto::List::head(
        &res.group_version(),
        &format!("{}List", res.kind),
        store.revision,
        &cont,
        kept.iter().map(|(_, n)| *n),
    );
    let (tx, rx) = tokio::sync::mpsc::channel::<std::result::Result<Bytes, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        if tx.blocking_send(Ok(Bytes::from(head))).is_err() {
            return;
        }
        for chunk in kept.chunks(BATCH) {
            let mut buf = Vec::new();
            for (r, n) in chunk {
                let raw = store.object_proto(&res, r).unwrap_or_default();
                if raw.len() != *n {
                    // The store is frozen: the same record gives the same bytes.
                    return;
                }
                proto::List::item(&mut buf, &raw);
            }
            if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                return;
            }
        }
        let _ = tx.blocking_send(Ok(Bytes::from_static(proto::List::TAIL)));
    });
    stream_response(proto::CONTENT_TYPE, rx)
}

/// One watch event's line.
fn event_line(ty: &str, object: &str) -> String {
    format!("{{\"type\":\"{ty}\",\"object\":{object}}}\n")
}

/// The history of the keys under `prefix` in `(since, rev]` as watch events, in revision
/// order: (type, record to show).
fn history_events(
    store: &Store,
    prefix: &str,
    since: i64,
) -> Vec<(&'static str, RevRecord<'static>, i64)> {
    let mut out = Vec::new();
    let mut prev: Option<RevRecord<'static>> = None;
    for r in store.ks.all_by_key(prefix.as_bytes()) {
        if prev.is_some_and(|p| p.key != r.key) {
            prev = None;
        }
        let main = r.rev.main;
        if main > since && main <= store.revision {
            if r.tombstone {
                if let Some(p) = prev.filter(|p| !p.tombstone) {
                    out.push(("DELETED", p, main));
                }
            } else if r.kv().version == 1 {
                out.push(("ADDED", r, main));
            } else {
                out.push(("MODIFIED", r, main));
            }
        }
        prev = Some(r);
    }
    out.sort_by_key(|(_, r, main)| (*main, r.rev.sub));
    out
}

fn watch_resp(store: Arc<Store>, t: &Target<'_>, opts: ListOpts, want: Want) -> Response {
    let ns = if t.res.namespaced {
        t.namespace.clone()
    } else {
        None
    };
    let prefix = store.key_prefix(t.res, ns.as_deref());
    if let Some(since) = opts.since {
        if since < store.ks.compact_revision {
            return status(
                StatusCode::GONE,
                "Expired",
                &format!(
                    "too old resource version: {since} ({})",
                    store.ks.compact_revision
                ),
            );
        }
    }
    let printer = (want == Want::Table).then(|| Printer::of(t.res));
    let columns = printer.as_ref().map(Printer::column_json);
    let res_kind = t.res.kind.clone();
    let (tx, rx) = tokio::sync::mpsc::channel::<std::result::Result<Bytes, std::io::Error>>(4);
    let store2 = store.clone();
    let timeout = opts.timeout.unwrap_or(1800);
    let bookmarks = opts.bookmarks;
    let gv = t.res.group_version();
    let sending = tokio::task::spawn_blocking(move || {
        let now = now();
        let events: Vec<(&'static str, RevRecord<'static>, i64)> = match opts.since {
            Some(since) => history_events(&store2, &prefix, since),
            None => match store2.ks.state(prefix.as_bytes(), Some(store2.revision)) {
                Ok(it) => it.map(|r| ("ADDED", r, 0)).collect(),
                Err(_) => vec![],
            },
        };
        let mut first = true;
        for (ty, r, at) in events {
            let kv = r.kv();
            // A deleted object is shown as it was, at the deletion's revision.
            let view = store2.view(if ty == "DELETED" { at } else { kv.mod_revision });
            let Ok(text) = crate::k8s::object::decode_stored_json_shaped(
                kv.key,
                kv.value,
                &view,
                store2.dec.as_ref(),
                opts.shape(printer.as_ref()),
            ) else {
                continue;
            };
            let Some(item) = opts.item(printer.as_ref(), text, now) else {
                continue;
            };
            let object = match &printer {
                None => item,
                Some(_) => {
                    let cols = if first {
                        columns.clone().unwrap_or(Value::Null)
                    } else {
                        Value::Null
                    };
                    format!(
                        "{{\"kind\":\"Table\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":{{\"resourceVersion\":\"{}\"}},\"columnDefinitions\":{cols},\"rows\":[{item}]}}",
                        view.resource_version.unwrap_or(0)
                    )
                }
            };
            first = false;
            if tx
                .blocking_send(Ok(Bytes::from(event_line(ty, &object))))
                .is_err()
            {
                return None;
            }
        }
        if bookmarks {
            let b = json!({
                "kind": res_kind,
                "apiVersion": gv,
                "metadata": {"resourceVersion": store2.revision.to_string(), "annotations": {"k8s.io/initial-events-end": "true"}},
            });
            let _ = tx.blocking_send(Ok(Bytes::from(event_line("BOOKMARK", &b.to_string()))));
        }
        Some(tx)
    });
    // Nothing changes: hold the stream open until the timeout or the client leaves.
    tokio::spawn(async move {
        if let Ok(Some(tx)) = sending.await {
            tokio::select! {
                _ = tx.closed() => {}
                _ = tokio::time::sleep(std::time::Duration::from_secs(timeout)) => {}
            }
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::TRANSFER_ENCODING, "chunked")
        .body(Body::from_stream(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        ))
        .expect("a valid response")
}

/// The kubeconfig that points kubectl at `addr`: over HTTPS trusting `ca` (the PEM of the
/// served certificate) when given, with the bearer `token` when given.
pub fn kubeconfig(addr: &std::net::SocketAddr, ca: Option<&[u8]>, token: Option<&str>) -> String {
    use base64::Engine;
    let cluster = match ca {
        Some(pem) => format!(
            "    server: https://{addr}\n    certificate-authority-data: {}\n",
            base64::engine::general_purpose::STANDARD.encode(pem)
        ),
        None => format!("    server: http://{addr}\n"),
    };
    let user = match token {
        // JSON string syntax is YAML too.
        Some(t) => format!("\n    token: {}", Value::String(t.to_string())),
        None => " {}".to_string(),
    };
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: reshift\n  cluster:\n{cluster}contexts:\n- name: reshift\n  context:\n    cluster: reshift\n    user: reshift\ncurrent-context: reshift\nusers:\n- name: reshift\n  user:{user}\n"
    )
}

/// Writes `text` to `path` with mode 0600 (a temp name, fsync, rename).
pub fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp-reshift");
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.write_all(text.as_bytes())
        .map_err(|e| Error::io(&tmp, e))?;
    f.sync_all().map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}
