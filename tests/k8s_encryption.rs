//! Values encrypted at rest, read with an EncryptionConfiguration: values this test writes
//! with reshift's own implementation of every provider (aescbc, aesgcm, secretbox,
//! identity, KMS v2 with and without the KDF, KMS v1), KMS DEKs wrapped and unwrapped by the
//! test plugin over a real unix socket; the plaintexts are Secrets the real apiserver
//! codecs stored in `../shared/k8s-served-dev` (its aescbc/aesgcm/secretbox values are
//! decrypted first), so each decrypted value must be served byte for byte as the set says.
//! Rotated keys, wrong keys, tampered values, unknown key names and a plugin that is down
//! are each a one-line error naming the key, provider and key name.

mod common;
#[path = "common/kms_plugin.rs"]
mod kms_plugin;

use common::{reshift, run};
use reshift::k8s::cipher::{Cbc, Gcm, SecretBox, kdf_seal};
use reshift::k8s::encryption::Decryptor;
use reshift::k8s::kms::{EncryptedObject, SOURCE_AES_GCM_KEY, SOURCE_HKDF_SEED, join_v1};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn dev() -> &'static Path {
    common::served_dev()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn ok(args: &[&str]) -> String {
    let o = reshift().args(args).output().unwrap();
    assert!(
        o.status.success(),
        "reshift {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// Deterministic "random" bytes: sha256 of a counter.
struct Bytes(u64);

impl Bytes {
    fn fill(&mut self, b: &mut [u8]) {
        use sha2::{Digest, Sha256};
        for chunk in b.chunks_mut(32) {
            self.0 += 1;
            let h = Sha256::digest(self.0.to_le_bytes());
            chunk.copy_from_slice(&h[..chunk.len()]);
        }
    }
    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut a = [0u8; N];
        self.fill(&mut a);
        a
    }
}

/// A Secret of the served-dev set: its stored plaintext (decrypted with the set's own
/// config where the apiserver encrypted it) and what the apiserver serves without the
/// resourceVersion.
struct Plain {
    name: String,
    value: Vec<u8>,
    compact: String,
}

fn plaintexts() -> Vec<Plain> {
    let dir = dev();
    let set_config = Decryptor::from_config_file(&dir.join("encryption-config.yaml")).unwrap();
    let src = reshift::source::Source::open(&dir.join("data")).unwrap();
    let db = src.db().unwrap();
    let ks = reshift::etcd::Keyspace::build(&db).unwrap();
    let mut out = Vec::new();
    for l in std::fs::read_to_string(dir.join("expected.jsonl"))
        .unwrap()
        .lines()
    {
        let r: serde_json::Value = serde_json::from_str(l).unwrap();
        if !r["set"].as_str().unwrap_or("").starts_with("enc-") {
            continue;
        }
        let key = r["key"].as_str().unwrap();
        let rec = ks.get(key.as_bytes(), None).unwrap().unwrap();
        let kv = rec.kv();
        let value = set_config.decrypt(kv.key, kv.value).unwrap().into_owned();
        assert!(value.starts_with(b"k8s\x00"), "{key}");
        out.push(Plain {
            name: key.rsplit('/').next().unwrap().to_string(),
            value,
            compact: r["compact"].as_str().unwrap().to_string(),
        });
    }
    assert_eq!(out.len(), 20, "the set's enc-* Secrets");
    out
}

/// Writes a db file holding `entries` (key, value) at revisions 2, 3, ...
fn write_db(path: &Path, entries: &[(String, Vec<u8>)]) {
    let puts: Vec<(Vec<u8>, Vec<u8>)> = entries
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.clone()))
        .collect();
    reshift::restore::db::write_puts_db(path, &puts).unwrap();
}

