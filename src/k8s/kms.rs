//! The `kms` providers of encryption at rest: the formats of their stored values and the
//! gRPC client that asks the KMS plugin to unwrap a data key (DEK), as kube-apiserver does.
//!
//! - **KMS v2** (`k8s:enc:kms:v2:<name>:`): the value is an `EncryptedObject` protobuf
//!   (k8s.io/apiserver `pkg/storage/value/encrypt/envelope/kmsv2/v2/api.proto`):
//!   `1 encryptedData`, `2 keyID`, `3 encryptedDEKSource`, `4 annotations` (map of string
//!   to bytes), `5 encryptedDEKSourceType` (0: the source is an AES-GCM key; 1: it is a
//!   seed for HKDF-SHA256, see [`super::cipher::kdf_open`]). The source is unwrapped with
//!   the plugin's `/v2.KeyManagementService/Decrypt` (ciphertext, uid, key_id, annotations);
//!   `Status` is asked once to check that the plugin speaks v2.
//! - **KMS v1** (`k8s:enc:kms:v1:<name>:`): a big-endian 16-bit length, that many bytes of
//!   encrypted DEK, then the data under the DEK: AES-GCM (the etcd key authenticated),
//!   or AES-CBC as the earliest releases wrote it. Unwrapped with
//!   `/v1beta1.KeyManagementService/Decrypt` after its `Version` check.
//!
//! Unwrapped DEKs are cached for the life of the process, keyed as the apiserver keys
//! them (source type, encrypted source, key id, annotations), and so are failures: one
//! unreachable plugin or one refused DEK costs one call, not one per value. A tokio
//! current-thread runtime and the connection are made on the first KMS value, never
//! before. Calls run one at a time under a lock (a cached DEK needs none).
//!
//! Never logs or formats a DEK or seed; errors name the provider, the endpoint and what the
//! plugin answered.

