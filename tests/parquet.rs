//! `reshift export --format parquet`, read back by DuckDB (the `duckdb` Python package) as
//! one Hive-partitioned dataset made of two clusters' exports: two data dirs a real etcd 3.4
//! wrote with Kubernetes objects (../shared/tools/gen_etcd.py, two seeds). What DuckDB
//! reads is compared with what reshift's other commands say of the same sources
//! (`inspect`, `ls`, `get`).

mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Runs SQL in DuckDB (in Python) and prints the rows as JSON; `DIR` in the SQL is the
/// export dir.
const DUCK: &str = r#"
import duckdb, json, sys
con = duckdb.connect()
rows = con.execute(sys.argv[1].replace("DIR", sys.argv[2])).fetchall()
print(json.dumps(rows, default=str))
"#;

/// Whether DuckDB can be imported from Python; without it the caller skips, loudly, and
/// under CI (CI set) it is a failure (.ci/run installs it).
fn duckdb_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import duckdb"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var_os("CI").is_some() {
            panic!(
                "the duckdb Python package is not installed, and CI must not skip (.ci/run installs it)"
            );
        }
        eprintln!(
            "\n!!!!!!!! SKIPPED parquet tests: the duckdb Python package is not installed (pip install duckdb) !!!!!!!!\n"
        );
    }
    ok
}

fn duck(dir: &Path, sql: &str) -> Vec<Vec<Value>> {
    let o = Command::new("python3")
        .args(["-c", DUCK, sql])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "duckdb: {sql}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_array().unwrap().clone())
        .collect()
}

const OBJECTS: &str = "read_parquet('DIR/objects/*/*.parquet', hive_partitioning = true)";

