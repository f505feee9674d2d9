//! Kubernetes metadata decoding, full decoding to Kubernetes' JSON, export's YAML and the
//! Parquet export: every live object of a data dir (on all cores), and each of Kubernetes'
//! fixtures (one core). Reports objects/s and MB/s. Input: see `common`
//! (a data dir a real etcd fills on first run, or `RESHIFT_BENCH_DB`); fixtures from ../shared/k8s-api-testdata/HEAD.
//! Also Go's string escaping alone (`gojson_string`), on generated strings.

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rayon::prelude::*;
use reshift::etcd::Keyspace;
use reshift::k8s::object::{decode_all, decode_object_json, describe, describe_kind, fold_all};
use reshift::k8s::render::View;
use reshift::source::Source;
use std::path::PathBuf;

fn meta(c: &mut Criterion) {
    let path = common::data_dir(common::Kind::Clean);
    let src = Source::open(&path).unwrap();
    let db = src.db().unwrap();
    let ks = Keyspace::build(&db).unwrap();
    let kvs: Vec<(&[u8], &[u8])> = ks
        .state(b"", None)
        .unwrap()
        .map(|r| (r.key, r.kv().value))
        .collect();
    let bytes: usize = kvs.iter().map(|(_, v)| v.len()).sum();
    let mut g = c.benchmark_group("k8s_metadata");
    g.sample_size(20);
    g.throughput(Throughput::Elements(kvs.len() as u64));
    g.bench_function("all_live_objects_parallel_objects", |b| {
        b.iter(|| {
            fold_all(
                &kvs,
                "/registry",
                || 0usize,
                |n, o| *n += o.metadata.map_or(0, |m| m.labels.len()),
                |a, b| a + b,
            )
        })
    });
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("all_live_objects_parallel_bytes", |b| {
        b.iter(|| {
            fold_all(
                &kvs,
                "/registry",
                || 0usize,
                |n, o| *n += o.metadata.map_or(0, |m| m.labels.len()),
                |a, b| a + b,
            )
        })
    });
    // What `inspect` counts with: kinds and damage, the metadata walked but not kept.
    g.throughput(Throughput::Elements(kvs.len() as u64));
    g.bench_function("all_live_objects_parallel_kinds_only", |b| {
        b.iter(|| {
            kvs.par_iter()
                .filter(|(k, v)| describe_kind(k, v, "/registry").error.is_none())
                .count()
        })
    });
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/k8s-api-testdata/HEAD");
    // Kubernetes' fixtures, read once for both groups (none where ../shared is missing).
    let fixtures: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "pb"))
                .map(|p| std::fs::read(p).unwrap())
                .collect()
        })
        .unwrap_or_default();
    if !fixtures.is_empty() {
        g.throughput(Throughput::Elements(fixtures.len() as u64));
        g.bench_function("fixtures_one_core_objects", |b| {
            b.iter(|| {
                fixtures
                    .iter()
                    .map(|v| {
                        describe(b"", v, "/registry")
                            .metadata
                            .map_or(0, |m| m.name.len())
                    })
                    .sum::<usize>()
            })
        });
    }
    g.finish();
    // Full decoding: every object rendered to the JSON Kubernetes writes (not serialized).
    let mut g = c.benchmark_group("k8s_full");
    g.sample_size(10);
    g.throughput(Throughput::Elements(kvs.len() as u64));
    g.bench_function("all_live_objects_parallel_objects", |b| {
        b.iter(|| decode_all(&kvs, &View::STORED, |_, v| v.ok().map(|t| t.len())).len())
    });
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("all_live_objects_parallel_bytes", |b| {
        b.iter(|| decode_all(&kvs, &View::STORED, |_, v| v.ok().map(|t| t.len())).len())
    });
    if !fixtures.is_empty() {
        let fb: usize = fixtures.iter().map(Vec::len).sum();
        g.throughput(Throughput::Bytes(fb as u64));
        g.bench_function("fixtures_one_core_bytes", |b| {
            b.iter(|| {
                fixtures
                    .iter()
                    .filter_map(|v| decode_object_json(v, &View::STORED).ok())
                    .count()
            })
        });
    }
    g.finish();
    // Export (issue 17): every live object kept, stripped and written as YAML, on all
    // cores; each fixture stripped as export does it (in the YAML document) and as it did
    // before (in a JSON tree); and the YAML of each fixture's tree written directly (what
    // diff does) against written out as JSON and read again (one core).
    let mut g = c.benchmark_group("k8s_export");
    g.sample_size(10);
    let opts = reshift::k8s::export::Options {
        prefix: "/registry".into(),
        release: reshift::k8s::schema::Release::NEWEST,
        filter: reshift::k8s::filter::ObjectFilter::default(),
        include_owned: true,
        include_secrets: true,
        dec: None,
    };
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("all_live_objects_parallel_bytes", |b| {
        b.iter(|| {
            let mut n = 0;
            reshift::k8s::export::export(&kvs, &opts, |m| {
                n += m.yaml.len();
                Ok(())
            })
            .unwrap();
            n
        })
    });
    let trees: Vec<String> = fixtures
        .iter()
        .filter_map(|v| decode_object_json(v, &View::STORED).ok())
        .collect();
    if !trees.is_empty() {
        let tb: usize = trees.iter().map(String::len).sum();
        g.throughput(Throughput::Bytes(tb as u64));
        g.bench_function("fixtures_yaml_from_tree_one_core_bytes", |b| {
            b.iter(|| {
                let mut out = String::new();
                for t in &trees {
                    let tree = reshift::k8s::jsontree::parse(t.as_bytes()).unwrap();
                    out.clear();
                    reshift::k8s::yaml::write_yaml_tree(&tree, &mut out);
                }
                out.len()
            })
        });
        // What export does with each object since it strips the YAML document: read once,
        // stripped in place, written (one core).
        let none = std::collections::HashSet::new();
        g.bench_function("fixtures_export_document_one_core_bytes", |b| {
            b.iter(|| {
                let mut out = String::new();
                for t in &trees {
                    let mut d = reshift::k8s::export::read_document(t).unwrap();
                    reshift::k8s::export::strip(&mut d, &none);
                    out.clear();
                    d.write(&mut out);
                }
                out.len()
            })
        });
        // Export from the stored bytes (one core): the document built straight from the
        // protobuf, against the object rendered as JSON text and that text read back.
        g.bench_function("fixtures_export_built_from_protobuf_one_core_bytes", |b| {
            b.iter(|| {
                let mut n = 0;
                for v in &fixtures {
                    n += reshift::k8s::export::from_stored(b"", v, &View::STORED, None, |d| {
                        reshift::k8s::export::strip(d, &none);
                        let mut out = String::new();
                        d.write(&mut out);
                        out.len()
                    })
                    .unwrap_or(0);
                }
                n
            })
        });
        g.bench_function("fixtures_export_through_text_one_core_bytes", |b| {
            b.iter(|| {
                let mut n = 0;
                for v in &fixtures {
                    let Ok(t) = decode_object_json(v, &View::STORED) else {
                        continue;
                    };
                    let mut d = reshift::k8s::export::read_document(&t).unwrap();
                    reshift::k8s::export::strip(&mut d, &none);
                    let mut out = String::new();
                    d.write(&mut out);
                    n += out.len();
                }
                n
            })
        });
        g.bench_function("fixtures_export_tree_one_core_bytes", |b| {
            b.iter(|| {
                let mut out = String::new();
                for t in &trees {
                    let mut tree = reshift::k8s::jsontree::parse(t.as_bytes()).unwrap();
                    reshift::k8s::export::strip(&mut tree, &none);
                    out.clear();
                    reshift::k8s::yaml::write_yaml_tree(&tree, &mut out);
                }
                out.len()
            })
        });
        g.bench_function("fixtures_yaml_from_text_again_one_core_bytes", |b| {
            b.iter(|| {
                let mut out = String::new();
                for t in &trees {
                    let tree = reshift::k8s::jsontree::parse(t.as_bytes()).unwrap();
                    let mut text = String::new();
                    reshift::k8s::diff::write_tree(&mut text, &tree);
                    out = reshift::k8s::yaml::json_to_yaml(&text).unwrap_or_default();
                }
                out.len()
            })
        });
    }
    g.finish();
    // Diff (issue 17): the YAML of both sides of a change, each fixture against itself with
    // one label more (what `kubectl label` does), each side written alone against the two
    // written at once with the root members they share written once (one core).
    let mut g = c.benchmark_group("k8s_diff");
    g.sample_size(10);
    let olds: Vec<_> = trees
        .iter()
        .filter_map(|t| reshift::k8s::jsontree::parse(t.as_bytes()).ok())
        .collect();
    let news: Vec<_> = olds.iter().map(labelled).collect();
    if !olds.is_empty() {
        let tb: usize = trees.iter().map(String::len).sum();
        g.throughput(Throughput::Bytes(2 * tb as u64));
        g.bench_function("fixtures_changed_pair_yaml_each_side_one_core_bytes", |b| {
            b.iter(|| {
                let mut n = 0;
                for (x, y) in olds.iter().zip(&news) {
                    let (mut a, mut b) = (String::new(), String::new());
                    reshift::k8s::yaml::write_yaml_tree(x, &mut a);
                    reshift::k8s::yaml::write_yaml_tree(y, &mut b);
                    n += a.len() + b.len();
                }
                n
            })
        });
        g.bench_function("fixtures_changed_pair_yaml_shared_one_core_bytes", |b| {
            b.iter(|| {
                let mut n = 0;
                for (x, y) in olds.iter().zip(&news) {
                    let (mut a, mut b) = (String::new(), String::new());
                    if !reshift::k8s::yaml::write_yaml_tree_pair(x, y, &mut a, &mut b) {
                        reshift::k8s::yaml::write_yaml_tree(x, &mut a);
                        reshift::k8s::yaml::write_yaml_tree(y, &mut b);
                    }
                    n += a.len() + b.len();
                }
                n
            })
        });
    }
    g.finish();
    // Parquet (issue 20): every live object's metadata and per-kind columns as
    // objects.parquet (zstd), row groups built and encoded on all cores.
    let mut g = c.benchmark_group("k8s_parquet");
    g.sample_size(10);
    let out = tempfile::tempdir().unwrap();
    let popts = reshift::k8s::parquet::Options {
        cluster: "bench".into(),
        k8s_prefix: "/registry".into(),
        filter: reshift::k8s::filter::ObjectFilter::default(),
        dec: None,
        json: None,
        history: false,
    };
    let facts = reshift::k8s::parquet::SourceFacts::default();
    g.throughput(Throughput::Elements(kvs.len() as u64));
    g.bench_function("all_live_objects_objects", |b| {
        b.iter(|| {
            reshift::k8s::parquet::export(&ks, b"", None, &facts, out.path(), &popts)
                .unwrap()
                .objects
        })
    });
    g.finish();
}

