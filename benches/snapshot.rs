//! Snapshot write (MB/s of records in, on all cores and on two), read (all chunks to a
//! keyspace), one-key get, and restore (from the keyspace into memory, and from the record
//! heads into a file), and incremental snapshots (the changes after a revision read, then
//! written on a base).
//! Input: see `common` (a data dir a real etcd fills on first run, or `RESHIFT_BENCH_DIR`).

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use reshift::etcd::Keyspace;
use reshift::snapshot::{Facts, Options, Snapshot, extras, write_snapshot};
use reshift::source::Source;
use std::path::{Path, PathBuf};

fn bench(c: &mut Criterion) {
    let dir = common::data_dir(common::Kind::Clean);
    let src = Source::open(&dir).unwrap();
    let db = src.db().unwrap();
    let ks = Keyspace::build(&db).unwrap();
    let ex = extras::from_db(&db, &ks, &reshift::etcd::lease::read_leases(&db).unwrap()).unwrap();
    let raw: u64 = ks
        .state(b"", None)
        .unwrap()
        .map(|r| r.kv.len() as u64)
        .sum();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("b.rsnap");
    let opts = Options {
        level: 1,
        force: true,
        ..Default::default()
    };
    let facts = Facts {
        format_version: 1,
        mode: "latest".into(),
        revision: ks.revision,
        ..Default::default()
    };
    let mut g = c.benchmark_group("snapshot");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(raw));
    g.bench_function("write_latest", |b| {
        b.iter(|| write_snapshot(&out, &ks, &ex, &facts, &opts).unwrap().bytes)
    });
    // Two threads whatever the machine: the writer's windows are bounded by bytes per
    // thread, so this is the pipeline `compare.py` measures on a two-core machine.
    let two = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    g.bench_function("write_latest_two_threads", |b| {
        b.iter(|| two.install(|| write_snapshot(&out, &ks, &ex, &facts, &opts).unwrap().bytes))
    });
    let written = write_snapshot(&out, &ks, &ex, &facts, &opts).unwrap();
    eprintln!(
        "snapshot: {} bytes of records -> {} bytes ({:.3})",
        raw,
        written.bytes,
        written.bytes as f64 / raw as f64
    );
    let bytes = std::fs::read(&out).unwrap();
    let name: reshift::error::FileName = std::sync::Arc::from(out.as_path());
    g.bench_function("read_all_to_keyspace", |b| {
        b.iter(|| {
            let s = Snapshot::open(&bytes, &name).unwrap();
            let (flat, ranges) = s.all_chunks_flat().unwrap();
            let chunks: Vec<&[u8]> = ranges.into_iter().map(|r| &flat[r]).collect();
            reshift::snapshot::open::keyspace(&s, &chunks)
                .unwrap()
                .total_revisions()
        })
    });
    let key = ks
        .state(b"", None)
        .unwrap()
        .nth(ks.distinct_keys() / 2)
        .map(|r| r.key.to_vec())
        .unwrap();
    g.throughput(Throughput::Elements(1));
    g.bench_function("get_one_key", |b| {
        b.iter(|| {
            Snapshot::open(&bytes, &name)
                .unwrap()
                .get(&key, None)
                .unwrap()
                .is_some()
        })
    });
    // Restore: decode every chunk, order by revision, write the db (to memory, so the
    // figure is reshift's work, not the disk's).
    g.throughput(Throughput::Bytes(raw));
    g.bench_function("restore_db_in_memory", |b| {
        b.iter(|| {
            let s = Snapshot::open(&bytes, &name).unwrap();
            let (flat, ranges) = s.all_chunks_flat().unwrap();
            let chunks: Vec<&[u8]> = ranges.into_iter().map(|r| &flat[r]).collect();
            let ks = reshift::snapshot::open::keyspace(&s, &chunks).unwrap();
            let ex = s.extras().unwrap();
            reshift::restore::db::write_db(
                std::io::Cursor::new(Vec::with_capacity(raw as usize * 5 / 4)),
                &out,
                reshift::restore::db::Keys::Records(ks.records()),
                &ex,
            )
            .unwrap()
            .0
            .into_inner()
            .len()
        })
    });
    // Restore as the CLI does it: a member dir, its db laid out from the record heads, then
    // every chunk decoded straight into its place in the file (in /dev/shm where there is
    // one, so the figure is reshift's work and the page cache's, not the disk's).
    let dir = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let target = dir.join(format!("reshift-bench-restore-{}", std::process::id()));
    let cluster = reshift::restore::member::Cluster::new(
        "default",
        None,
        "http://localhost:2380",
        "etcd-cluster",
    )
    .unwrap();
    g.bench_function("restore_member_dir_placed", |b| {
        b.iter(|| {
            let s = Snapshot::open(&bytes, &name).unwrap();
            let placed = reshift::restore::placed::plan(&s, 0, false)
                .unwrap()
                .unwrap();
            let mut ex = s.extras().unwrap();
            let leases =
                reshift::etcd::lease::read_leases(&reshift::etcd::buckets::Extras(ex.clone()))
                    .unwrap();
            extras::override_from(&mut ex, &placed.ks, &leases);
            reshift::restore::member::write_member_dir(
                &target,
                reshift::restore::db::Source::Snapshot(&s, &placed),
                ex,
                &cluster,
            )
            .unwrap();
            std::fs::remove_dir_all(&target).unwrap();
        })
    });
    // Incremental snapshots: what changed after the revision 1% of the records from the
    // end, read by seeking the key bucket there (against building the whole keyspace),
    // and written as an incremental on a full snapshot of the state at that revision.
    let recs = ks.records();
    let after = recs[recs.len() - recs.len() / 100 - 1]
        .rev
        .main
        .max(ks.compact_revision);
    g.throughput(Throughput::Elements(1));
    g.bench_function("keyspace_build_whole", |b| {
        b.iter(|| Keyspace::build(&db).unwrap().total_revisions())
    });
    g.bench_function("keyspace_build_after_1pct", |b| {
        b.iter(|| {
            Keyspace::build_after(&db, after)
                .unwrap()
                .unwrap()
                .total_revisions()
        })
    });
    let base_path = tmp.path().join("base.rsnap");
    let base_facts = Facts {
        at_revision: Some(after),
        ..facts.clone()
    };
    let at_after = Options {
        revision: Some(after),
        ..opts.clone()
    };
    write_snapshot(&base_path, &ks, &ex, &base_facts, &at_after).unwrap();
    let base_bytes = std::fs::read(&base_path).unwrap();
    let base_name: reshift::error::FileName = std::sync::Arc::from(base_path.as_path());
    let base = Snapshot::open(&base_bytes, &base_name).unwrap();
    let inc = tmp.path().join("inc.rsnap");
    g.bench_function("write_incremental_1pct", |b| {
        b.iter(|| {
            let changes = Keyspace::build_after(&db, after).unwrap().unwrap();
            reshift::snapshot::chain::write_incremental(
                &inc,
                &changes,
                &ex,
                &facts,
                &opts,
                &base,
                &base_path,
                &[],
            )
            .unwrap()
            .bytes
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
