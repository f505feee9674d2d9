//! Encryption at rest as kube-apiserver configures it: its `--encryption-provider-config`
//! file (`apiserver.config.k8s.io/v1` `EncryptionConfiguration`, or the older `v1`
//! `EncryptionConfig`), which providers and keys a resource's values are read with, and
//! [`Decryptor::decrypt`], which turns a stored `k8s:enc:…` value back into the bytes the
//! apiserver encrypted (then decoded like any other stored value).
//!
//! How a value is read, as the apiserver reads it (k8s.io/apiserver
//! `pkg/server/options/encryptionconfig` and `pkg/storage/value`): the rule for the key's
//! resource is found (`secrets`, then `*.<group>`, then `*.*`); its providers are tried in
//! the file's order, and within a provider its keys in order; each key whose prefix
//! `k8s:enc:<provider>:v1:<key name>:` (`k8s:enc:kms:v<N>:<provider name>:` for KMS)
//! starts the value is tried, and the first that opens it wins — a key that fails (a
//! rotated key sharing its name, say) does not stop the next. `identity` never reads an
//! encrypted value. Two departures, both where the apiserver would refuse to read: a
//! value that is not encrypted is passed through whatever the rule says, and a key whose
//! resource no rule names is tried against every provider of the file, in order.
//!
//! The formats themselves are in [`super::cipher`] and [`super::kms`].
//!
//! Never prints, logs or formats key material: errors name the file, the rule, the
//! provider and the key's name, never its secret, and no type here implements `Debug`
//! over a key.

use super::cipher::{Cbc, Gcm, SecretBox};
use super::kms::{Api, KmsProvider};
use super::value::{ENCRYPTED_PREFIX, StoredValue, classify};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;
use std::path::Path;
use std::time::Duration;

// ---- The file, as the apiserver decodes it (strictly: unknown fields are errors) ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(rename = "apiVersion", default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    resources: Vec<ResourceConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResourceConfig {
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    providers: Vec<ProviderConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderConfig {
    aesgcm: Option<KeysConfig>,
    aescbc: Option<KeysConfig>,
    secretbox: Option<KeysConfig>,
    identity: Option<Empty>,
    kms: Option<KmsConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysConfig {
    #[serde(default)]
    keys: Vec<KeyConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyConfig {
    #[serde(default)]
    name: String,
    #[serde(default)]
    secret: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KmsConfig {
    #[serde(rename = "apiVersion", default)]
    api_version: String,
    #[serde(default)]
    name: String,
    cachesize: Option<i64>,
    #[serde(default)]
    endpoint: String,
    timeout: Option<String>,
}

// ---- What the file configures ----

/// An API group and resource as the config names them (`ParseGroupResource`: the part
/// before the first `.` is the resource, the rest the group; `*` is any).
#[derive(Clone, PartialEq, Eq)]
struct GroupResource {
    group: String,
    resource: String,
}

impl GroupResource {
    fn parse(s: &str) -> GroupResource {
        match s.split_once('.') {
            Some((r, g)) => GroupResource {
                group: g.into(),
                resource: r.into(),
            },
            None => GroupResource {
                group: String::new(),
                resource: s.into(),
            },
        }
    }

    fn shown(&self) -> String {
        match (self.group.as_str(), self.resource.as_str()) {
            ("", "*") => "*.".into(),
            ("", r) => r.into(),
            (g, r) => format!("{r}.{g}"),
        }
    }
}

/// One key of a local provider, with the whole prefix its values start with.
struct Named<C> {
    name: String,
    prefix: Vec<u8>,
    cipher: C,
}

enum Provider {
    Aescbc(Vec<Named<Cbc>>),
    Aesgcm(Vec<Named<Gcm>>),
    Secretbox(Vec<Named<SecretBox>>),
    Identity,
    Kms {
        prefix: Vec<u8>,
        kms: Box<KmsProvider>,
    },
}

impl Provider {
    fn kind(&self) -> &'static str {
        match self {
            Provider::Aescbc(_) => "aescbc",
            Provider::Aesgcm(_) => "aesgcm",
            Provider::Secretbox(_) => "secretbox",
            Provider::Identity => "identity",
            Provider::Kms { .. } => "kms",
        }
    }
}

/// Why a stored value was not decrypted. Its text names the provider and the key (the KMS
/// provider's name for `kms`), never key material; the caller adds the etcd key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecryptError {
    /// As the value's prefix says: `aescbc`, `aesgcm`, `secretbox`, `kms`, ...
    pub provider: String,
    /// `v1`, `v2`.
    pub version: String,
    /// The key's name, or the KMS provider's.
    pub key_name: String,
    /// What failed; the same text for every value that fails the same way.
    pub reason: String,
}

impl fmt::Display for DecryptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.provider == "kms" {
            write!(
                f,
                "cannot decrypt: kms {} provider {:?}: {}",
                self.version, self.key_name, self.reason
            )
        } else {
            write!(
                f,
                "cannot decrypt: {} key {:?}: {}",
                self.provider, self.key_name, self.reason
            )
        }
    }
}