fn b64(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// The keys of the test's config.
struct Keys {
    cbc_old: [u8; 32],
    cbc_new: [u8; 32],
    gcm: [u8; 16],
    sbox: [u8; 32],
}

fn keys() -> Keys {
    let mut r = Bytes(1000);
    Keys {
        cbc_old: r.array(),
        cbc_new: r.array(),
        gcm: r.array(),
        sbox: r.array(),
    }
}

/// The config: rotated aescbc keys (the new one first, then an entry whose key shares the
/// old key's name but not its secret, then the old key), aesgcm with an AES-128 key,
/// secretbox, KMS v2 and v1 through the plugin at `socket`, identity.
fn config(dir: &Path, k: &Keys, gcm_secret: &[u8], socket: &Path) -> PathBuf {
    let text = format!(
        "apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - aescbc:
          keys:
            - name: new
              secret: {new}
      - aescbc:
          keys:
            - name: old
              secret: {wrong}
      - aescbc:
          keys:
            - name: old
              secret: {old}
      - aesgcm:
          keys:
            - name: g
              secret: {gcm}
      - secretbox:
          keys:
            - name: s
              secret: {sbox}
      - kms:
          apiVersion: v2
          name: kms2
          endpoint: unix://{sock}
          timeout: 5s
      - kms:
          name: kms1
          endpoint: unix://{sock}
          cachesize: 10
      - identity: {{}}
",
        new = b64(&k.cbc_new),
        wrong = b64(&[7u8; 32]),
        old = b64(&k.cbc_old),
        gcm = b64(gcm_secret),
        sbox = b64(&k.sbox),
        sock = socket.display(),
    );
    let p = dir.join(format!(
        "config-{}.yaml",
        b64(gcm_secret).len() + gcm_secret[0] as usize
    ));
    std::fs::write(&p, text).unwrap();
    p
}

const VARIANTS: [&str; 10] = [
    "aescbc-old",
    "aescbc-new",
    "aesgcm",
    "secretbox",
    "kmsv2-kdf",
    "kmsv2-kdf2",
    "kmsv2-key",
    "kmsv1-gcm",
    "kmsv1-cbc",
    "identity",
];

/// Every plaintext in every variant, each under its own key: (key, value, served JSON).
fn own_values(plugin: &kms_plugin::Plugin, k: &Keys) -> Vec<(String, Vec<u8>, String)> {
    let mut r = Bytes(1);
    // One DEK (or seed) per KMS variant, as the apiserver reuses one until it rotates.
    let seeds: [[u8; 32]; 2] = [r.array(), r.array()];
    let dek_v2: [u8; 32] = r.array();
    let dek_v1: [u8; 32] = r.array();
    let dek_v1_cbc: [u8; 16] = r.array();
    let wrapped_seeds = [plugin.wrap(&seeds[0]), plugin.wrap(&seeds[1])];
    let wrapped_v2 = plugin.wrap(&dek_v2);
    let wrapped_v1 = plugin.wrap(&dek_v1);
    let wrapped_v1_cbc = plugin.wrap(&dek_v1_cbc);
    let annotations: std::collections::BTreeMap<String, Vec<u8>> =
        [(kms_plugin::ANNOTATION.to_string(), b"1".to_vec())].into();
    let v2 = |data: Vec<u8>, source: &[u8], ty: i32| {
        let mut v = b"k8s:enc:kms:v2:kms2:".to_vec();
        v.extend(
            EncryptedObject {
                encrypted_data: data,
                key_id: plugin.key_id().to_string(),
                encrypted_dek_source: source.to_vec(),
                annotations: annotations.clone(),
                encrypted_dek_source_type: ty,
            }
            .encode(),
        );
        v
    };
    let with = |prefix: &str, body: Vec<u8>| {
        let mut v = prefix.as_bytes().to_vec();
        v.extend(body);
        v
    };
    let mut out = Vec::new();
    for p in plaintexts() {
        for variant in VARIANTS {
            let key = format!("/registry/secrets/own/{variant}-{}", p.name);
            let aad = key.as_bytes();
            let pt = &p.value;
            let v = match variant {
                "aescbc-old" => with(
                    "k8s:enc:aescbc:v1:old:",
                    Cbc::new(&k.cbc_old).unwrap().seal(&r.array(), pt),
                ),
                "aescbc-new" => with(
                    "k8s:enc:aescbc:v1:new:",
                    Cbc::new(&k.cbc_new).unwrap().seal(&r.array(), pt),
                ),
                "aesgcm" => with(
                    "k8s:enc:aesgcm:v1:g:",
                    Gcm::new(&k.gcm).unwrap().seal(&r.array(), pt, aad),
                ),
                "secretbox" => with(
                    "k8s:enc:secretbox:v1:s:",
                    SecretBox::new(&k.sbox).unwrap().seal(&r.array(), pt),
                ),
                "kmsv2-kdf" | "kmsv2-kdf2" => {
                    let i = usize::from(variant.ends_with('2'));
                    let data = kdf_seal(&seeds[i], &r.array(), &r.array(), pt, aad).unwrap();
                    v2(data, &wrapped_seeds[i], SOURCE_HKDF_SEED)
                }
                "kmsv2-key" => v2(
                    Gcm::new(&dek_v2).unwrap().seal(&r.array(), pt, aad),
                    &wrapped_v2,
                    SOURCE_AES_GCM_KEY,
                ),
                "kmsv1-gcm" => with(
                    "k8s:enc:kms:v1:kms1:",
                    join_v1(
                        &wrapped_v1,
                        &Gcm::new(&dek_v1).unwrap().seal(&r.array(), pt, aad),
                    ),
                ),
                "kmsv1-cbc" => with(
                    "k8s:enc:kms:v1:kms1:",
                    join_v1(
                        &wrapped_v1_cbc,
                        &Cbc::new(&dek_v1_cbc).unwrap().seal(&r.array(), pt),
                    ),
                ),
                "identity" => pt.clone(),
                _ => unreachable!(),
            };
            out.push((key, v, p.compact.clone()));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// `ls -o objects` lines by key.
fn objects(db: &Path, extra: &[&str]) -> HashMap<String, String> {
    let keys: Vec<String> = ok(&["ls", s(db), "-o", "json"])
        .split('\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["key"].as_str().unwrap().to_string()
        })
        .collect();
    let mut args = vec![
        "ls",
        s(db),
        "-o",
        "objects",
        "--kube-version",
        "1.36",
        "--as-stored",
    ];
    args.extend_from_slice(extra);
    let lines: Vec<String> = ok(&args).split('\n').map(str::to_string).collect();
    assert_eq!(lines.len(), keys.len() + 1);
    keys.into_iter().zip(lines).collect()
}

struct Setup {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    socket: PathBuf,
    keys: Keys,
    db: PathBuf,
    values: Vec<(String, Vec<u8>, String)>,
}

fn setup(plugin_socket: &str) -> (Setup, kms_plugin::Plugin) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let socket = dir.join(plugin_socket);
    let plugin = kms_plugin::Plugin::start(&socket, &[0x5a; 32], "test-kek-1", false);
    let keys = keys();
    let values = own_values(&plugin, &keys);
    let db = dir.join("db");
    write_db(
        &db,
        &values
            .iter()
            .map(|(k, v, _)| (k.clone(), v.clone()))
            .collect::<Vec<_>>(),
    );
    (
        Setup {
            _tmp: tmp,
            dir,
            socket,
            keys,
            db,
            values,
        },
        plugin,
    )
}

/// Every provider, keys rotated, KMS v2 with and without the KDF and KMS v1 through the
/// plugin: every value is served as the apiserver serves its plaintext, and the plugin is
/// asked once for each distinct DEK.
#[test]
fn every_provider_reads_its_values_byte_for_byte() {
    let (st, plugin) = setup("kms.sock");
    let cfg = config(&st.dir, &st.keys, &st.keys.gcm, &st.socket);
    let got = objects(&st.db, &["--encryption-provider-config", s(&cfg)]);
    let mut checked = HashMap::<&str, usize>::new();
    for (key, _, want) in &st.values {
        assert_eq!(got[key], *want, "{key}");
        let variant = VARIANTS
            .iter()
            .find(|v| key.contains(&format!("/{v}-")))
            .unwrap();
        *checked.entry(variant).or_default() += 1;
    }
    assert_eq!(checked.len(), VARIANTS.len());
    assert!(checked.values().all(|&n| n == 20), "{checked:?}");
    // What reshift asked the plugin: the version checks once, then one Decrypt per DEK
    // (two KDF seeds and one key for v2, two keys for v1) with the stored key id and
    // annotations, however many values share it.
    let log = plugin.log();
    let count = |p: &str| log.iter().filter(|l| l.starts_with(p)).count();
    assert_eq!(count("v2 Status"), 1, "{log:#?}");
    assert_eq!(count("v2 Decrypt"), 3, "{log:#?}");
    assert_eq!(count("v1beta1 Version"), 1, "{log:#?}");
    assert_eq!(count("v1beta1 Decrypt"), 2, "{log:#?}");
    assert!(
        log.iter()
            .filter(|l| l.starts_with("v2 Decrypt"))
            .all(|l| l.contains("key_id=\"test-kek-1\"") && l.contains(kms_plugin::ANNOTATION)),
        "{log:#?}"
    );
    assert!(!log.iter().any(|l| l.contains("Encrypt")), "{log:#?}");
    // Without the config the encrypted values are error records naming provider and key.
    let plain = objects(&st.db, &[]);
    let v: serde_json::Value =
        serde_json::from_str(&plain["/registry/secrets/own/aesgcm-aescbc-cbc-key1-0"]).unwrap();
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("aesgcm v1, key \"g\""),
        "{v}"
    );
}

/// A wrong key, an unknown key name, a value moved to another etcd key, tampered values:
/// each is one line naming the key, the provider and the key name; every other object is
/// still printed.
#[test]
fn what_does_not_decrypt_is_a_one_line_error() {
    let (st, _plugin) = setup("kms.sock");
    let find = |prefix: &str| {
        st.values
            .iter()
            .find(|(k, _, _)| k.starts_with(prefix))
            .unwrap()
            .clone()
    };
    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    let flip = |v: &[u8], at: usize| {
        let mut t = v.to_vec();
        t[at] ^= 0x01;
        t
    };
    let (gk, gv, _) = find("/registry/secrets/own/aesgcm-");
    let (sk, sv, _) = find("/registry/secrets/own/secretbox-");
    let (ck, cv, cwant) = find("/registry/secrets/own/aescbc-old-");
    let (kk, kv, _) = find("/registry/secrets/own/kmsv2-kdf-");
    // The last byte of the second-to-last block: flips the last padding byte.
    entries.push(("/registry/secrets/bad/cbc".into(), flip(&cv, cv.len() - 17)));
    entries.push(("/registry/secrets/bad/gcm".into(), flip(&gv, gv.len() - 3)));
    // Inside the EncryptedObject's data (its KDF info): the derived key differs.
    entries.push(("/registry/secrets/bad/kms".into(), flip(&kv, 20 + 50)));
    entries.push(("/registry/secrets/bad/moved".into(), gv.clone()));
    entries.push(("/registry/secrets/bad/sbox".into(), flip(&sv, 40)));
    let mut ghost = b"k8s:enc:aescbc:v1:ghost:".to_vec();
    ghost.extend_from_slice(&cv[b"k8s:enc:aescbc:v1:old:".len()..]);
    entries.push(("/registry/secrets/bad/unknown".into(), ghost));
    entries.push((ck.clone(), cv.clone()));
    entries.push((gk.clone(), gv.clone()));
    entries.push((kk.clone(), kv.clone()));
    entries.push((sk.clone(), sv.clone()));
    entries.sort();
    let db = st.dir.join("bad-db");
    write_db(&db, &entries);
    let cfg = config(&st.dir, &st.keys, &st.keys.gcm, &st.socket);
    let flag = ["--encryption-provider-config", s(&cfg)];
    let got = objects(&db, &flag);
    let err = |k: &str| -> String {
        let v: serde_json::Value = serde_json::from_str(&got[k]).unwrap();
        assert_eq!(v["key"], k);
        v["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{k}: {v}"))
            .to_string()
    };
    let e = err("/registry/secrets/bad/cbc");
    assert!(
        e.starts_with("cannot decrypt: aescbc key \"old\":") && e.contains("padding"),
        "{e}"
    );
    for k in ["gcm", "moved"] {
        let e = err(&format!("/registry/secrets/bad/{k}"));
        assert!(
            e.starts_with("cannot decrypt: aesgcm key \"g\": authentication failed"),
            "{e}"
        );
    }
    let e = err("/registry/secrets/bad/sbox");
    assert!(
        e.starts_with("cannot decrypt: secretbox key \"s\": authentication failed"),
        "{e}"
    );
    let e = err("/registry/secrets/bad/kms");
    assert!(
        e.starts_with(
            "cannot decrypt: kms v2 provider \"kms2\": data under the DEK: authentication failed"
        ),
        "{e}"
    );
    let e = err("/registry/secrets/bad/unknown");
    assert!(
        e.contains("aescbc key \"ghost\": no aescbc key named \"ghost\" in the rule for secrets"),
        "{e}"
    );
    assert_eq!(got[&ck], cwant);
    for k in [&gk, &kk, &sk] {
        assert!(!got[k].contains("\"error\""), "{k}");
    }
    // A wrong aesgcm secret: every aesgcm value fails, the rest are served.
    let wrong = config(&st.dir, &st.keys, &[0x33; 16], &st.socket);
    let got = objects(&db, &["--encryption-provider-config", s(&wrong)]);
    assert!(got[&gk].contains("aesgcm key \\\"g\\\": authentication failed"));
    assert_eq!(got[&ck], cwant);
    // `get` of one: exit 1, one line naming the key, provider and key name.
    let (code, _, stderr) = run(&[
        "get",
        s(&db),
        "/registry/secrets/bad/gcm",
        "-o",
        "json",
        "--encryption-provider-config",
        s(&cfg),
    ]);
    assert_eq!(code, 1);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("reshift: /registry/secrets/bad/gcm: cannot decrypt: aesgcm key \"g\""),
        "{stderr}"
    );
    // inspect counts each provider and key's values, and why some fail.
    let ins: serde_json::Value = serde_json::from_str(&ok(&[
        "inspect",
        s(&db),
        "-o",
        "json",
        "--encryption-provider-config",
        s(&cfg),
    ]))
    .unwrap();
    let d = &ins["decryption"];
    assert_eq!(d["aesgcm:v1:g"]["values"], 3, "{d}");
    assert_eq!(d["aesgcm:v1:g"]["decrypted"], 1, "{d}");
    assert_eq!(d["aesgcm:v1:g"]["failed"], 2, "{d}");
    assert_eq!(d["aescbc:v1:ghost"]["failed"], 1, "{d}");
    assert_eq!(d["aescbc:v1:old"]["decrypted"], 1, "{d}");
    assert_eq!(d["kms:v2:kms2"]["failed"], 1, "{d}");
    let table = ok(&["inspect", s(&db), "--encryption-provider-config", s(&cfg)]);
    assert!(
        table.contains("encrypted          3 values with aesgcm:v1:g: 1 decrypt, 2 fail"),
        "{table}"
    );
    // No key material in anything reshift printed.
    for secret in [b64(&st.keys.gcm), b64(&st.keys.cbc_old), b64(&st.keys.sbox)] {
        assert!(!table.contains(&secret) && !stderr.contains(&secret));
    }
}