/// The two clusters: (partition name, data dir).
struct Fleet {
    dir: PathBuf,
    clusters: Vec<(&'static str, PathBuf)>,
}

/// A data dir a real etcd 3.4 wrote (`gen_etcd.py` with `seed`).
fn generate(seed: u32) -> PathBuf {
    gen_data_dir(&format!("parquet-gen-{seed}"), 400, 80, 15, seed)
}

/// Both clusters exported into one dir (alpha with the served JSON), made once per test
/// binary.
fn fleet() -> Option<&'static Fleet> {
    static F: std::sync::OnceLock<Option<Fleet>> = std::sync::OnceLock::new();
    F.get_or_init(|| {
        if !etcd_available("parquet") || !duckdb_available() {
            return None;
        }
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("parquet-fleet-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let clusters = vec![("alpha", generate(31)), ("beta", generate(32))];
        for (name, src) in &clusters {
            let mut args = vec![
                "export",
                src.to_str().unwrap(),
                "--format",
                "parquet",
                "-o",
                dir.to_str().unwrap(),
                "--cluster-name",
                *name,
                "--history",
            ];
            if *name == "alpha" {
                args.push("--with-json");
            }
            ok(&args);
        }
        Some(Fleet { dir, clusters })
    })
    .as_ref()
}

fn inspect(src: &Path) -> Value {
    serde_json::from_slice(&ok(&["inspect", src.to_str().unwrap(), "-o", "json"])).unwrap()
}

/// inspect's resource name of a key: the first segment under /registry/, with the next
/// one for group-stored resources and `services/…`.
const RESOURCE_OF_KEY: &str = "CASE WHEN strpos(split_part(key, '/', 3), '.') > 0 OR split_part(key, '/', 3) = 'services' THEN split_part(key, '/', 3) || '/' || split_part(key, '/', 4) ELSE split_part(key, '/', 3) END";

fn resource_of_key(key: &str) -> String {
    let segs: Vec<&str> = key.split('/').collect();
    let first = segs.get(2).copied().unwrap_or("");
    if first.contains('.') || first == "services" {
        format!("{first}/{}", segs.get(3).copied().unwrap_or(""))
    } else {
        first.to_string()
    }
}

#[test]
fn counts_per_resource_and_namespace_equal_inspect_and_ls() {
    let Some(f) = fleet() else { return };
    for (name, src) in &f.clusters {
        let ins = inspect(src);
        let want: BTreeMap<String, i64> = ins["resources"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v["count"].as_i64().unwrap()))
            .collect();
        let got: BTreeMap<String, i64> = duck(
            &f.dir,
            &format!(
                "SELECT {RESOURCE_OF_KEY} AS r, count(*) FROM {OBJECTS} WHERE cluster = '{name}' GROUP BY r"
            ),
        )
        .into_iter()
        .map(|r| (r[0].as_str().unwrap().to_string(), r[1].as_i64().unwrap()))
        .collect();
        assert!(
            want.len() > 5,
            "{name}: too few resources to compare: {want:?}"
        );
        assert_eq!(got, want, "{name}: rows per resource");
        assert_eq!(
            got.values().sum::<i64>(),
            ins["live_keys"].as_i64().unwrap()
        );
        // Per resource and namespace, against every key `ls` lists.
        let mut want: BTreeMap<(String, String), i64> = BTreeMap::new();
        for row in json_lines(&ok(&["ls", src.to_str().unwrap(), "-o", "json"])) {
            let ns = row["namespace"].as_str().unwrap_or("-").to_string();
            *want
                .entry((resource_of_key(row["key"].as_str().unwrap()), ns))
                .or_default() += 1;
        }
        let got: BTreeMap<(String, String), i64> = duck(
            &f.dir,
            &format!(
                "SELECT {RESOURCE_OF_KEY} AS r, coalesce(namespace, '-'), count(*) FROM {OBJECTS} WHERE cluster = '{name}' GROUP BY ALL"
            ),
        )
        .into_iter()
        .map(|r| {
            (
                (
                    r[0].as_str().unwrap().to_string(),
                    r[1].as_str().unwrap().to_string(),
                ),
                r[2].as_i64().unwrap(),
            )
        })
        .collect();
        assert!(
            want.keys().filter(|(_, ns)| ns != "-").count() > 3,
            "{name}: too few namespaces"
        );
        assert_eq!(got, want, "{name}: rows per resource and namespace");
        // And against inspect's own per-namespace counts (namespaced keys only).
        let mut from_inspect: BTreeMap<(String, String), i64> = BTreeMap::new();
        for (ns, u) in ins["namespaces"].as_object().unwrap() {
            let per: i64 = u["resources"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(r, c)| {
                    let n = c["count"].as_i64().unwrap();
                    from_inspect.insert((r.clone(), ns.clone()), n);
                    n
                })
                .sum();
            assert_eq!(per, u["count"].as_i64().unwrap(), "{name}: {ns} total");
        }
        let namespaced: BTreeMap<(String, String), i64> =
            got.into_iter().filter(|((_, ns), _)| ns != "-").collect();
        assert_eq!(
            from_inspect, namespaced,
            "{name}: inspect's rows per resource and namespace"
        );
    }
}

/// The decoded object (`reshift get KEY -o json`).
fn get(src: &Path, key: &str) -> Value {
    serde_json::from_slice(&ok(&["get", src.to_str().unwrap(), key, "-o", "json"])).unwrap()
}

fn pod_spec_images(spec: &Value) -> Vec<Value> {
    ["initContainers", "containers", "ephemeralContainers"]
        .iter()
        .flat_map(|l| spec[*l].as_array().cloned().unwrap_or_default())
        .map(|c| c["image"].clone())
        .collect()
}