impl std::error::Error for DecryptError {}

/// Reads values encrypted at rest with the keys and plugins of one EncryptionConfiguration.
/// Shared by every thread that decodes.
pub struct Decryptor {
    /// Where the config came from, for messages.
    source: String,
    /// Every provider of the file, in order.
    providers: Vec<Provider>,
    /// Each resource the file names and its providers (indices into `providers`), in the
    /// order the apiserver tries them.
    rules: Vec<(GroupResource, Vec<usize>)>,
    /// The apiserver's etcd prefix, to find a key's resource.
    prefix: String,
}

/// The environment variable that names a config when `--encryption-provider-config` is
/// not given.
pub const CONFIG_ENV: &str = "RESHIFT_ENCRYPTION_CONFIG";

const MASKED: &str = "is masked by the earlier rule";

impl Decryptor {
    /// Reads and checks the config file as the apiserver does when it starts. KMS plugins
    /// are not contacted until a KMS value is read.
    pub fn from_config_file(path: &Path) -> Result<Decryptor, String> {
        let shown = path.display().to_string();
        let text = std::fs::read(path).map_err(|e| format!("encryption config {shown}: {e}"))?;
        Self::from_config(&text, &shown)
    }

    /// Parses a config's text; `source` names it in errors.
    pub fn from_config(text: &[u8], source: &str) -> Result<Decryptor, String> {
        let fail =
            |what: String| format!("encryption config {source}: {}", what.replace('\n', " "));
        if text.iter().all(u8::is_ascii_whitespace) {
            return Err(fail("the file is empty".into()));
        }
        let file: File = serde_norway::from_slice(text).map_err(|e| fail(e.to_string()))?;
        match (file.api_version.as_str(), file.kind.as_str()) {
            ("apiserver.config.k8s.io/v1", "EncryptionConfiguration")
            | ("v1", "EncryptionConfig") => {}
            (v, k) => {
                return Err(fail(format!(
                    "apiVersion {v:?} kind {k:?} is not an encryption configuration (apiserver.config.k8s.io/v1 EncryptionConfiguration)"
                )));
            }
        }
        if file.resources.is_empty() {
            return Err(fail(
                "resources: at least one resources entry is required".into(),
            ));
        }
        let mut d = Decryptor {
            source: source.to_string(),
            providers: Vec::new(),
            rules: Vec::new(),
            prefix: super::DEFAULT_PREFIX.to_string(),
        };
        let mut kms_names: Vec<String> = Vec::new();
        for (i, rc) in file.resources.iter().enumerate() {
            let at = format!("resources[{i}]");
            if rc.resources.is_empty() {
                return Err(fail(format!(
                    "{at}.resources: at least one resource is required"
                )));
            }
            if rc.providers.is_empty() {
                return Err(fail(format!(
                    "{at}.providers: at least one provider is required"
                )));
            }
            let mut idx = Vec::new();
            for (j, p) in rc.providers.iter().enumerate() {
                let at = format!("{at}.providers[{j}]");
                let provider = build_provider(p, &at, &mut kms_names).map_err(fail)?;
                idx.push(d.providers.len());
                d.providers.push(provider);
            }
            for (j, r) in rc.resources.iter().enumerate() {
                let at = format!("{at}.resources[{j}]");
                if r == "*" {
                    return Err(fail(format!(
                        "{at}: use '*.' for every resource of the core group or '*.*' for every resource"
                    )));
                }
                if r.chars().any(|c| c.is_ascii_uppercase()) {
                    return Err(fail(format!("{at}: {r:?}: resource names are lower case")));
                }
                let gr = GroupResource::parse(r);
                let any_in_group = GroupResource {
                    group: gr.group.clone(),
                    resource: "*".into(),
                };
                let any = GroupResource {
                    group: "*".into(),
                    resource: "*".into(),
                };
                for m in [any_in_group, any] {
                    if d.rules.iter().any(|(g, _)| *g == m) {
                        return Err(fail(format!("{at}: {r:?} {MASKED} {:?}", m.shown())));
                    }
                }
                match d.rules.iter_mut().find(|(g, _)| *g == gr) {
                    Some((_, list)) => list.extend(&idx),
                    None => d.rules.push((gr, idx.clone())),
                }
            }
        }
        Ok(d)
    }

