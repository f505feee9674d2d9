//! What reading values encrypted at rest costs: `ls -o objects` (in process: open the db,
//! build the keyspace, describe every value, decode every value to the apiserver's JSON on
//! all cores, write it out) of a db of Secrets stored in protobuf as they are, and of the
//! same Secrets encrypted with aescbc and with aesgcm, read through a Decryptor. The
//! Secrets are generated here (metadata with labels, an annotation and a managedFields
//! entry; two to four data keys of 32 B to 3 KiB) and written to db files in a temp dir;
//! `RESHIFT_BENCH_SECRETS` sets how many (default 20000). Besides criterion's figures, it
//! prints the medians of alternating runs of the three and their ratios.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rayon::prelude::*;
use reshift::k8s::encryption::Decryptor;
use reshift::k8s::object::{decode_stored_json, pick_all_with};
use reshift::k8s::render::View;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    put_varint(out, u64::from(field << 3 | 2));
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn put_int(out: &mut Vec<u8>, field: u32, v: u64) {
    put_varint(out, u64::from(field << 3));
    put_varint(out, v);
}

fn entry(k: &[u8], v: &[u8]) -> Vec<u8> {
    let mut e = Vec::new();
    put_bytes(&mut e, 1, k);
    put_bytes(&mut e, 2, v);
    e
}

/// A pseudo-random byte stream (xorshift), so values differ and do not compress away.
struct Rand(u64);

impl Rand {
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                self.0 as u8
            })
            .collect()
    }
}

/// Secret number `i` as the apiserver stores it: the `k8s\0` envelope around a v1 Secret.
fn secret(i: usize, r: &mut Rand) -> (String, Vec<u8>) {
    let ns = format!("team-{}", i % 50);
    let name = format!("app-{i}-credentials");
    let mut time = Vec::new();
    put_int(&mut time, 1, 1_700_000_000 + i as u64);
    let mut fields_v1 = Vec::new();
    put_bytes(
        &mut fields_v1,
        1,
        br#"{"f:data":{".":{},"f:password":{},"f:username":{}},"f:metadata":{"f:labels":{".":{},"f:app":{},"f:tier":{}}},"f:type":{}}"#,
    );
    let mut mf = Vec::new();
    put_bytes(&mut mf, 1, b"kubectl-client-side-apply");
    put_bytes(&mut mf, 2, b"Update");
    put_bytes(&mut mf, 3, b"v1");
    put_bytes(&mut mf, 4, &time);
    put_bytes(&mut mf, 6, b"FieldsV1");
    put_bytes(&mut mf, 7, &fields_v1);
    let mut meta = Vec::new();
    put_bytes(&mut meta, 1, name.as_bytes());
    put_bytes(&mut meta, 3, ns.as_bytes());
    put_bytes(
        &mut meta,
        5,
        format!("5e1f0f0e-2222-4b4b-8c8c-{i:012}").as_bytes(),
    );
    put_bytes(&mut meta, 6, b"");
    put_bytes(&mut meta, 8, &time);
    put_bytes(&mut meta, 11, &entry(b"app", format!("app-{i}").as_bytes()));
    put_bytes(&mut meta, 11, &entry(b"tier", b"backend"));
    put_bytes(
        &mut meta,
        12,
        &entry(b"reshift.example.com/owner", b"platform-team@example.com"),
    );
    put_bytes(&mut meta, 17, &mf);
    let mut s = Vec::new();
    put_bytes(&mut s, 1, &meta);
    let sizes = [32, 256, 1024, 3072];
    for k in 0..2 + i % 3 {
        let v = r.bytes(sizes[(i + k) % sizes.len()]);
        put_bytes(&mut s, 2, &entry(format!("key-{k}").as_bytes(), &v));
    }
    put_bytes(&mut s, 3, b"Opaque");
    let mut tm = Vec::new();
    put_bytes(&mut tm, 1, b"v1");
    put_bytes(&mut tm, 2, b"Secret");
    let mut env = Vec::new();
    put_bytes(&mut env, 1, &tm);
    put_bytes(&mut env, 2, &s);
    put_bytes(&mut env, 3, b"");
    put_bytes(&mut env, 4, b"");
    let mut v = b"k8s\x00".to_vec();
    v.extend(env);
    (format!("/registry/secrets/{ns}/{name}"), v)
}

fn config(provider: &str) -> Decryptor {
    Decryptor::from_config(
        format!(
            "apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - {provider}:
          keys:
            - name: key1
              secret: W2FpOn+Am1qTmaFyt7jTksvR2arv8AvKAwkR4icoQwI=
      - identity: {{}}
"
        )
        .as_bytes(),
        "bench",
    )
    .unwrap()
}

/// Writes a db holding `kvs` at revisions 2, 3, ... into `path`.
fn write_db(path: &std::path::Path, kvs: &[(String, Vec<u8>)]) {
    let puts: Vec<(Vec<u8>, Vec<u8>)> = kvs
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.clone()))
        .collect();
    reshift::restore::db::write_puts_db(path, &puts).unwrap();
}