use super::cipher::{Cbc, Gcm, OpenError, is_aes_key_len, kdf_open};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// The KMS v2 plugin API (k8s.io/kms `apis/v2/api.proto`), package `v2`.
pub mod v2 {
    pub const STATUS: &str = "/v2.KeyManagementService/Status";
    pub const DECRYPT: &str = "/v2.KeyManagementService/Decrypt";
    pub const ENCRYPT: &str = "/v2.KeyManagementService/Encrypt";

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct StatusRequest {}

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct StatusResponse {
        #[prost(string, tag = "1")]
        pub version: String,
        #[prost(string, tag = "2")]
        pub healthz: String,
        #[prost(string, tag = "3")]
        pub key_id: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct DecryptRequest {
        #[prost(bytes = "vec", tag = "1")]
        pub ciphertext: Vec<u8>,
        #[prost(string, tag = "2")]
        pub uid: String,
        #[prost(string, tag = "3")]
        pub key_id: String,
        #[prost(btree_map = "string, bytes", tag = "4")]
        pub annotations: std::collections::BTreeMap<String, Vec<u8>>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct DecryptResponse {
        #[prost(bytes = "vec", tag = "1")]
        pub plaintext: Vec<u8>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct EncryptRequest {
        #[prost(bytes = "vec", tag = "1")]
        pub plaintext: Vec<u8>,
        #[prost(string, tag = "2")]
        pub uid: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct EncryptResponse {
        #[prost(bytes = "vec", tag = "1")]
        pub ciphertext: Vec<u8>,
        #[prost(string, tag = "2")]
        pub key_id: String,
        #[prost(btree_map = "string, bytes", tag = "3")]
        pub annotations: std::collections::BTreeMap<String, Vec<u8>>,
    }
}

/// The deprecated KMS v1 plugin API (k8s.io/kms `apis/v1beta1/api.proto`).
pub mod v1beta1 {
    pub const VERSION: &str = "/v1beta1.KeyManagementService/Version";
    pub const DECRYPT: &str = "/v1beta1.KeyManagementService/Decrypt";
    pub const ENCRYPT: &str = "/v1beta1.KeyManagementService/Encrypt";
    /// The version the apiserver sends and expects back.
    pub const API_VERSION: &str = "v1beta1";

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct VersionRequest {
        #[prost(string, tag = "1")]
        pub version: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct VersionResponse {
        #[prost(string, tag = "1")]
        pub version: String,
        #[prost(string, tag = "2")]
        pub runtime_name: String,
        #[prost(string, tag = "3")]
        pub runtime_version: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct DecryptRequest {
        #[prost(string, tag = "1")]
        pub version: String,
        #[prost(bytes = "vec", tag = "2")]
        pub cipher: Vec<u8>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct DecryptResponse {
        #[prost(bytes = "vec", tag = "1")]
        pub plain: Vec<u8>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct EncryptRequest {
        #[prost(string, tag = "1")]
        pub version: String,
        #[prost(bytes = "vec", tag = "2")]
        pub plain: Vec<u8>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct EncryptResponse {
        #[prost(bytes = "vec", tag = "1")]
        pub cipher: Vec<u8>,
    }
}

/// `encryptedDEKSourceType` 0: the source is the AES-GCM key itself.
pub const SOURCE_AES_GCM_KEY: i32 = 0;
/// `encryptedDEKSourceType` 1: the source is an HKDF-SHA256 seed (extended nonce).
pub const SOURCE_HKDF_SEED: i32 = 1;

/// A KMS v2 value after its prefix.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EncryptedObject {
    #[prost(bytes = "vec", tag = "1")]
    pub encrypted_data: Vec<u8>,
    #[prost(string, tag = "2")]
    pub key_id: String,
    #[prost(bytes = "vec", tag = "3")]
    pub encrypted_dek_source: Vec<u8>,
    #[prost(btree_map = "string, bytes", tag = "4")]
    pub annotations: BTreeMap<String, Vec<u8>>,
    #[prost(int32, tag = "5")]
    pub encrypted_dek_source_type: i32,
}

/// The apiserver's limits on an `EncryptedObject` (kmsv2 `ValidateEncryptedObject`).
const MAX_SOURCE: usize = 1024;
const MAX_KEY_ID: usize = 1024;
const MAX_ANNOTATIONS: usize = 32 * 1024;

impl EncryptedObject {
    /// Decodes and checks it as the apiserver does before asking the plugin.
    pub fn parse(body: &[u8]) -> Result<EncryptedObject, String> {
        let o = <EncryptedObject as prost::Message>::decode(body)
            .map_err(|e| format!("not a KMS v2 EncryptedObject: {e}"))?;
        let bad = |what: String| Err(format!("invalid KMS v2 EncryptedObject: {what}"));
        if !matches!(
            o.encrypted_dek_source_type,
            SOURCE_AES_GCM_KEY | SOURCE_HKDF_SEED
        ) {
            return bad(format!(
                "unknown encryptedDEKSourceType {}",
                o.encrypted_dek_source_type
            ));
        }
        if o.encrypted_data.is_empty() {
            return bad("encrypted data is empty".into());
        }
        if o.encrypted_dek_source.is_empty() || o.encrypted_dek_source.len() > MAX_SOURCE {
            return bad(format!(
                "encrypted DEK source of {} bytes (1 to {MAX_SOURCE})",
                o.encrypted_dek_source.len()
            ));
        }
        if o.key_id.is_empty() || o.key_id.len() > MAX_KEY_ID {
            return bad(format!(
                "key id of {} bytes (1 to {MAX_KEY_ID})",
                o.key_id.len()
            ));
        }
        let size: usize = o.annotations.iter().map(|(k, v)| k.len() + v.len()).sum();
        if size > MAX_ANNOTATIONS {
            return bad(format!(
                "annotations of {size} bytes (at most {MAX_ANNOTATIONS})"
            ));
        }
        Ok(o)
    }

    pub fn encode(&self) -> Vec<u8> {
        prost::Message::encode_to_vec(self)
    }

    /// The DEK cache key, as the apiserver's `generateCacheKey` lays it out: the source
    /// type (4 bytes), the encrypted source and the key id (each after a 2-byte length),
    /// then, when there are annotations, their count (4 bytes) and each name and value in
    /// name order (each after a 2-byte length).
    fn cache_key(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(16 + self.encrypted_dek_source.len() + self.key_id.len());
        let put = |b: &mut Vec<u8>, x: &[u8]| {
            b.extend_from_slice(&(x.len() as u16).to_be_bytes());
            b.extend_from_slice(x);
        };
        b.extend_from_slice(&(self.encrypted_dek_source_type as u32).to_be_bytes());
        put(&mut b, &self.encrypted_dek_source);
        put(&mut b, self.key_id.as_bytes());
        if !self.annotations.is_empty() {
            b.extend_from_slice(&(self.annotations.len() as u32).to_be_bytes());
            for (k, v) in &self.annotations {
                put(&mut b, k.as_bytes());
                put(&mut b, v);
            }
        }
        b
    }
}

/// Splits a KMS v1 value after its prefix into (encrypted DEK, data).
pub fn split_v1(body: &[u8]) -> Result<(&[u8], &[u8]), String> {
    let bad = || "invalid KMS v1 value: the encrypted DEK's length runs past its end".to_string();
    let n = usize::from(u16::from_be_bytes(
        body.get(..2)
            .ok_or_else(bad)?
            .try_into()
            .map_err(|_| bad())?,
    ));
    let dek = body.get(2..2 + n).ok_or_else(bad)?;
    Ok((dek, &body[2 + n..]))
}

/// A KMS v1 value after its prefix: the encrypted DEK's length and bytes, then `data`.
pub fn join_v1(encrypted_dek: &[u8], data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(2 + encrypted_dek.len() + data.len());
    v.extend_from_slice(&(encrypted_dek.len() as u16).to_be_bytes());
    v.extend_from_slice(encrypted_dek);
    v.extend_from_slice(data);
    v
}

/// Which plugin API a `kms` provider speaks (its `apiVersion` in the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    V1,
    V2,
}

/// Where the plugin listens: a path, or a Linux abstract socket name (`unix:///@name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Socket {
    Path(std::path::PathBuf),
    Abstract(Vec<u8>),
}

/// Parses a `unix://` endpoint as k8s.io/kms `util.ParseEndpoint` does (the URL's path,
/// percent-decoded; a path starting `/@` names an abstract socket).
pub fn parse_endpoint(endpoint: &str) -> Result<Socket, String> {
    if endpoint.is_empty() {
        return Err("the KMS endpoint is empty".into());
    }
    let Some((scheme, rest)) = endpoint.split_once(':') else {
        return Err(format!(
            "unsupported endpoint {endpoint:?}: only unix:// is supported"
        ));
    };
    if !scheme.eq_ignore_ascii_case("unix") {
        return Err(format!(
            "unsupported scheme {scheme:?} for the KMS endpoint {endpoint:?}: only unix is supported"
        ));
    }
    let path = match rest.strip_prefix("//") {
        // The authority (usually empty) ends at the path.
        Some(auth_path) => auth_path.find('/').map_or("", |i| &auth_path[i..]),
        None => rest,
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    let mut raw = Vec::with_capacity(path.len());
    let b = path.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("invalid escape in the KMS endpoint {endpoint:?}"))?;
            raw.push(hex);
            i += 3;
        } else {
            raw.push(b[i]);
            i += 1;
        }
    }
    if let Some(name) = raw.strip_prefix(b"/@") {
        return Ok(Socket::Abstract(name.to_vec()));
    }
    if raw.is_empty() {
        return Err(format!(
            "the KMS endpoint {endpoint:?} names no socket path"
        ));
    }
    use std::os::unix::ffi::OsStringExt;
    Ok(Socket::Path(std::ffi::OsString::from_vec(raw).into()))
}

/// An unwrapped data key, ready to open values (each behind an `Arc` in the cache).
#[allow(clippy::large_enum_variant)]
enum Dek {
    /// KMS v2, source type 0.
    Gcm(Gcm),
    /// KMS v2, source type 1: the seed each value's key is derived from.
    Seed(Vec<u8>),
    /// KMS v1: AES-GCM, or AES-CBC for the oldest values.
    V1(Gcm, Cbc),
}

impl Drop for Dek {
    fn drop(&mut self) {
        if let Dek::Seed(s) = self {
            s.fill(0);
        }
    }
}

enum Conn {
    NotYet,
    Ready(Box<(tokio::runtime::Runtime, tonic::transport::Channel)>),
    /// Connecting or the API check failed; every later value gets this reason.
    Failed(String),
}

/// Unwrapped DEKs (or why not) by cache key.
type DekCache = HashMap<Vec<u8>, Result<Arc<Dek>, String>>;

/// One `kms` provider of the config: its plugin connection and DEK cache.
pub struct KmsProvider {
    pub name: String,
    pub api: Api,
    pub endpoint: String,
    socket: Socket,
    timeout: Duration,
    conn: Mutex<Conn>,
    deks: RwLock<DekCache>,
    calls: AtomicU64,
}

/// The message of an error and its sources, on one line.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s.replace('\n', " ")
}

fn status_text(s: &tonic::Status) -> String {
    let mut t = format!("{:?}", s.code());
    if !s.message().is_empty() {
        t.push_str(": ");
        t.push_str(&s.message().replace('\n', " "));
    }
    t
}

async fn unary<Q, P>(
    channel: &tonic::transport::Channel,
    path: &'static str,
    req: Q,
) -> Result<P, tonic::Status>
where
    Q: prost::Message + Send + Sync + 'static,
    P: prost::Message + Default + Send + Sync + 'static,
{
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(chain(&e)))?;
    grpc.unary(
        tonic::Request::new(req),
        http::uri::PathAndQuery::from_static(path),
        tonic_prost::ProstCodec::<Q, P>::default(),
    )
    .await
    .map(tonic::Response::into_inner)
}

async fn dial(socket: Socket) -> std::io::Result<hyper_util::rt::TokioIo<tokio::net::UnixStream>> {
    let s = match socket {
        Socket::Path(p) => tokio::net::UnixStream::connect(p).await?,
        Socket::Abstract(name) => {
            #[cfg(target_os = "linux")]
            {
                use std::os::linux::net::SocketAddrExt;
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(&name)?;
                let s = std::os::unix::net::UnixStream::connect_addr(&addr)?;
                s.set_nonblocking(true)?;
                tokio::net::UnixStream::from_std(s)?
            }
            #[cfg(not(target_os = "linux"))]
            {
                let _ = name;
                return Err(std::io::Error::other(
                    "abstract unix sockets exist on Linux only",
                ));
            }
        }
    };
    Ok(hyper_util::rt::TokioIo::new(s))
}

impl KmsProvider {
    pub fn new(name: &str, api: Api, endpoint: &str, timeout: Duration) -> Result<Self, String> {
        Ok(KmsProvider {
            name: name.to_string(),
            api,
            endpoint: endpoint.to_string(),
            socket: parse_endpoint(endpoint)?,
            timeout,
            conn: Mutex::new(Conn::NotYet),
            deks: RwLock::new(HashMap::new()),
            calls: AtomicU64::new(0),
        })
    }

    /// Calls made to the plugin so far (connection checks included).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    fn who(&self) -> String {
        format!("KMS plugin at {}", self.endpoint)
    }

    /// Connects and checks the plugin's API version; `Err` is the reason for every value.
    fn connect(&self) -> Result<(tokio::runtime::Runtime, tonic::transport::Channel), String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("starting the KMS client: {e}"))?;
        let socket = self.socket.clone();
        let endpoint = tonic::transport::Endpoint::from_static("http://localhost")
            .connect_timeout(self.timeout)
            .timeout(self.timeout);
        let channel = rt
            .block_on(
                endpoint.connect_with_connector(tower::service_fn(move |_: http::Uri| {
                    dial(socket.clone())
                })),
            )
            .map_err(|e| format!("{} is unreachable: {}", self.who(), chain(&e)))?;
        self.calls.fetch_add(1, Ordering::Relaxed);
        match self.api {
            Api::V2 => {
                let st: v2::StatusResponse = rt
                    .block_on(unary(&channel, v2::STATUS, v2::StatusRequest {}))
                    .map_err(|s| format!("{} Status: {}", self.who(), status_text(&s)))?;
                if st.version != "v2" && st.version != "v2beta1" {
                    return Err(format!(
                        "{} speaks KMS API {:?}, not v2",
                        self.who(),
                        st.version
                    ));
                }
            }
            Api::V1 => {
                let v: v1beta1::VersionResponse = rt
                    .block_on(unary(
                        &channel,
                        v1beta1::VERSION,
                        v1beta1::VersionRequest {
                            version: v1beta1::API_VERSION.into(),
                        },
                    ))
                    .map_err(|s| format!("{} Version: {}", self.who(), status_text(&s)))?;
                if v.version != v1beta1::API_VERSION {
                    return Err(format!(
                        "{} speaks KMS API {:?}, not v1beta1",
                        self.who(),
                        v.version
                    ));
                }
            }
        }
        Ok((rt, channel))
    }

    /// The DEK for `cache_key`, from the cache or by one call to the plugin.
    fn dek(
        &self,
        cache_key: Vec<u8>,
        unwrap: impl FnOnce(&tokio::runtime::Runtime, &tonic::transport::Channel) -> Result<Dek, String>,
    ) -> Result<Arc<Dek>, String> {
        if let Some(d) = self
            .deks
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&cache_key)
        {
            return d.clone();
        }
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        // Another thread may have unwrapped it while this one waited for the lock.
        if let Some(d) = self
            .deks
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&cache_key)
        {
            return d.clone();
        }
        if matches!(*conn, Conn::NotYet) {
            *conn = match self.connect() {
                Ok(c) => Conn::Ready(Box::new(c)),
                Err(e) => Conn::Failed(e),
            };
        }
        let got = match &*conn {
            Conn::Ready(c) => {
                self.calls.fetch_add(1, Ordering::Relaxed);
                unwrap(&c.0, &c.1).map(Arc::new)
            }
            Conn::Failed(e) => return Err(e.clone()),
            Conn::NotYet => Err("not connected".to_string()),
        };
        self.deks
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(cache_key, got.clone());
        got
    }

    fn uid() -> String {
        static N: AtomicU64 = AtomicU64::new(0);
        format!(
            "reshift-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// Opens a value of this provider (after its `k8s:enc:kms:vN:<name>:` prefix) stored
    /// under the etcd key `aad`.
    pub fn open(&self, body: &[u8], aad: &[u8]) -> Result<Vec<u8>, String> {
        match self.api {
            Api::V2 => self.open_v2(body, aad),
            Api::V1 => self.open_v1(body, aad),
        }
    }

    fn open_v2(&self, body: &[u8], aad: &[u8]) -> Result<Vec<u8>, String> {
        let o = EncryptedObject::parse(body)?;
        let seed = o.encrypted_dek_source_type == SOURCE_HKDF_SEED;
        let dek = self.dek(o.cache_key(), |rt, ch| {
            let req = v2::DecryptRequest {
                ciphertext: o.encrypted_dek_source.clone(),
                uid: Self::uid(),
                key_id: o.key_id.clone(),
                annotations: o.annotations.clone(),
            };
            let mut r: v2::DecryptResponse =
                rt.block_on(unary(ch, v2::DECRYPT, req)).map_err(|s| {
                    format!(
                        "{} did not decrypt the DEK (key id {:?}): {}",
                        self.who(),
                        o.key_id,
                        status_text(&s)
                    )
                })?;
            let d = if seed {
                if r.plaintext.len() < super::cipher::KDF_INFO {
                    Err(format!(
                        "{} returned a DEK seed of {} bytes (at least 32)",
                        self.who(),
                        r.plaintext.len()
                    ))
                } else {
                    Ok(Dek::Seed(std::mem::take(&mut r.plaintext)))
                }
            } else {
                Gcm::new(&r.plaintext).map(Dek::Gcm).ok_or_else(|| {
                    format!(
                        "{} returned a DEK of {} bytes, not an AES key",
                        self.who(),
                        r.plaintext.len()
                    )
                })
            };
            r.plaintext.fill(0);
            d
        })?;
        let opened = match &*dek {
            Dek::Gcm(g) => g.open(&o.encrypted_data, aad),
            Dek::Seed(s) => kdf_open(s, &o.encrypted_data, aad),
            Dek::V1(..) => Err(OpenError::BadKey),
        };
        opened.map_err(|e| format!("data under the DEK: {e}"))
    }

    fn open_v1(&self, body: &[u8], aad: &[u8]) -> Result<Vec<u8>, String> {
        let (encrypted_dek, data) = split_v1(body)?;
        let dek = self.dek(encrypted_dek.to_vec(), |rt, ch| {
            let req = v1beta1::DecryptRequest {
                version: v1beta1::API_VERSION.into(),
                cipher: encrypted_dek.to_vec(),
            };
            let mut r: v1beta1::DecryptResponse =
                rt.block_on(unary(ch, v1beta1::DECRYPT, req)).map_err(|s| {
                    format!(
                        "{} did not decrypt the DEK: {}",
                        self.who(),
                        status_text(&s)
                    )
                })?;
            let d = if is_aes_key_len(r.plain.len()) {
                match (Gcm::new(&r.plain), Cbc::new(&r.plain)) {
                    (Some(g), Some(c)) => Ok(Dek::V1(g, c)),
                    _ => Err("not an AES key".to_string()),
                }
            } else {
                Err(format!(
                    "{} returned a DEK of {} bytes, not an AES key",
                    self.who(),
                    r.plain.len()
                ))
            };
            r.plain.fill(0);
            d
        })?;
        let Dek::V1(g, c) = &*dek else {
            return Err("not a KMS v1 DEK".into());
        };
        // As the apiserver: AES-GCM first, then AES-CBC (what KMS v1 wrote before 1.10).
        g.open(data, aad).or_else(|gcm| {
            c.open(data)
                .map_err(|cbc| format!("data under the DEK: AES-GCM: {gcm}; AES-CBC: {cbc}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_as_kubernetes_does() {
        assert_eq!(
            parse_endpoint("unix:///tmp/kms.sock").unwrap(),
            Socket::Path("/tmp/kms.sock".into())
        );
        assert_eq!(
            parse_endpoint("unix://localhost/var/run/k%20ms.sock").unwrap(),
            Socket::Path("/var/run/k ms.sock".into())
        );
        assert_eq!(
            parse_endpoint("unix:///@kms-plugin").unwrap(),
            Socket::Abstract(b"kms-plugin".to_vec())
        );
        assert_eq!(
            parse_endpoint("unix:/tmp/a.sock").unwrap(),
            Socket::Path("/tmp/a.sock".into())
        );
        assert!(parse_endpoint("tcp://127.0.0.1:80").is_err());
        assert!(parse_endpoint("").is_err());
        assert!(parse_endpoint("unix://").is_err());
        assert!(parse_endpoint("unix:///a%zz").is_err());
    }

    #[test]
    fn encrypted_objects_round_trip_and_are_checked() {
        let o = EncryptedObject {
            encrypted_data: vec![1, 2, 3],
            key_id: "kek-1".into(),
            encrypted_dek_source: vec![9; 40],
            annotations: [("a.example.com".to_string(), b"x".to_vec())].into(),
            encrypted_dek_source_type: SOURCE_HKDF_SEED,
        };
        let b = o.encode();
        assert_eq!(EncryptedObject::parse(&b).unwrap(), o);
        let key = o.cache_key();
        assert_eq!(&key[..4], &[0, 0, 0, 1]);
        assert_eq!(&key[4..6], &[0, 40]);
        for bad in [
            EncryptedObject {
                encrypted_dek_source_type: 7,
                ..o.clone()
            },
            EncryptedObject {
                key_id: String::new(),
                ..o.clone()
            },
            EncryptedObject {
                encrypted_data: vec![],
                ..o.clone()
            },
            EncryptedObject {
                encrypted_dek_source: vec![0; 1025],
                ..o.clone()
            },
        ] {
            assert!(EncryptedObject::parse(&bad.encode()).is_err());
        }
        assert!(EncryptedObject::parse(b"\xff\xff\xff").is_err());
    }

    #[test]
    fn v1_values_split() {
        let v = join_v1(b"dek", b"data");
        assert_eq!(split_v1(&v).unwrap(), (&b"dek"[..], &b"data"[..]));
        assert!(split_v1(b"\x00").is_err());
        assert!(split_v1(b"\x00\x05abc").is_err());
        assert_eq!(split_v1(b"\x00\x00").unwrap(), (&b""[..], &b""[..]));
    }

    #[test]
    fn a_missing_plugin_is_one_clear_error() {
        let dir = std::env::temp_dir().join(format!("reshift-kms-none-{}", std::process::id()));
        let p = KmsProvider::new(
            "k",
            Api::V2,
            &format!("unix://{}/nope.sock", dir.display()),
            Duration::from_secs(1),
        )
        .unwrap();
        let o = EncryptedObject {
            encrypted_data: vec![1; 40],
            key_id: "kek".into(),
            encrypted_dek_source: vec![2; 32],
            annotations: BTreeMap::new(),
            encrypted_dek_source_type: SOURCE_AES_GCM_KEY,
        };
        let e = p.open(&o.encode(), b"/k").unwrap_err();
        assert!(e.contains("unreachable") && e.contains("nope.sock"), "{e}");
        // The failure is remembered: no second attempt.
        assert_eq!(p.open(&o.encode(), b"/k").unwrap_err(), e);
        assert_eq!(p.calls(), 0);
    }
}