    /// The apiserver's etcd prefix (`--etcd-prefix`), to tell a key's resource.
    pub fn with_prefix(mut self, prefix: &str) -> Decryptor {
        self.prefix = prefix.to_string();
        self
    }

    /// Where the config came from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether any provider is KMS (reading such values calls a plugin).
    pub fn uses_kms(&self) -> bool {
        self.providers
            .iter()
            .any(|p| matches!(p, Provider::Kms { .. }))
    }

    /// The providers the apiserver reads `etcd_key`'s values with, in order; `None` when
    /// no rule names its resource.
    fn rule_for(&self, etcd_key: &[u8]) -> Option<(&GroupResource, &[usize])> {
        let k = std::str::from_utf8(etcd_key)
            .ok()
            .and_then(|k| super::key::parse_key(k, &self.prefix))?;
        let find = |g: &str, r: &str| {
            self.rules
                .iter()
                .find(|(gr, _)| gr.group == g && gr.resource == r)
                .map(|(gr, l)| (gr, l.as_slice()))
        };
        find(k.group, k.resource)
            .or_else(|| find(k.group, "*"))
            .or_else(|| find("*", "*"))
    }

    /// The value as the apiserver stored it before encrypting: borrowed when it is not
    /// encrypted (`k8s:enc:`), decrypted otherwise. `etcd_key` is the value's whole key:
    /// AES-GCM and KMS bind it to the ciphertext, and it names the resource whose rule
    /// applies.
    pub fn decrypt<'v>(
        &self,
        etcd_key: &[u8],
        value: &'v [u8],
    ) -> Result<Cow<'v, [u8]>, DecryptError> {
        if !value.starts_with(ENCRYPTED_PREFIX) {
            return Ok(Cow::Borrowed(value));
        }
        let rule = self.rule_for(etcd_key);
        let all: Vec<usize>;
        let order: &[usize] = match rule {
            Some((_, l)) => l,
            None => {
                all = (0..self.providers.len()).collect();
                &all
            }
        };
        let mut reasons: Vec<String> = Vec::new();
        let mut note = |r: String| {
            if !reasons.contains(&r) {
                reasons.push(r);
            }
        };
        let mut tried = 0usize;
        for &i in order {
            macro_rules! keys {
                ($keys:expr, $open:expr) => {
                    for k in $keys {
                        if let Some(data) = value.strip_prefix(k.prefix.as_slice()) {
                            tried += 1;
                            match $open(&k.cipher, data) {
                                Ok(p) => return Ok(Cow::Owned(p)),
                                Err(e) => note(e.to_string()),
                            }
                        }
                    }
                };
            }
            match &self.providers[i] {
                Provider::Identity => {}
                Provider::Aescbc(keys) => keys!(keys, |c: &Cbc, d| c.open(d)),
                Provider::Aesgcm(keys) => keys!(keys, |c: &Gcm, d| c.open(d, etcd_key)),
                Provider::Secretbox(keys) => keys!(keys, |c: &SecretBox, d| c.open(d)),
                Provider::Kms { prefix, kms } => {
                    if let Some(body) = value.strip_prefix(prefix.as_slice()) {
                        tried += 1;
                        match kms.open(body, etcd_key) {
                            Ok(p) => return Ok(Cow::Owned(p)),
                            Err(e) => note(e),
                        }
                    }
                }
            }
        }
        let (provider, version, key_name) = match classify(value) {
            Ok(StoredValue::Encrypted(e)) => (
                e.provider.to_string(),
                e.version.to_string(),
                e.key_name.to_string(),
            ),
            _ => Default::default(),
        };
        let reason = if tried == 0 {
            let what = if provider == "kms" {
                format!("no kms {version} provider named {key_name:?}")
            } else if matches!(provider.as_str(), "aescbc" | "aesgcm" | "secretbox") {
                format!("no {provider} key named {key_name:?}")
            } else {
                format!("no provider {provider:?} {version}")
            };
            match rule {
                Some((gr, _)) => {
                    format!("{what} in the rule for {} of {}", gr.shown(), self.source)
                }
                None => format!("{what} in {}", self.source),
            }
        } else if tried == 1 || reasons.len() == 1 {
            let mut r = reasons.join("");
            if tried > 1 {
                r.push_str(&format!(" (each of {tried} keys of that name)"));
            }
            r
        } else {
            format!(
                "each of {tried} keys of that name failed: {}",
                reasons.join("; ")
            )
        };
        Err(DecryptError {
            provider,
            version,
            key_name,
            reason,
        })
    }

    /// Encrypts `plain` as the apiserver writes it under `etcd_key`: with the first
    /// provider of the key's rule and its first key, IV or nonce from `random`. For tests
    /// and benches — reshift's commands never encrypt. KMS providers need their plugin's
    /// `Encrypt` and are not written here.
    pub fn encrypt(
        &self,
        etcd_key: &[u8],
        plain: &[u8],
        random: &mut dyn FnMut(&mut [u8]),
    ) -> Result<Vec<u8>, String> {
        let first = match self.rule_for(etcd_key) {
            Some((_, l)) => l.first().copied(),
            None => None,
        };
        let Some(p) = first.map(|i| &self.providers[i]) else {
            return Ok(plain.to_vec());
        };
        let with = |prefix: &[u8], body: Vec<u8>| {
            let mut v = prefix.to_vec();
            v.extend_from_slice(&body);
            v
        };
        Ok(match p {
            Provider::Identity => plain.to_vec(),
            Provider::Aescbc(k) => {
                let mut iv = [0u8; 16];
                random(&mut iv);
                with(&k[0].prefix, k[0].cipher.seal(&iv, plain))
            }
            Provider::Aesgcm(k) => {
                let mut n = [0u8; 12];
                random(&mut n);
                with(&k[0].prefix, k[0].cipher.seal(&n, plain, etcd_key))
            }
            Provider::Secretbox(k) => {
                let mut n = [0u8; 24];
                random(&mut n);
                with(&k[0].prefix, k[0].cipher.seal(&n, plain))
            }
            Provider::Kms { .. } => {
                return Err("writing KMS values needs the plugin's Encrypt".into());
            }
        })
    }

    /// One line per provider: kind, key names, KMS endpoints — never secrets.
    pub fn summary(&self) -> Vec<String> {
        self.providers
            .iter()
            .map(|p| match p {
                Provider::Aescbc(k) => names(p.kind(), k),
                Provider::Aesgcm(k) => names(p.kind(), k),
                Provider::Secretbox(k) => names(p.kind(), k),
                Provider::Identity => "identity".into(),
                Provider::Kms { kms, .. } => format!(
                    "kms {} {:?} at {}",
                    match kms.api {
                        Api::V1 => "v1",
                        Api::V2 => "v2",
                    },
                    kms.name,
                    kms.endpoint
                ),
            })
            .collect()
    }
}

