//! The benches' input data dir, made by a real etcd on first run.
//!
//! In order: the path in `RESHIFT_BENCH_DIR` (or `RESHIFT_BENCH_DB`); else a data dir that
//! `../shared/tools/gen_etcd.py` fills through a real etcd — `RESHIFT_BENCH_OBJECTS`
//! Kubernetes-shaped objects (default 10000, about 110 MB of db) with updates, deletes and
//! a compaction, or for `Kind::Killed` an etcd killed mid-write so the WAL holds what the db
//! has not applied — made once and kept under `target/bench-data/`; else, with no etcd
//! installed, the bundled testdata (said loudly on stderr). `cargo test` runs each bench
//! once as a smoke test (criterion's test mode, without `--bench`): on the bundled testdata,
//! so tests do not wait for an etcd to be filled.

use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Clone, Copy, PartialEq, Eq)]
#[allow(dead_code)]
pub enum Kind {
    /// A cleanly stopped member, compacted at the midpoint of its history.
    Clean,
    /// A member killed mid-write, with writes in its WAL that the db lacks.
    Killed,
}

pub fn data_dir(kind: Kind) -> PathBuf {
    if let Some(p) =
        std::env::var_os("RESHIFT_BENCH_DIR").or_else(|| std::env::var_os("RESHIFT_BENCH_DB"))
    {
        return PathBuf::from(p);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let fallback = root.join(match kind {
        Kind::Clean => "testdata/clean",
        Kind::Killed => "testdata/killed",
    });
    if !std::env::args().any(|a| a == "--bench") {
        return fallback;
    }
    let objects: u64 = std::env::var("RESHIFT_BENCH_OBJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10000);
    let name = match kind {
        Kind::Clean => format!("clean-{objects}"),
        Kind::Killed => format!("killed-{objects}"),
    };
    let target = root.join("target/bench-data").join(&name);
    if target.join("member/snap/db").exists() {
        return target;
    }
    match generate(&root, &target, kind, objects) {
        Ok(()) => target,
        Err(why) => {
            eprintln!(
                "\n!!!!!!!! bench input: {why}; using the small bundled {} instead !!!!!!!!\n",
                fallback.display()
            );
            fallback
        }
    }
}

/// Two free adjacent TCP ports on 127.0.0.1 (client, peer), as gen_etcd.py uses them.
fn free_ports() -> Option<u16> {
    for _ in 0..50 {
        let a = std::net::TcpListener::bind("127.0.0.1:0").ok()?;
        let port = a.local_addr().ok()?.port();
        if port < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return Some(port);
        }
    }
    None
}

fn generate(root: &Path, target: &Path, kind: Kind, objects: u64) -> Result<(), String> {
    if Command::new("etcd").arg("--version").output().is_err() {
        return Err("no etcd installed (apt-get install etcd-server etcd-client)".into());
    }
    let script = root.join("../shared/tools/gen_etcd.py");
    if !script.exists() {
        return Err(format!("{} not found", script.display()));
    }
    let port = free_ports().ok_or("no free ports")?;
    let tmp = target.with_extension(format!("tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(target.parent().expect("under target/")).map_err(|e| e.to_string())?;
    eprintln!(
        "bench input: filling a real etcd with {objects} objects into {} (first run only)",
        target.display()
    );
    let mut cmd = Command::new("python3");
    cmd.arg(&script).arg("--out").arg(&tmp).args([
        "--objects",
        &objects.to_string(),
        "--port",
        &port.to_string(),
    ]);
    match kind {
        Kind::Clean => cmd.arg("--compact"),
        Kind::Killed => cmd.args(["--kill", "--batch-interval", "600"]),
    };
    let out = cmd.output().map_err(|e| format!("gen_etcd.py: {e}"))?;
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(format!(
            "gen_etcd.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ));
    }
    std::fs::rename(&tmp, target).map_err(|e| e.to_string())?;
    // gen_etcd.py leaves etcd's log beside the data dir: keep it under the final name.
    let log = |d: &Path| PathBuf::from(format!("{}.etcd.log", d.display()));
    let _ = std::fs::rename(log(&tmp), log(target));
    Ok(())
}
