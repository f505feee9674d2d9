//! A running member: a real etcd 3.4 under a bounded write load while reshift reads its
//! data dir over and over. Every read says the member is live, never reports damage, and
//! every revision-pinned dump equals `etcdctl get --rev` at that revision.

mod common;
use common::*;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long each member is written to while it is read.
const LOAD: Duration = Duration::from_secs(16);

/// Fills the member with enough data that its db spans many pages, so that commits during
/// the reads reuse freed pages.
fn prefill(etcd: &Etcd) {
    for t in 0..24 {
        let mut ops = String::from("\n");
        for k in 0..100 {
            let v = "x".repeat(200 + (t * 37 + k * 11) % 1800);
            ops.push_str(&format!("put pre/{t:02}/{k:03} {v}\n"));
        }
        ops.push_str("\n\n");
        etcd.txn_quiet(&ops);
    }
}

/// One writer: puts of varying sizes, multi-key txns and deletes, until `stop`.
fn writer(etcd: Arc<Etcd>, id: usize, stop: Arc<AtomicBool>) -> usize {
    let mut i = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let k = (i * 7 + id) % 60;
        match i % 4 {
            0 | 1 => {
                let v = format!("{id}-{i}-{}", "v".repeat((i * 131) % 2500));
                let _ = etcd
                    .ctl_cmd(&["put", &format!("w/{k:02}"), &v])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
            2 => {
                let mut ops = String::from("\n");
                for j in 0..5 {
                    let v = "t".repeat(100 + (i * 17 + j * 300) % 3000);
                    ops.push_str(&format!("put t/{id}/{:02} {v}\n", (k + j) % 40));
                }
                ops.push_str(&format!("del pre/{:02}/{:03}\n", i % 24, (i / 4) % 100));
                ops.push_str("\n\n");
                etcd.txn_quiet(&ops);
            }
            _ => {
                let _ = etcd
                    .ctl_cmd(&["del", &format!("w/{:02}", (k + 13) % 60)])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
        i += 1;
    }
    i
}

/// Whether the snapshot file `f` dumps what `etcd` served at the snapshot's revision.
fn served_as_etcd_did(etcd: &Etcd, f: &str) -> Result<(), String> {
    let bytes = std::fs::read(f).unwrap();
    let name: reshift::error::FileName = std::sync::Arc::from(std::path::Path::new(f));
    let facts = reshift::snapshot::Snapshot::open(&bytes, &name)
        .unwrap()
        .facts;
    let rev = facts.at_revision.unwrap_or(facts.revision);
    let ours = json_lines(&ok(&["dump", f]));
    match etcd_at(etcd, rev) {
        Some(theirs) if theirs == ours => Ok(()),
        Some(theirs) => Err(format!(
            "snapshot at {rev}: {} keys, etcd served {}",
            ours.len(),
            theirs.len()
        )),
        None => Err(format!("etcd never reached revision {rev}")),
    }
}

/// `etcdctl get "" --prefix --rev R -w json`'s kvs, waiting while etcd has not yet applied
/// R (reshift replays the WAL entries etcd has persisted but may not have applied yet).
fn etcd_at(etcd: &Etcd, rev: i64) -> Option<Vec<serde_json::Value>> {
    let r = format!("--rev={rev}");
    for _ in 0..50 {
        let o = etcd
            .ctl_cmd(&["get", "", "--prefix", "-w", "json", &r])
            .output()
            .unwrap();
        if o.status.success() {
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            return Some(v["kvs"].as_array().cloned().unwrap_or_default());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

#[derive(Default)]
struct Tally {
    reads: usize,
    compared: usize,
    failures: Vec<String>,
}

/// Reads the live member at `dir` until the load stops.
fn read_while_running(etcd: &Etcd, dir: &str, stop: &AtomicBool, t: &mut Tally) {
    let mut round = 0i64;
    while !stop.load(Ordering::Relaxed) {
        round += 1;
        t.reads += 1;
        let (code, out, err) = run(&["inspect", dir, "-o", "json"]);
        if code != 0 {
            t.failures.push(format!("inspect exit {code}: {err}"));
            continue;
        }
        let ins: serde_json::Value = serde_json::from_slice(&out).unwrap();
        if !ins["live"]["pid"].is_u64() {
            t.failures
                .push(format!("inspect does not say the member is live: {err}"));
        }
        if !err.contains("running") {
            t.failures
                .push(format!("inspect does not note the running etcd: {err}"));
        }
        let rev = ins["revision"].as_i64().unwrap();

        t.reads += 1;
        let (code, out, err) = run(&["check", dir]);
        let out = String::from_utf8_lossy(&out);
        if code != 0 || out.contains("DAMAGED") || !out.contains("intact") {
            t.failures.push(format!(
                "check on a healthy member (exit {code}): {out}{err}"
            ));
        }

        // The revision inspect reported, one just before, and one further back.
        for r in [
            rev,
            (rev - 1 - round % 17).max(1),
            (rev - 40 - round * 7).max(1),
        ] {
            t.reads += 1;
            let (code, out, err) = run(&["dump", dir, &format!("--revision={r}")]);
            if code != 0 {
                t.failures
                    .push(format!("dump --revision={r} exit {code}: {err}"));
                continue;
            }
            let ours = json_lines(&out);
            match etcd_at(etcd, r) {
                Some(theirs) => {
                    t.compared += 1;
                    if ours != theirs {
                        let mine: std::collections::BTreeSet<_> =
                            ours.iter().map(|v| v.to_string()).collect();
                        let etcds: std::collections::BTreeSet<_> =
                            theirs.iter().map(|v| v.to_string()).collect();
                        let only_ours: Vec<_> = mine.difference(&etcds).take(3).collect();
                        let only_etcd: Vec<_> = etcds.difference(&mine).take(3).collect();
                        t.failures.push(format!(
                            "dump --revision={r}: {} keys, etcd {} keys; only ours {only_ours:?}; only etcd's {only_etcd:?}",
                            ours.len(),
                            theirs.len()
                        ));
                    }
                }
                None => t.failures.push(format!(
                    "etcd never reached revision {r} that reshift reported"
                )),
            }
        }
    }
}

/// Runs one member with `extra` flags under load while reading it.
fn one_member(name: &str, extra: &[&str], t: &mut Tally) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join(name);
    let etcd = Arc::new(Etcd::start_with(None, &data, name, extra));
    prefill(&etcd);
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|id| {
            let (e, s) = (etcd.clone(), stop.clone());
            std::thread::spawn(move || writer(e, id, s))
        })
        .collect();
    let done = Arc::new(AtomicBool::new(false));
    let timer = {
        let (s, d) = (stop.clone(), done.clone());
        std::thread::spawn(move || {
            let t0 = Instant::now();
            while t0.elapsed() < LOAD && !d.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
            }
            s.store(true, Ordering::Relaxed);
        })
    };
    read_while_running(&etcd, data.to_str().unwrap(), &stop, t);
    done.store(true, Ordering::Relaxed);
    timer.join().unwrap();
    let writes: usize = writers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(writes > 50, "{name}: only {writes} writes under load");
    // Once etcd is stopped, nothing says live any more.
    drop(Arc::try_unwrap(etcd).ok().expect("writers done"));
    let (code, out, err) = run(&["inspect", data.to_str().unwrap(), "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let ins: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert!(ins.get("live").is_none_or(|l| l.is_null()), "{ins}");
    assert!(!err.contains("running"), "{err}");
}

#[test]
fn live_member_reads_equal_etcd_at_their_revision() {
    if !etcd_available("live_member_reads_equal_etcd_at_their_revision") {
        return;
    }
    let mut t = Tally::default();
    one_member("live-default", &[], &mut t);
    one_member("live-fast", &["--backend-batch-interval=5ms"], &mut t);
    eprintln!(
        "{} reads, {} pinned comparisons, {} failures",
        t.reads,
        t.compared,
        t.failures.len()
    );
    let mut shown = std::collections::BTreeMap::new();
    for f in &t.failures {
        let kind: String = f.chars().take(24).collect();
        let n = shown.entry(kind).or_insert(0);
        *n += 1;
        if *n <= 3 {
            eprintln!("failure: {}", f.chars().take(400).collect::<String>());
        }
    }
    eprintln!("failures by kind: {shown:?}");
    assert!(t.compared >= 20, "only {} comparisons", t.compared);
    assert!(t.failures.is_empty(), "{} failures", t.failures.len());
}

/// `snapshot -o FILE` of a running member reads its db in place and keeps the file only
/// if etcd committed nothing meanwhile, else takes it again from a consistent copy. Under
/// a load that commits every 5 ms, every snapshot reads as what etcd serves at its
/// revision, and some were taken again (stderr says so); once the load has stopped, one is
/// kept from its first, in-place read.
#[test]
fn live_snapshots_read_in_place_equal_etcd_at_their_revision() {
    if !etcd_available("live_snapshots_read_in_place_equal_etcd_at_their_revision") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("live-snap");
    let dir = data.to_str().unwrap();
    let etcd = Arc::new(Etcd::start_with(
        None,
        &data,
        "live-snap",
        &["--backend-batch-interval=5ms"],
    ));
    prefill(&etcd);
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|id| {
            let (e, s) = (etcd.clone(), stop.clone());
            std::thread::spawn(move || writer(e, id, s))
        })
        .collect();
    let (mut rounds, mut again, mut failures) = (0, 0, Vec::new());
    let t0 = Instant::now();
    while rounds < 12 && t0.elapsed() < Duration::from_secs(45) {
        rounds += 1;
        let f = tmp.path().join(format!("s{rounds}.rsnap"));
        let f = f.to_str().unwrap();
        let (code, _, err) = run(&["snapshot", dir, "-o", f]);
        if code != 0 || !err.contains("running") {
            failures.push(format!("snapshot exit {code}: {err}"));
            continue;
        }
        if err.contains("reading it again") {
            again += 1;
        }
        if let Err(e) = served_as_etcd_did(&etcd, f) {
            failures.push(e);
        }
    }
    stop.store(true, Ordering::Relaxed);
    let writes: usize = writers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(writes > 50, "only {writes} writes under load");
    assert!(failures.is_empty(), "{failures:?}");
    assert!(
        again >= 1,
        "none of {rounds} snapshots under a 5 ms commit load was taken again"
    );
    // Idle: nothing commits, the first read is kept.
    std::thread::sleep(Duration::from_millis(500));
    let f = tmp.path().join("idle.rsnap");
    let (code, _, err) = run(&["snapshot", dir, "-o", f.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("in place") && !err.contains("reading it again"),
        "{err}"
    );
    let rev = etcd.get_all(None).0;
    assert_eq!(
        json_lines(&ok(&["dump", f.to_str().unwrap()])),
        etcd_at(&etcd, rev).unwrap()
    );
}

/// `snapshot -o FILE` of a running member that is defragmented again and again while it
/// commits: a defrag closes the db, renames a new file into place and reopens it, so a
/// snapshot can find the db held by no etcd and read it just before etcd commits to it
/// again. Such a db is watched like one read in place: every snapshot kept reads as what
/// etcd serves at its revision and verifies (before, some were kept with chunks that
/// disagree with their index, or failed on pages etcd had just rewritten).
#[test]
fn live_snapshots_during_defrags_equal_etcd_at_their_revision() {
    if !etcd_available("live_snapshots_during_defrags_equal_etcd_at_their_revision") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("live-defrag");
    let dir = data.to_str().unwrap();
    let etcd = Arc::new(Etcd::start_with(
        None,
        &data,
        "live-defrag",
        &["--backend-batch-interval=5ms"],
    ));
    // Larger values than `prefill`'s: each defrag takes longer and so does each read.
    for t in 0..40 {
        let mut ops = String::from("\n");
        for k in 0..50 {
            let v = "p".repeat(2000 + (t * 31 + k * 17) % 6000);
            ops.push_str(&format!("put pre/{t:02}/{k:03} {v}\n"));
        }
        ops.push_str("\n\n");
        etcd.txn_quiet(&ops);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let w = {
        let (e, s) = (etcd.clone(), stop.clone());
        std::thread::spawn(move || writer(e, 0, s))
    };
    let d = {
        let (e, s) = (etcd.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !s.load(Ordering::Relaxed) && n < 400 {
                std::thread::sleep(Duration::from_millis(200));
                if e.ctl_try(&["defrag"]).0 {
                    n += 1;
                }
            }
            n
        })
    };
    let (mut rounds, mut failures) = (0, Vec::new());
    let t0 = Instant::now();
    while rounds < 30 && t0.elapsed() < Duration::from_secs(45) {
        rounds += 1;
        let f = tmp.path().join(format!("d{rounds}.rsnap"));
        let f = f.to_str().unwrap();
        let (code, _, err) = run(&["snapshot", dir, "-o", f]);
        if code != 0 {
            failures.push(format!("snapshot exit {code}: {err}"));
            continue;
        }
        let (code, out, _) = run(&["check", f]);
        if code != 0 {
            failures.push(format!("check: {}", String::from_utf8_lossy(&out)));
            continue;
        }
        if let Err(e) = served_as_etcd_did(&etcd, f) {
            failures.push(e);
        }
    }
    stop.store(true, Ordering::Relaxed);
    let writes = w.join().unwrap();
    let defrags = d.join().unwrap();
    assert!(writes > 20, "only {writes} writes");
    assert!(defrags > 5, "only {defrags} defrags");
    assert!(failures.is_empty(), "{failures:?}");
}