/// A KMS plugin that is down: each KMS value is an error saying so (after one attempt to
/// connect), every other value is served.
#[test]
fn a_kms_plugin_that_is_down_is_a_clear_error() {
    let (st, plugin) = setup("kms.sock");
    drop(plugin);
    let cfg = config(&st.dir, &st.keys, &st.keys.gcm, &st.socket);
    let t0 = std::time::Instant::now();
    let got = objects(&st.db, &["--encryption-provider-config", s(&cfg)]);
    assert!(t0.elapsed().as_secs() < 30);
    let mut failed = 0;
    for (key, _, want) in &st.values {
        if key.contains("/kms") {
            let v: serde_json::Value = serde_json::from_str(&got[key]).unwrap();
            let e = v["error"].as_str().unwrap();
            assert!(
                e.starts_with("cannot decrypt: kms v")
                    && e.contains(&format!(
                        "KMS plugin at unix://{} is unreachable",
                        st.socket.display()
                    )),
                "{e}"
            );
            failed += 1;
        } else {
            assert_eq!(got[key], *want, "{key}");
        }
    }
    assert_eq!(failed, 5 * 20);
}

/// The served-dev set's own encrypted Secrets through `get -o yaml|json` with its config;
/// `decode` with the value's key; `dump --decrypt` and `snapshot --decrypt` only when asked,
/// the snapshot 0600 and without key material; the config from the environment.
#[test]
fn commands_decrypt_the_apiservers_values() {
    let dir = dev();
    let data = dir.join("data");
    let cfg = dir.join("encryption-config.yaml");
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(dir.join("expected.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &serde_json::Value| {
            r["set"].as_str().unwrap_or("").starts_with("enc-")
                && r["encoding"] != "encrypted:identity"
        })
        .collect();
    assert_eq!(rows.len(), 16);
    for r in &rows {
        let key = r["key"].as_str().unwrap();
        // YAML: the served JSON as kubectl prints it, or kubectl's refusal (control
        // characters in the hostile strings of most of these Secrets).
        let (code, y, err) = run(&[
            "get",
            s(&data),
            key,
            "-o",
            "yaml",
            "--kube-version",
            "1.36",
            "--encryption-provider-config",
            s(&cfg),
        ]);
        match reshift::k8s::yaml::json_to_yaml(r["served"].as_str().unwrap()) {
            Ok(want) => assert_eq!((code, String::from_utf8(y).unwrap()), (0, want), "{key}"),
            Err(e) => {
                assert_eq!(code, 1, "{key}");
                assert!(err.contains(&e.to_string()), "{key}: {err}");
            }
        }
        let j = ok(&[
            "get",
            s(&data),
            key,
            "-o",
            "json",
            "--as-stored",
            "--kube-version",
            "1.36",
            "--encryption-provider-config",
            s(&cfg),
        ]);
        assert_eq!(j, format!("{}\n", r["pretty"].as_str().unwrap()), "{key}");
    }
    // decode: the value alone, with the key it was stored under.
    let key = "/registry/secrets/enc/aesgcm-gcm-key1-1";
    let raw = reshift()
        .args(["get", s(&data), key])
        .output()
        .unwrap()
        .stdout;
    let tmp = tempfile::tempdir().unwrap();
    let vf = tmp.path().join("value.bin");
    std::fs::write(&vf, &raw).unwrap();
    let decoded: serde_json::Value = serde_json::from_str(&ok(&[
        "decode",
        s(&vf),
        "--key",
        key,
        "--kube-version",
        "1.36",
        "--encryption-provider-config",
        s(&cfg),
    ]))
    .unwrap();
    assert_eq!(decoded["metadata"]["name"], "aesgcm-gcm-key1-1");
    let (code, _, e) = run(&["decode", s(&vf), "--encryption-provider-config", s(&cfg)]);
    assert_eq!(code, 1);
    assert!(
        e.contains("aesgcm key \"gcm-key1\"") && e.contains("give --key"),
        "{e}"
    );
    // dump: stored bytes unless --decrypt.
    let line = |args: &[&str], env: bool| {
        let mut c = reshift();
        c.args(args);
        if env {
            c.env("RESHIFT_ENCRYPTION_CONFIG", &cfg);
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(v["value"].as_str().unwrap())
            .unwrap()
    };
    let stored = line(&["dump", s(&data), "--prefix", key], true);
    assert!(stored.starts_with(b"k8s:enc:aesgcm:v1:gcm-key1:"));
    let plain = line(&["dump", s(&data), "--prefix", key, "--decrypt"], true);
    assert!(plain.starts_with(b"k8s\x00"));
    // snapshot: stored unless --decrypt; 0600 either way; no key material.
    let snap = tmp.path().join("dec.rsnap");
    ok(&[
        "snapshot",
        s(&data),
        "-o",
        s(&snap),
        "--decrypt",
        "--encryption-provider-config",
        s(&cfg),
    ]);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&snap).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let bytes = std::fs::read(&snap).unwrap();
    let config_text = std::fs::read_to_string(&cfg).unwrap();
    for line in config_text.lines() {
        if let Some(secret) = line.trim().strip_prefix("secret: ") {
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
            use base64::Engine as _;
            let raw = base64::engine::general_purpose::STANDARD
                .decode(secret)
                .unwrap();
            assert!(!bytes.windows(raw.len()).any(|w| w == raw));
        }
    }
    let from_snap = reshift()
        .args(["get", s(&snap), key])
        .output()
        .unwrap()
        .stdout;
    assert_eq!(from_snap, plain);
    let kept = tmp.path().join("kept.rsnap");
    let o = reshift()
        .args(["snapshot", s(&data), "-o", s(&kept)])
        .env("RESHIFT_ENCRYPTION_CONFIG", &cfg)
        .output()
        .unwrap();
    assert!(o.status.success());
    let from_kept = reshift()
        .args(["get", s(&kept), key])
        .output()
        .unwrap()
        .stdout;
    assert_eq!(from_kept, raw);
    // ls takes the config from the environment.
    let o = reshift()
        .args(["ls", s(&data), "/registry/secrets/enc/", "-o", "objects"])
        .env("RESHIFT_ENCRYPTION_CONFIG", &cfg)
        .output()
        .unwrap();
    let text = String::from_utf8(o.stdout).unwrap();
    assert_eq!(text.lines().count(), 20);
    assert!(!text.contains("\"error\""), "{text}");
}