/// How the live values encrypted with one provider and key fared.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tally {
    pub values: u64,
    pub decrypted: u64,
    pub failed: u64,
    /// Why the failed ones did not decrypt, with how many each.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub reasons: std::collections::BTreeMap<String, u64>,
}

impl Decryptor {
    /// Decrypts every encrypted value of `kvs` (key, value) on all cores and counts the
    /// results per `provider:version:key name`.
    pub fn tally(&self, kvs: &[(&[u8], &[u8])]) -> std::collections::BTreeMap<String, Tally> {
        use rayon::prelude::*;
        type Map = std::collections::BTreeMap<String, Tally>;
        kvs.par_iter()
            .filter(|(_, v)| v.starts_with(ENCRYPTED_PREFIX))
            .fold(Map::new, |mut m, (k, v)| {
                let name = match classify(v) {
                    Ok(StoredValue::Encrypted(e)) => {
                        format!("{}:{}:{}", e.provider, e.version, e.key_name)
                    }
                    _ => String::new(),
                };
                let t = m.entry(name).or_default();
                t.values += 1;
                match self.decrypt(k, v) {
                    Ok(_) => t.decrypted += 1,
                    Err(e) => {
                        t.failed += 1;
                        *t.reasons.entry(e.reason).or_default() += 1;
                    }
                }
                m
            })
            .reduce(Map::new, |mut a, b| {
                for (k, t) in b {
                    let x = a.entry(k).or_default();
                    x.values += t.values;
                    x.decrypted += t.decrypted;
                    x.failed += t.failed;
                    for (r, n) in t.reasons {
                        *x.reasons.entry(r).or_default() += n;
                    }
                }
                a
            })
    }