/// `v` with the label `reshift-compare: changed` added to its `metadata.labels` (both
/// made when missing; a value that is no object is kept as it is).
fn labelled<'a>(v: &reshift::k8s::jsontree::J<'a>) -> reshift::k8s::jsontree::J<'a> {
    use reshift::k8s::jsontree::J;
    fn member<'a, 'm>(
        m: &'m mut Vec<(std::borrow::Cow<'a, str>, J<'a>)>,
        k: &'a str,
    ) -> &'m mut J<'a> {
        let i = match m.iter().position(|(x, _)| x == k) {
            Some(i) => i,
            None => {
                m.push((k.into(), J::Obj(Vec::new())));
                m.len() - 1
            }
        };
        &mut m[i].1
    }
    let mut v = v.clone();
    if let J::Obj(m) = &mut v {
        if let J::Obj(meta) = member(m, "metadata") {
            if let J::Obj(labels) = member(meta, "labels") {
                labels.push((
                    "reshift-compare".into(),
                    J::Str("changed".into(), b"changed"),
                ));
            }
        }
    }
    v
}

/// Go's string escaping alone (`gojson::string`), on the kinds of strings objects hold:
/// short names, short text with a control byte, and a last-applied-configuration
/// annotation (JSON text, every quote escaped), each written many times into one buffer.
fn escape(c: &mut Criterion) {
    use reshift::k8s::gojson::{Escape, string};
    let names: Vec<String> = (0..1000).map(|i| format!("pod-{i:06}-c16e2")).collect();
    let controls: Vec<String> = (0..1000).map(|i| format!("r\u{7}plica-{i}")).collect();
    let applied: String = (0..40)
        .map(|i| format!("\"key-{i}\":\"value-{i}-<html>&more\","))
        .collect();
    let mut g = c.benchmark_group("gojson_string");
    for (name, set) in [
        ("names_bytes", names),
        ("controls_bytes", controls),
        ("last_applied_bytes", vec![applied; 100]),
    ] {
        g.throughput(Throughput::Bytes(
            set.iter().map(String::len).sum::<usize>() as u64,
        ));
        let mut out = String::new();
        g.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                for s in &set {
                    string(&mut out, s.as_bytes(), Escape::NEW);
                }
                out.len()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, meta, escape);
criterion_main!(benches);