/// `reshift ls DB -o objects --encryption-provider-config F > /dev/null`, in process: open
/// the db, build its keyspace, describe every live value on all cores (to filter), decode
/// each to JSON on all cores in batches and write it out. Returns the bytes written.
fn ls_objects(db: &std::path::Path, dec: Option<&Decryptor>) -> usize {
    use std::io::Write;
    let src = reshift::source::Source::open(db).unwrap();
    let bolt = src.db().unwrap();
    let ks = reshift::etcd::Keyspace::build(&bolt).unwrap();
    let recs: Vec<_> = ks.state(b"", None).unwrap().collect();
    let kvs: Vec<(&[u8], &[u8])> = recs.iter().map(|r| (r.key, r.kv().value)).collect();
    let hits = pick_all_with(&kvs, "/registry", None, |i, o| {
        (o.resource == "secrets").then_some(i)
    });
    let mut out = std::io::sink();
    let mut n = 0;
    for batch in hits.chunks(2048) {
        let texts: Vec<String> = batch
            .par_iter()
            .map(|&i| {
                let kv = recs[i].kv();
                let view = View {
                    release: reshift::k8s::schema::Release::NEWEST,
                    resource_version: Some(kv.mod_revision),
                };
                decode_stored_json(kv.key, kv.value, &view, dec).unwrap() + "\n"
            })
            .collect();
        for t in texts {
            n += t.len();
            out.write_all(t.as_bytes()).unwrap();
        }
    }
    n
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn bench(c: &mut Criterion) {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let n: usize = std::env::var("RESHIFT_BENCH_SECRETS")
        .ok()
        .and_then(|v| v.parse().ok())
        // cargo test runs each bench once as a smoke test: a small set there.
        .unwrap_or(if bench_mode { 20_000 } else { 500 });
    let mut r = Rand(0x9e37_79b9_7f4a_7c15);
    let plain: Vec<(String, Vec<u8>)> = (0..n).map(|i| secret(i, &mut r)).collect();
    let mut iv = Rand(7);
    let mut random = |b: &mut [u8]| b.copy_from_slice(&iv.bytes(b.len()));
    let tmp = tempfile::tempdir().unwrap();
    let mut dbs = vec![("unencrypted", None, tmp.path().join("plain.db"))];
    write_db(&dbs[0].2, &plain);
    for provider in ["aescbc", "aesgcm"] {
        let d = config(provider);
        let values: Vec<(String, Vec<u8>)> = plain
            .iter()
            .map(|(k, v)| (k.clone(), d.encrypt(k.as_bytes(), v, &mut random).unwrap()))
            .collect();
        let path = tmp.path().join(format!("{provider}.db"));
        write_db(&path, &values);
        dbs.push((provider, Some(d), path));
    }
    // On one core: decrypting every value alone, against decoding every plaintext alone.
    if bench_mode {
        let view = View {
            release: reshift::k8s::schema::Release::NEWEST,
            resource_version: Some(42),
        };
        let t = std::time::Instant::now();
        let n_json: usize = plain
            .iter()
            .map(|(k, v)| decode_stored_json(k.as_bytes(), v, &view, None).map_or(0, |j| j.len()))
            .sum();
        let decode = t.elapsed().as_secs_f64();
        for (name, dec, _) in &dbs[1..] {
            let dec = dec.as_ref().unwrap();
            let mut iv = Rand(11);
            let mut random = |b: &mut [u8]| b.copy_from_slice(&iv.bytes(b.len()));
            let values: Vec<Vec<u8>> = plain
                .iter()
                .map(|(k, v)| dec.encrypt(k.as_bytes(), v, &mut random).unwrap())
                .collect();
            let t = std::time::Instant::now();
            let n: usize = plain
                .iter()
                .zip(&values)
                .map(|((k, _), v)| dec.decrypt(k.as_bytes(), v).map_or(0, |p| p.len()))
                .sum();
            let d = t.elapsed().as_secs_f64();
            eprintln!(
                "k8s_encryption: one core: {name} decryption {:.1} ms ({:.0} MiB/s) = {:.1}% of decoding ({:.1} ms, {n_json} bytes of JSON)",
                d * 1e3,
                n as f64 / d / 1048576.0,
                d / decode * 100.0,
                decode * 1e3
            );
        }
    }
    let bytes: usize = plain.iter().map(|(_, v)| v.len()).sum();
    let json = ls_objects(&dbs[0].2, None);
    eprintln!("k8s_encryption: {n} Secrets, {bytes} bytes of protobuf, {json} bytes of JSON out");
    for (name, dec, path) in &dbs[1..] {
        assert_eq!(ls_objects(path, dec.as_ref()), json, "{name} decodes alike");
    }
    // Alternating runs, so that the load of the machine weighs on each alike.
    if bench_mode {
        let mut times = vec![Vec::new(); dbs.len()];
        for _ in 0..15 {
            for (i, (_, dec, path)) in dbs.iter().enumerate() {
                let t = std::time::Instant::now();
                ls_objects(path, dec.as_ref());
                times[i].push(t.elapsed().as_secs_f64());
            }
        }
        let base = median(times[0].clone());
        for (i, (name, _, _)) in dbs.iter().enumerate() {
            let m = median(times[i].clone());
            eprintln!(
                "k8s_encryption: alternating runs: {name:<12} median {:.1} ms, {:.3}x unencrypted",
                m * 1e3,
                m / base
            );
        }
    }
    let mut g = c.benchmark_group("ls_objects_secrets");
    g.sample_size(20);
    g.throughput(Throughput::Elements(n as u64));
    for (name, dec, path) in &dbs {
        g.bench_function(*name, |b| b.iter(|| ls_objects(path, dec.as_ref())));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