#[test]
fn images_replicas_node_and_phase_equal_the_decoded_objects() {
    let Some(f) = fleet() else { return };
    for (name, src) in &f.clusters {
        let rows = duck(
            &f.dir,
            &format!(
                "SELECT key, images, replicas FROM {OBJECTS} WHERE cluster = '{name}' AND kind = 'Deployment' ORDER BY key LIMIT 8"
            ),
        );
        assert!(rows.len() >= 3, "{name}: too few deployments");
        for r in rows {
            let obj = get(src, r[0].as_str().unwrap());
            let spec = &obj["spec"];
            let want = pod_spec_images(&spec["template"]["spec"]);
            assert!(!want.is_empty());
            assert_eq!(r[1].as_array().unwrap(), &want, "{name} {}", r[0]);
            assert_eq!(r[2], spec["replicas"], "{name} {}", r[0]);
        }
        let rows = duck(
            &f.dir,
            &format!(
                "SELECT key, images, node_name, phase FROM {OBJECTS} WHERE cluster = '{name}' AND kind = 'Pod' ORDER BY key LIMIT 5"
            ),
        );
        assert!(!rows.is_empty(), "{name}: no pods");
        for r in rows {
            let obj = get(src, r[0].as_str().unwrap());
            assert_eq!(r[1].as_array().unwrap(), &pod_spec_images(&obj["spec"]));
            assert_eq!(r[2], obj["spec"]["nodeName"]);
            assert_eq!(r[3], obj["status"]["phase"]);
        }
    }
}

#[test]
fn labels_are_queried_by_key() {
    let Some(f) = fleet() else { return };
    let (name, src) = &f.clusters[1];
    let objects = json_lines(&ok(&["ls", src.to_str().unwrap(), "-o", "objects"]));
    // A label key many objects carry, and one of its values.
    let mut keys: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for o in &objects {
        if let Some(l) = o["metadata"]["labels"].as_object() {
            for (k, v) in l {
                *keys
                    .entry(k.clone())
                    .or_default()
                    .entry(v.as_str().unwrap().to_string())
                    .or_default() += 1;
            }
        }
    }
    let (key, values) = keys
        .iter()
        .filter(|(k, _)| !k.contains('\''))
        .max_by_key(|(_, v)| v.values().sum::<usize>())
        .expect("no labels in the generated objects");
    let (value, _) = values.iter().max_by_key(|(_, n)| **n).unwrap();
    let with_key: usize = values.values().sum();
    let with_value = values[value];
    let sql = |cond: &str| {
        duck(
            &f.dir,
            &format!("SELECT count(*) FROM {OBJECTS} WHERE cluster = '{name}' AND {cond}"),
        )[0][0]
            .as_i64()
            .unwrap() as usize
    };
    let esc = |s: &str| s.replace('\'', "''");
    assert_eq!(
        sql(&format!("labels['{}'] IS NOT NULL", esc(key))),
        with_key,
        "objects with label {key:?}"
    );
    assert_eq!(
        sql(&format!("labels['{}'] = '{}'", esc(key), esc(value))),
        with_value,
        "objects with label {key:?}={value:?}"
    );
}

#[test]
fn a_cluster_filter_reads_only_its_partition() {
    let Some(f) = fleet() else { return };
    for (name, src) in &f.clusters {
        let live = inspect(src)["live_keys"].as_i64().unwrap();
        let rows = duck(
            &f.dir,
            &format!(
                "SELECT cluster, count(*) FROM {OBJECTS} WHERE cluster = '{name}' GROUP BY ALL"
            ),
        );
        assert_eq!(rows, vec![vec![Value::from(*name), Value::from(live)]]);
        // The plan prunes the other partition: one file read, not two. (A bare count(*)
        // is answered from the footers, with no scan in the plan: a column is summed.)
        let plan = duck(
            &f.dir,
            &format!(
                "EXPLAIN ANALYZE SELECT sum(value_size * 2) FROM {OBJECTS} WHERE cluster = '{name}'"
            ),
        );
        let text = plan
            .iter()
            .flatten()
            .map(|v| v.as_str().unwrap_or(""))
            .collect::<String>();
        let all = duck(
            &f.dir,
            &format!("EXPLAIN ANALYZE SELECT sum(value_size * 2) FROM {OBJECTS}"),
        );
        let all_text = all
            .iter()
            .flatten()
            .map(|v| v.as_str().unwrap_or(""))
            .collect::<String>();
        assert!(
            text.contains("Total Files Read: 1") && all_text.contains("Total Files Read: 2"),
            "partition pruning not visible in the plans:\n{text}\n{all_text}"
        );
    }
}