    /// An encoded mvccpb.KeyValue whose value is encrypted, encoded again with the value
    /// decrypted; `None` when the value is not encrypted (or the record does not decode).
    pub fn decrypt_kv(&self, kv: &[u8]) -> Option<Result<Vec<u8>, DecryptError>> {
        let r = crate::etcd::KeyValueRef::decode(kv).ok()?;
        if !r.value.starts_with(ENCRYPTED_PREFIX) {
            return None;
        }
        Some(
            self.decrypt(r.key, r.value)
                .map(|plain| crate::etcd::KeyValueRef { value: &plain, ..r }.encode()),
        )
    }
}

fn names<C>(kind: &str, keys: &[Named<C>]) -> String {
    let n: Vec<String> = keys.iter().map(|k| format!("{:?}", k.name)).collect();
    format!("{kind} keys {}", n.join(", "))
}

/// A provider from its entry; `at` places it in the file.
fn build_provider(
    p: &ProviderConfig,
    at: &str,
    kms_names: &mut Vec<String>,
) -> Result<Provider, String> {
    let set = [
        p.aesgcm.is_some(),
        p.aescbc.is_some(),
        p.secretbox.is_some(),
        p.identity.is_some(),
        p.kms.is_some(),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if set == 0 {
        return Err(format!(
            "{at}: none of the providers aescbc, aesgcm, secretbox, identity, kms"
        ));
    }
    if set > 1 {
        return Err(format!(
            "{at}: more than one provider in one element; give each its own list entry"
        ));
    }
    if let Some(k) = &p.aescbc {
        return keys(
            k,
            &format!("{at}.aescbc"),
            "aescbc",
            &[16, 24, 32],
            Cbc::new,
        )
        .map(Provider::Aescbc);
    }
    if let Some(k) = &p.aesgcm {
        return keys(
            k,
            &format!("{at}.aesgcm"),
            "aesgcm",
            &[16, 24, 32],
            Gcm::new,
        )
        .map(Provider::Aesgcm);
    }
    if let Some(k) = &p.secretbox {
        return keys(
            k,
            &format!("{at}.secretbox"),
            "secretbox",
            &[32],
            SecretBox::new,
        )
        .map(Provider::Secretbox);
    }
    if p.identity.is_some() {
        return Ok(Provider::Identity);
    }
    let Some(k) = &p.kms else {
        return Err(format!("{at}: no provider"));
    };
    let at = format!("{at}.kms");
    if k.name.is_empty() {
        return Err(format!("{at}.name: required"));
    }
    if k.name.contains(':') {
        return Err(format!("{at}.name: {:?} must not contain ':'", k.name));
    }
    if kms_names.contains(&k.name) {
        return Err(format!(
            "{at}.name: duplicate KMS provider name {:?}",
            k.name
        ));
    }
    kms_names.push(k.name.clone());
    let api = match k.api_version.as_str() {
        "" | "v1" => Api::V1,
        "v2" => Api::V2,
        v => {
            return Err(format!(
                "{at}.apiVersion: {v:?} (only v1 and v2 are supported)"
            ));
        }
    };
    match (api, k.cachesize) {
        (Api::V2, Some(_)) => return Err(format!("{at}.cachesize: not supported in v2")),
        (Api::V1, Some(0)) => {
            return Err(format!(
                "{at}.cachesize: should be a positive value, or negative to disable"
            ));
        }
        _ => {}
    }
    let timeout = match &k.timeout {
        None => Duration::from_secs(3),
        Some(t) => match super::render_json::parse_duration(t) {
            Some(ns) if ns > 0 => Duration::from_nanos(ns as u64),
            _ => return Err(format!("{at}.timeout: {t:?} is not a positive duration")),
        },
    };
    let kms = KmsProvider::new(&k.name, api, &k.endpoint, timeout)
        .map_err(|e| format!("{at}.endpoint: {e}"))?;
    let prefix = format!(
        "k8s:enc:kms:{}:{}:",
        if api == Api::V1 { "v1" } else { "v2" },
        k.name
    )
    .into_bytes();
    Ok(Provider::Kms {
        prefix,
        kms: Box::new(kms),
    })
}

fn keys<C>(
    k: &KeysConfig,
    at: &str,
    kind: &str,
    sizes: &[usize],
    make: impl Fn(&[u8]) -> Option<C>,
) -> Result<Vec<Named<C>>, String> {
    use base64::Engine as _;
    if k.keys.is_empty() {
        return Err(format!("{at}.keys: at least one key is required"));
    }
    let mut out = Vec::with_capacity(k.keys.len());
    for (i, key) in k.keys.iter().enumerate() {
        let at = format!("{at}.keys[{i}]");
        if key.name.is_empty() {
            return Err(format!("{at}.name: required"));
        }
        if key.secret.is_empty() {
            return Err(format!("{at}.secret: required (key {:?})", key.name));
        }
        let mut secret = base64::engine::general_purpose::STANDARD
            .decode(key.secret.trim_end_matches(['\r', '\n']))
            .map_err(|_| {
                format!(
                    "{at}.secret: key {:?}: secrets must be base64 encoded",
                    key.name
                )
            })?;
        if !sizes.contains(&secret.len()) {
            let n = secret.len();
            secret.fill(0);
            return Err(format!(
                "{at}.secret: key {:?} is {n} bytes; {kind} takes {sizes:?}",
                key.name
            ));
        }
        let cipher = make(&secret);
        secret.fill(0);
        out.push(Named {
            prefix: format!("k8s:enc:{kind}:v1:{}:", key.name).into_bytes(),
            name: key.name.clone(),
            cipher: cipher.ok_or_else(|| format!("{at}.secret: key {:?} is unusable", key.name))?,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "W2FpOn+Am1qTmaFyt7jTksvR2arv8AvKAwkR4icoQwI=";
    const K2: &str = "W2FpOn+Am1uTmaFyt7jTk8vR2arv8AvLAwkR4icoQwM=";

    fn config(body: &str) -> Result<Decryptor, String> {
        Decryptor::from_config(
            format!(
                "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n{body}"
            )
            .as_bytes(),
            "test.yaml",
        )
    }

    fn counter() -> impl FnMut(&mut [u8]) {
        let mut n = 0u8;
        move |b: &mut [u8]| {
            for x in b {
                n = n.wrapping_add(37);
                *x = n;
            }
        }
    }

    #[test]
    fn rotation_tries_every_key_of_the_name_in_order() {
        let old = config(&format!(
            "resources:\n- resources: [secrets]\n  providers:\n  - aescbc:\n      keys:\n      - name: key1\n        secret: {K1}\n"
        ))
        .unwrap();
        let key = b"/registry/secrets/ns/a";
        let v = old.encrypt(key, b"k8s\x00plain", &mut counter()).unwrap();
        assert!(v.starts_with(b"k8s:enc:aescbc:v1:key1:"));
        // The new config writes with key2 and still reads key1's values.
        let new = config(&format!(
            "resources:\n- resources: [secrets]\n  providers:\n  - aescbc:\n      keys:\n      - name: key2\n        secret: {K2}\n      - name: key1\n        secret: {K1}\n  - identity: {{}}\n"
        ))
        .unwrap();
        assert_eq!(&*new.decrypt(key, &v).unwrap(), b"k8s\x00plain");
        let v2 = new.encrypt(key, b"x", &mut counter()).unwrap();
        assert!(v2.starts_with(b"k8s:enc:aescbc:v1:key2:"));
        // Two providers with a key of the same name: the first fails, the second reads it.
        let both = config(&format!(
            "resources:\n- resources: [secrets]\n  providers:\n  - aescbc:\n      keys:\n      - name: key1\n        secret: {K2}\n  - aescbc:\n      keys:\n      - name: key1\n        secret: {K1}\n"
        ))
        .unwrap();
        assert_eq!(&*both.decrypt(key, &v).unwrap(), b"k8s\x00plain");
        // Unencrypted values pass through.
        assert!(matches!(
            new.decrypt(key, b"k8s\x00x").unwrap(),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn failures_name_the_provider_and_key() {
        let d = config(&format!(
            "resources:\n- resources: [secrets, '*.apps']\n  providers:\n  - aesgcm:\n      keys:\n      - name: g\n        secret: {K1}\n- resources: ['*.*']\n  providers:\n  - secretbox:\n      keys:\n      - name: s\n        secret: {K2}\n"
        ))
        .unwrap();
        let key = b"/registry/secrets/ns/a";
        let v = d.encrypt(key, b"data", &mut counter()).unwrap();
        assert!(v.starts_with(b"k8s:enc:aesgcm:v1:g:"));
        // Bound to its etcd key.
        let e = d.decrypt(b"/registry/secrets/ns/b", &v).unwrap_err();
        assert_eq!((e.provider.as_str(), e.key_name.as_str()), ("aesgcm", "g"));
        assert!(
            e.to_string()
                .starts_with("cannot decrypt: aesgcm key \"g\": authentication failed"),
            "{e}"
        );
        // Deployments match '*.apps'; configmaps fall to '*.*' (secretbox).
        let dv = d
            .encrypt(b"/registry/deployments/ns/d", b"x", &mut counter())
            .unwrap();
        assert!(dv.starts_with(b"k8s:enc:aesgcm:v1:g:"));
        let cv = d
            .encrypt(b"/registry/configmaps/ns/c", b"x", &mut counter())
            .unwrap();
        assert!(cv.starts_with(b"k8s:enc:secretbox:v1:s:"));
        assert_eq!(
            &*d.decrypt(b"/registry/configmaps/ns/c", &cv).unwrap(),
            b"x"
        );
        // The secretbox value under a secrets key: that rule has no secretbox key.
        let e = d.decrypt(key, &cv).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot decrypt: secretbox key \"s\": no secretbox key named \"s\" in the rule for secrets of test.yaml"
        );
        let e = d.decrypt(key, b"k8s:enc:kms:v2:vault:xyz").unwrap_err();
        assert!(
            e.to_string()
                .contains("kms v2 provider \"vault\": no kms v2 provider named \"vault\""),
            "{e}"
        );
        // Tampered: one flipped bit.
        let mut t = v.clone();
        let n = t.len() - 1;
        t[n] ^= 1;
        assert!(
            d.decrypt(key, &t)
                .unwrap_err()
                .reason
                .starts_with("authentication failed")
        );
        // A key under no prefix is tried against every provider.
        assert_eq!(&*d.decrypt(b"/elsewhere/x", &cv).unwrap(), b"x");
    }

    #[test]
    fn configs_are_checked_and_secrets_never_shown() {
        let bad = |body: &str| config(body).err().unwrap();
        let e = bad(
            "resources:\n- resources: [secrets]\n  providers:\n  - aescbc:\n      keys:\n      - name: k\n        secret: c2VjcmV0\n",
        );
        assert!(
            e.contains("key \"k\" is 6 bytes") && !e.contains("c2VjcmV0"),
            "{e}"
        );
        let e = bad(
            "resources:\n- resources: [secrets]\n  providers:\n  - aescbc:\n      keys:\n      - name: k\n        secret: '!!notbase64!!'\n",
        );
        assert!(e.contains("base64") && !e.contains("notbase64"), "{e}");
        assert!(
            bad("resources:\n- resources: [secrets]\n  providers:\n  - aescbc: {keys: []}\n")
                .contains("at least one key")
        );
        assert!(bad("resources:\n- resources: [secrets]\n  providers:\n  - identity: {}\n    aescbc: {keys: []}\n").contains("more than one"));
        assert!(bad("resources:\n- resources: [secrets]\n  providers:\n  - identity: {}\n  - aesgcn: {}\n").contains("aesgcn"));
        assert!(bad("resources:\n- resources: ['*.*']\n  providers: [{identity: {}}]\n- resources: [secrets]\n  providers: [{identity: {}}]\n").contains(MASKED));
        assert!(bad("resources:\n- resources: [secrets]\n  providers:\n  - kms: {name: 'a:b', endpoint: 'unix:///x'}\n").contains("':'"));
        assert!(bad("resources:\n- resources: [secrets]\n  providers:\n  - kms: {apiVersion: v2, name: a, endpoint: 'tcp://x:1'}\n").contains("unix"));
        assert!(bad("resources:\n- resources: [secrets]\n  providers:\n  - kms: {apiVersion: v2, name: a, cachesize: 10, endpoint: 'unix:///x'}\n").contains("cachesize"));
        assert!(bad("resources: []\n").contains("at least one"));
        let e = Decryptor::from_config(b"apiVersion: v1\nkind: ConfigMap\n", "f")
            .err()
            .unwrap();
        assert!(e.contains("not an encryption configuration"), "{e}");
        // The legacy kind, JSON, KMS defaults.
        let d = Decryptor::from_config(
            br#"{"kind":"EncryptionConfig","apiVersion":"v1","resources":[{"resources":["secrets"],"providers":[{"kms":{"name":"p","endpoint":"unix:///tmp/p.sock","timeout":"1m30s"}},{"identity":{}}]}]}"#,
            "legacy.json",
        )
        .unwrap();
        assert!(d.uses_kms());
        assert_eq!(
            d.summary(),
            vec!["kms v1 \"p\" at unix:///tmp/p.sock", "identity"]
        );
    }
}
