//! Full scan of etcd's `key` bucket, decoding every KeyValue: the raw cursor walk, and the
//! parallel keyspace build. Input: `RESHIFT_BENCH_DB` (a db, data dir or snapshot file),
//! else the bundled testdata/clean. For a large input:
//!   python3 ../shared/tools/gen_etcd.py --out /tmp/big --objects 90000 --compact
//!   RESHIFT_BENCH_DB=/tmp/big cargo bench --bench bbolt_scan

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use reshift::etcd::{KeyValueRef, Keyspace};
use reshift::source::Source;
use std::path::PathBuf;

fn input() -> PathBuf {
    std::env::var_os("RESHIFT_BENCH_DB")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/clean"))
}

fn scan(c: &mut Criterion) {
    let src = Source::open(&input()).expect("bench input");
    let db = src.db().unwrap();
    let key = db.bucket(&[b"key"]).unwrap().expect("an etcd db");
    let mut g = c.benchmark_group("key_bucket_scan");
    g.throughput(Throughput::Bytes(src.db_len()));
    g.sample_size(20);
    g.bench_function("cursor_decode_sequential", |b| {
        b.iter(|| {
            let mut n = 0i64;
            for e in key.iter() {
                let kv = KeyValueRef::decode(e.unwrap().value).unwrap();
                n = n.wrapping_add(kv.mod_revision);
            }
            n
        })
    });
    g.bench_function("keyspace_build_parallel", |b| {
        b.iter(|| Keyspace::build(&db).unwrap().total_revisions())
    });
    g.finish();
}

criterion_group!(benches, scan);
criterion_main!(benches);