#[test]
fn files_carry_the_schema_version_and_the_cluster_row() {
    let Some(f) = fleet() else { return };
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/parquet-schema.md"),
    )
    .unwrap();
    let version = doc
        .lines()
        .find_map(|l| l.strip_prefix("Schema version: "))
        .expect("docs/parquet-schema.md names its version")
        .trim_matches('`')
        .to_string();
    let rows = duck(
        &f.dir,
        "SELECT file_name, decode(value) FROM parquet_kv_metadata('DIR/*/*/*.parquet') WHERE decode(key) = 'reshift_schema_version'",
    );
    // objects, revisions and cluster of both clusters.
    assert_eq!(rows.len(), 6, "{rows:?}");
    for r in &rows {
        assert_eq!(r[1], Value::from(version.as_str()), "{}", r[0]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(r[0].as_str().unwrap())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{}", r[0]);
        }
    }
    for (name, src) in &f.clusters {
        let ins = inspect(src);
        let rows = duck(
            &f.dir,
            &format!(
                "SELECT revision, compact_revision, member_ids, db_size, live_keys, revisions_kept, revisions_exported FROM read_parquet('DIR/cluster/*/*.parquet', hive_partitioning = true) WHERE cluster = '{name}'"
            ),
        );
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        let ids: Vec<Value> = ins["cluster"]["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].clone())
            .collect();
        assert_eq!(r[0], ins["revision"]);
        assert_eq!(r[1], ins["compact_revision"]);
        assert_eq!(r[2], Value::from(ids));
        assert_eq!(r[3], ins["db_bytes"]);
        assert_eq!(r[4], ins["live_keys"]);
        assert_eq!(r[5], ins["total_revisions"]);
        // --history: every revision kept, one row each.
        assert_eq!(r[6], ins["total_revisions"]);
        let revs = duck(
            &f.dir,
            &format!(
                "SELECT count(*), count(*) FILTER (op = 'DELETE'), max(revision) FROM read_parquet('DIR/revisions/*/*.parquet', hive_partitioning = true) WHERE cluster = '{name}'"
            ),
        );
        assert_eq!(revs[0][0], ins["total_revisions"]);
        assert!(
            revs[0][1].as_i64().unwrap() > 0,
            "{name}: no deletions kept"
        );
        assert!(revs[0][2].as_i64().unwrap() <= ins["revision"].as_i64().unwrap());
    }
}

#[test]
fn with_json_holds_the_served_object() {
    let Some(f) = fleet() else { return };
    let (name, src) = &f.clusters[0];
    let rows = duck(
        &f.dir,
        &format!(
            "SELECT key, object_json FROM {OBJECTS} WHERE cluster = '{name}' AND kind IN ('Deployment', 'Pod', 'ConfigMap') ORDER BY key LIMIT 6"
        ),
    );
    assert!(rows.len() >= 3);
    for r in rows {
        let served: Value =
            serde_json::from_str(r[1].as_str().expect("object_json is set")).unwrap();
        assert_eq!(served, get(src, r[0].as_str().unwrap()), "{}", r[0]);
    }
    // beta was exported without --with-json.
    let n = duck(
        &f.dir,
        &format!("SELECT count(object_json) FROM {OBJECTS} WHERE cluster = 'beta'"),
    );
    assert_eq!(n[0][0], Value::from(0));
}

#[test]
fn refuses_to_write_into_its_input() {
    let Some(f) = fleet() else { return };
    let src = f.clusters[0].1.to_str().unwrap();
    let inside = format!("{src}/member/out");
    let (code, _, err) = run(&["export", src, "--format", "parquet", "-o", &inside]);
    assert_ne!(code, 0);
    assert!(err.contains("refusing"), "{err}");
    assert!(!Path::new(&inside).exists());
}
