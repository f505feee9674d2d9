//! WAL reading (framing + CRC chain), decoding every entry's request, and replay onto the
//! db's keyspace. Input: see `common` (a killed member a real etcd leaves on first run, or
//! `RESHIFT_BENCH_DIR`). E.g.:
//!   python3 ../shared/tools/gen_etcd.py --out /tmp/kb --objects 20000 --kill --batch-interval 600
//!   RESHIFT_BENCH_DIR=/tmp/kb cargo bench --bench wal_decode

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use reshift::etcd::open::keyspace_and_wal;
use reshift::source::Source;
use reshift::wal::{Wal, decode_payload, read_log};
use std::path::PathBuf;

fn input() -> PathBuf {
    common::data_dir(common::Kind::Killed)
}

fn wal(c: &mut Criterion) {
    let dir = input();
    let wal = Wal::open(&dir.join("member/wal")).expect("a data dir with a WAL");
    let bytes: u64 = wal.segments.iter().map(|s| s.bytes.len() as u64).sum();
    let mut g = c.benchmark_group("wal");
    g.throughput(Throughput::Bytes(bytes));
    g.sample_size(20);
    g.bench_function("read_log", |b| b.iter(|| read_log(&wal).entries.len()));
    g.bench_function("read_log_and_decode_every_entry", |b| {
        b.iter(|| {
            let log = read_log(&wal);
            log.entries
                .iter()
                .filter(|e| {
                    matches!(
                        decode_payload(e.etype, &e.data),
                        reshift::wal::Payload::V3(_)
                    )
                })
                .count()
        })
    });
    let src = Source::open(&dir).unwrap();
    let db = src.db().unwrap();
    g.bench_function("keyspace_with_replay", |b| {
        b.iter(|| {
            let (base, w) = keyspace_and_wal(&src, &db, true).unwrap();
            let w = w.unwrap();
            base.with_replay(&w.replayed).total_revisions()
        })
    });
    g.finish();
}

criterion_group!(benches, wal);
criterion_main!(benches);
