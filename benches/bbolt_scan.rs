//! Full scan of etcd's `key` bucket, decoding every KeyValue: the raw cursor walk, and the
//! parallel keyspace build. Input: see `common` (a data dir a real etcd fills on first
//! run, or `RESHIFT_BENCH_DB`). For a large input:
//!   python3 ../shared/tools/gen_etcd.py --out /tmp/big --objects 90000 --compact
//!   RESHIFT_BENCH_DB=/tmp/big cargo bench --bench bbolt_scan

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use reshift::etcd::{KeyValueRef, Keyspace};
use reshift::source::Source;
use std::path::PathBuf;

fn input() -> PathBuf {
    common::data_dir(common::Kind::Clean)
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
