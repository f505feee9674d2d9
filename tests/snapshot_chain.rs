//! Incremental snapshots of a real etcd 3.4 under a bounded write load: every link of a
//! chain restores to what etcd serves at its revision; a chain restores to the same db
//! bytes as a full snapshot at the same revision (and so does its merge); broken links are
//! caught; snapshots stream through stdout and stdin.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The header facts of the snapshot at `p`.
fn facts(p: &Path) -> reshift::snapshot::Facts {
    let bytes = std::fs::read(p).unwrap();
    let name: reshift::error::FileName = std::sync::Arc::from(p);
    reshift::snapshot::Snapshot::open(&bytes, &name)
        .unwrap()
        .facts
}

fn at(p: &Path) -> i64 {
    let f = facts(p);
    f.at_revision.unwrap_or(f.revision)
}

/// 20 transactions of 50 puts each: enough pages that commits reuse freed ones.
fn prefill(etcd: &Etcd) {
    for t in 0..20 {
        let mut ops = String::from("\n");
        for k in 0..50 {
            let v = "p".repeat(100 + (t * 31 + k * 17) % 1500);
            ops.push_str(&format!("put pre/{t:02}/{k:02} {v}\n"));
        }
        ops.push_str("\n\n");
        etcd.txn_quiet(&ops);
    }
}

/// One writer: puts, overwrites and deletes until `stop` (or 2000 rounds).
fn writer(etcd: Arc<Etcd>, id: usize, stop: Arc<AtomicBool>) -> usize {
    let mut i = 0usize;
    while !stop.load(Ordering::Relaxed) && i < 2000 {
        let k = (i * 7 + id) % 50;
        let args: Vec<String> = match i % 3 {
            0 | 1 => vec![
                "put".into(),
                format!("w/{id}/{k:02}"),
                format!("{i}-{}", "v".repeat((i * 131) % 900)),
            ],
            _ => vec!["del".into(), format!("pre/{:02}/{:02}", (i + id) % 20, k)],
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let _ = etcd
            .ctl_cmd(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        i += 1;
    }
    i
}

/// `etcdctl get "" --prefix --rev R -w json`'s kvs, waiting while etcd has not yet applied
/// R (reshift replays the WAL entries etcd has persisted but may not have applied yet).
fn etcd_at(etcd: &Etcd, rev: i64) -> Vec<serde_json::Value> {
    let r = format!("--rev={rev}");
    for _ in 0..100 {
        let o = etcd
            .ctl_cmd(&["get", "", "--prefix", "-w", "json", &r])
            .output()
            .unwrap();
        if o.status.success() {
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            return v["kvs"].as_array().cloned().unwrap_or_default();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("etcd never served revision {rev}");
}

/// Takes a snapshot of `data` to `out`, incremental on `since` when given.
fn snapshot(data: &Path, out: &Path, since: Option<&Path>) {
    let mut args = vec!["snapshot", s(data), "-o", s(out)];
    if let Some(p) = since {
        args.extend(["--since", s(p)]);
    }
    ok(&args);
}

/// `reshift dump` of the db a restore of `snap` writes (with extra args).
fn restored_dump(snap: &Path, tmp: &Path, extra: &[&str]) -> Vec<serde_json::Value> {
    let db = tmp.join(format!(
        "{}.restored.db",
        snap.file_name().unwrap().to_string_lossy()
    ));
    let _ = std::fs::remove_file(&db);
    let mut args = vec!["restore", s(snap), "--db-out", s(&db)];
    args.extend_from_slice(extra);
    ok(&args);
    json_lines(&ok(&["dump", s(&db)]))
}

/// A chain of a full snapshot and five incrementals of a member under write load, read
/// live; the source is compacted past a link (with deletions in between) before the next.
/// Every link restores to exactly what etcd served at its revision, and checks intact.
#[test]
fn each_link_of_a_chain_under_load_restores_to_what_etcd_served() {
    if !etcd_available("each_link_of_a_chain_under_load_restores_to_what_etcd_served") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("m1");
    let etcd = Arc::new(Etcd::start(&data, "m1"));
    prefill(&etcd);
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|id| {
            let (e, st) = (etcd.clone(), stop.clone());
            std::thread::spawn(move || writer(e, id, st))
        })
        .collect();
    let backups = tmp.path().join("backups");
    std::fs::create_dir(&backups).unwrap();
    let mut links: Vec<(PathBuf, i64, Vec<serde_json::Value>)> = Vec::new();
    let t0 = Instant::now();
    for i in 0..6 {
        std::thread::sleep(Duration::from_millis(700));
        if i == 4 {
            // Deletions, then a compaction past the last link: their tombstones are gone
            // from the source when the next incremental is taken.
            for k in 0..10 {
                etcd.ctl(&["del", &format!("pre/19/{k:02}")]);
            }
            let (rev, _) = etcd.get_all(None);
            etcd.ctl(&["compact", &rev.to_string()]);
        }
        let f = backups.join(format!("link-{i}.rsnap"));
        snapshot(&data, &f, links.last().map(|l| l.0.as_path()));
        let r = at(&f);
        let served = etcd_at(&etcd, r);
        links.push((f, r, served));
    }
    stop.store(true, Ordering::Relaxed);
    let writes: usize = writers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(writes > 20, "only {writes} writes under load");
    assert!(t0.elapsed() < Duration::from_secs(90));
    let revs: Vec<i64> = links.iter().map(|l| l.1).collect();
    assert!(revs.windows(2).all(|w| w[0] < w[1]), "{revs:?}");
    for (i, (f, r, served)) in links.iter().enumerate() {
        let fc = facts(f);
        assert_eq!(fc.base.is_some(), i > 0, "link {i}");
        let ours = restored_dump(f, tmp.path(), &[]);
        assert!(
            &ours == served,
            "link {i} at {r}: {} keys restored, etcd served {}",
            ours.len(),
            served.len()
        );
        // The dump of the chain itself is the same, and the chain checks intact.
        assert_eq!(json_lines(&ok(&["dump", s(f)])), ours, "link {i}");
        let out = String::from_utf8(ok(&["check", s(f)])).unwrap();
        assert_eq!(out.matches(": intact").count(), i + 1, "{out}");
    }
    // The incrementals hold only what changed: far less than the full snapshot's records.
    let records = |f: &Path| -> u64 {
        let c = json_lines(&ok(&["check", s(f), "-o", "json"]));
        c.last().unwrap()["records"].as_u64().unwrap()
    };
    assert!(records(&links[1].0) < records(&links[0].0));
}

/// Ten incrementals (puts, overwrites, deletions, a lease granted then revoked, a
/// compaction past a link) restore to the same db bytes as a full snapshot of the member at
/// the same revision, and so does the chain merged into one file. Then the chain is broken
/// every way: an altered byte in a base, a missing base, a base found only with --chain.
#[test]
fn ten_incrementals_restore_to_the_bytes_of_a_full_snapshot() {
    if !etcd_available("ten_incrementals_restore_to_the_bytes_of_a_full_snapshot") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("m2");
    let mut etcd = Etcd::start(&data, "m2");
    prefill(&etcd);
    let dir = tmp.path().join("chain");
    std::fs::create_dir(&dir).unwrap();
    let mut files = vec![dir.join("c00.rsnap")];
    snapshot(&data, &files[0], None);
    let lease: serde_json::Value =
        serde_json::from_slice(&etcd.ctl(&["lease", "grant", "600", "-w", "json"])).unwrap();
    let lease = format!("{:x}", lease["ID"].as_i64().unwrap());
    for round in 1..=10 {
        let mut ops = String::from("\n");
        for k in 0..8 {
            ops.push_str(&format!(
                "put r/{:02} {round}-{}\n",
                (round * 3 + k) % 30,
                "x".repeat(50 * k)
            ));
        }
        ops.push_str(&format!("del pre/{round:02}/\n\n\n"));
        etcd.txn_quiet(&ops);
        etcd.ctl(&["del", "--prefix", &format!("pre/{:02}/1", round + 5)]);
        match round {
            2 => {
                etcd.ctl(&["put", "leased", "v", "--lease", &lease]);
            }
            5 => {
                let (rev, _) = etcd.get_all(None);
                etcd.ctl(&["compact", &rev.to_string()]);
            }
            7 => {
                etcd.ctl(&["lease", "revoke", &lease]);
            }
            _ => {}
        }
        if round == 10 {
            // The last link and the full snapshot read the same stopped member.
            etcd.kill();
        }
        let f = dir.join(format!("c{round:02}.rsnap"));
        snapshot(&data, &f, files.last().map(PathBuf::as_path));
        files.push(f);
    }
    let last = files.last().unwrap().clone();
    let full = tmp.path().join("full.rsnap");
    snapshot(&data, &full, None);
    assert_eq!(at(&last), at(&full));
    let restore = |snap: &Path, name: &str, extra: &[&str]| -> Vec<u8> {
        let db = tmp.path().join(name);
        let mut args = vec!["restore", s(snap), "--db-out", s(&db)];
        args.extend_from_slice(extra);
        ok(&args);
        std::fs::read(&db).unwrap()
    };
    let want = restore(&full, "full.db", &[]);
    assert!(
        restore(&last, "chain.db", &[]) == want,
        "chain restore differs"
    );
    let merged = tmp.path().join("merged.rsnap");
    ok(&["snapshot", "--merge", s(&last), "-o", s(&merged)]);
    assert!(facts(&merged).base.is_none());
    assert!(
        restore(&merged, "merged.db", &[]) == want,
        "merged restore differs"
    );
    // Member dirs too.
    let member = |snap: &Path, name: &str| -> Vec<u8> {
        let d = tmp.path().join(name);
        ok(&["restore", s(snap), "--data-dir", s(&d)]);
        std::fs::read(d.join("member/snap/db")).unwrap()
    };
    assert!(member(&last, "chain-m") == member(&full, "full-m"));
    let out = String::from_utf8(ok(&["check", s(&last)])).unwrap();
    assert_eq!(out.matches(": intact").count(), 11, "{out}");

    // An altered byte in a base: every read and check of the chain says which file.
    let base = files[4].clone();
    let mut bytes = std::fs::read(&base).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x20;
    std::fs::write(&base, &bytes).unwrap();
    let (code, out, _) = run(&["check", s(&last)]);
    let out = String::from_utf8(out).unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("broken chain") && out.contains("c04.rsnap") && out.contains("altered"),
        "{out}"
    );
    for cmd in ["dump", "inspect"] {
        let (code, _, err) = run(&[cmd, s(&last)]);
        assert_ne!(code, 0, "{cmd}");
        assert!(
            err.contains("c04.rsnap")
                && err.contains("broken chain")
                && err.trim().lines().count() == 1,
            "{cmd}: {err}"
        );
    }
    bytes[mid] ^= 0x20;
    std::fs::write(&base, &bytes).unwrap();
    ok(&["check", s(&last)]);

    // A missing base, then the base found in --chain DIR.
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::rename(&base, elsewhere.join("renamed.rsnap")).unwrap();
    let (code, _, err) = run(&["restore", s(&last), "--db-out", s(&tmp.path().join("x.db"))]);
    assert_ne!(code, 0);
    assert!(
        err.contains("c05.rsnap") && err.contains("missing") && err.contains("revision"),
        "{err}"
    );
    let (code, out, _) = run(&["check", s(&last)]);
    assert_eq!(code, 1, "{}", String::from_utf8_lossy(&out));
    assert!(
        restore(&last, "found.db", &["--chain", s(&elsewhere)]) == want,
        "chain found through --chain differs"
    );
}

/// `-o -` streams a snapshot through a pipe (no seek); `check -` and `restore -` read
/// one from stdin, an incremental with its chain from --chain.
#[test]
fn snapshots_stream_through_stdout_and_stdin() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("clean.rsnap");
    ok(&["snapshot", &clean(), "-o", s(&file)]);
    let spooled = || {
        std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(".reshift-stdin-")
            })
            .count()
    };
    let spooled_before = spooled();
    let piped = ok(&["snapshot", &clean(), "-o", "-"]);
    assert!(piped.starts_with(b"RSHIFTSN"), "not a snapshot on stdout");
    assert!(std::fs::read_dir(tmp.path()).unwrap().count() == 1);
    let with_stdin = |args: &[&str], input: &[u8]| -> (i32, Vec<u8>, String) {
        use std::io::Write;
        let mut c = reshift()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut sin = c.stdin.take().unwrap();
        let input = input.to_vec();
        let feeder = std::thread::spawn(move || {
            let _ = sin.write_all(&input);
        });
        let o = c.wait_with_output().unwrap();
        feeder.join().unwrap();
        (
            o.status.code().unwrap_or(-1),
            o.stdout,
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, out, err) = with_stdin(&["check", "-"], &piped);
    assert_eq!(code, 0, "{err}");
    assert!(String::from_utf8_lossy(&out).contains("intact"));
    let (a, b) = (tmp.path().join("a.db"), tmp.path().join("b.db"));
    let (code, _, err) = with_stdin(&["restore", "-", "--db-out", s(&a)], &piped);
    assert_eq!(code, 0, "{err}");
    ok(&["restore", s(&file), "--db-out", s(&b)]);
    assert!(std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap());
    // A damaged stream is refused.
    let mut bad = piped.clone();
    let n = bad.len();
    bad[n / 2] ^= 1;
    let (code, _, _) = with_stdin(&["check", "-"], &bad);
    assert_eq!(code, 1);
    // The spooled copies do not outlive the commands.
    assert_eq!(spooled(), spooled_before);
    // An incremental on stdin finds its base through --chain.
    let inc = ok(&["snapshot", &clean(), "--since", s(&file), "-o", "-"]);
    let (code, _, err) = with_stdin(&["check", "-"], &inc);
    assert_eq!(code, 1, "{err}");
    let c = tmp.path().join("c.db");
    let (code, _, err) = with_stdin(
        &["restore", "-", "--db-out", s(&c), "--chain", s(tmp.path())],
        &inc,
    );
    assert_eq!(code, 0, "{err}");
    assert!(std::fs::read(&c).unwrap() == std::fs::read(&b).unwrap());
}

/// `--dir BACKUPS` names, chains and prunes: a full snapshot, incrementals on the newest,
/// a full one again after --full-every; --keep never deletes the newest file nor a file a
/// kept incremental depends on; files are 0600; a damaged newest file stops the run before
/// anything is deleted.
#[test]
fn retention_keeps_the_newest_and_what_it_depends_on() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("backups");
    std::fs::create_dir(&dir).unwrap();
    let run_once = || -> serde_json::Value {
        let out = ok(&[
            "snapshot",
            &clean(),
            "--dir",
            s(&dir),
            "--keep",
            "2",
            "--full-every",
            "3",
        ]);
        std::thread::sleep(Duration::from_millis(5));
        json_lines(&out).remove(0)
    };
    let names = || -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let mut written = Vec::new();
    for i in 0..6 {
        let w = run_once();
        let p = PathBuf::from(w["path"].as_str().unwrap());
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // Full, three incrementals, full, incremental.
        assert_eq!(
            w["incremental"],
            serde_json::json!(!matches!(i, 0 | 4)),
            "{i}: {w}"
        );
        assert!(p.to_string_lossy().ends_with(".inc.rsnap") == !matches!(i, 0 | 4));
        assert!(w["verified"].as_u64().unwrap() >= 1, "{w}");
        written.push((p, w));
    }
    // After the 4th (third incremental), --keep 2 still kept the whole chain it needs.
    let d3 = written[3].1["deleted"].as_array().unwrap();
    assert!(d3.is_empty(), "{d3:?}");
    // The 5th (a full one) kept the newest two: itself and the incremental before it, with
    // that incremental's whole chain.
    assert!(written[4].1["deleted"].as_array().unwrap().is_empty());
    // The 6th (incremental on the new full) lets the old chain go.
    let d5: Vec<&str> = written[5].1["deleted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(d5.len(), 4, "{d5:?}");
    let left = names();
    assert_eq!(left.len(), 2, "{left:?}");
    for (p, _) in &written[4..] {
        assert!(p.exists());
    }
    // The newest restores through its chain.
    ok(&["check", s(&written[5].0)]);
    // A damaged newest file is passed over, named, never a base and never deleted: the
    // next incremental is on the newest intact file.
    let newest = &written[5].0;
    let mut b = std::fs::read(newest).unwrap();
    let n = b.len();
    b[n / 2] ^= 0x40;
    std::fs::write(newest, &b).unwrap();
    let (code, out, err) = run(&["snapshot", &clean(), "--dir", s(&dir), "--keep", "1"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("damaged") && err.contains(&*newest.to_string_lossy()),
        "{err}"
    );
    let w = json_lines(&out).remove(0);
    assert_eq!(w["base"].as_str().unwrap(), s(&written[4].0), "{w}");
    assert!(newest.exists() && written[4].0.exists());
    assert!(w["deleted"].as_array().unwrap().is_empty(), "{w}");
    assert_eq!(names().len(), 3);
}

/// Incrementals of a member between runs of etcd (stopped after it went idle, so its db
/// holds every request and its WAL only what does not change the keyspace — the start's
/// v2 attribute publish, empty entries — which the incremental reads as only the records
/// after its base; once SIGKILLed right after writes, whose last requests only the WAL
/// holds): each link restores to the same db bytes as a full snapshot of the member at
/// the same time. Then an incremental written on a base altered in a chunk (bytes the
/// write does not read): every read of it reports the broken link and names the base.
#[test]
fn incrementals_between_runs_restore_to_the_bytes_of_full_snapshots() {
    if !etcd_available("incrementals_between_runs_restore_to_the_bytes_of_full_snapshots") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("m3");
    let dir = tmp.path().join("chain");
    std::fs::create_dir(&dir).unwrap();
    let restore = |snap: &Path, name: &str| -> Vec<u8> {
        let db = tmp.path().join(name);
        ok(&["restore", s(snap), "--db-out", s(&db)]);
        std::fs::read(&db).unwrap()
    };
    let mut etcd = Etcd::start(&data, "m3");
    prefill(&etcd);
    std::thread::sleep(Duration::from_millis(600));
    etcd.kill();
    let mut last = dir.join("r0.rsnap");
    snapshot(&data, &last, None);
    for round in 1..=4 {
        let mut etcd = Etcd::start(&data, "m3");
        if round != 3 {
            // Round 3 writes nothing: only the start's own entries follow the db.
            let mut ops = String::from("\n");
            for k in 0..12 {
                ops.push_str(&format!("put pre/{:02}/{k:02} r{round}\n", round * 2));
            }
            ops.push_str(&format!("del pre/{:02}/\n\n\n", round * 2 + 1));
            etcd.txn_quiet(&ops);
            etcd.ctl(&["put", &format!("new/{round}"), "v"]);
        }
        if round != 4 {
            std::thread::sleep(Duration::from_millis(600));
        }
        etcd.kill();
        let next = dir.join(format!("r{round}.rsnap"));
        snapshot(&data, &next, Some(&last));
        assert!(facts(&next).base.is_some());
        let full = tmp.path().join(format!("full{round}.rsnap"));
        snapshot(&data, &full, None);
        assert_eq!(at(&next), at(&full), "round {round}");
        assert!(
            restore(&next, &format!("chain{round}.db"))
                == restore(&full, &format!("full{round}.db")),
            "round {round}: the chain restores to other bytes than the full snapshot"
        );
        last = next;
    }
    let out = String::from_utf8(ok(&["check", s(&last)])).unwrap();
    assert_eq!(out.matches(": intact").count(), 5, "{out}");

    // A base altered in a chunk, then an incremental written on it.
    let altered = tmp.path().join("altered");
    std::fs::create_dir(&altered).unwrap();
    let base = altered.join("base.rsnap");
    let mut bytes = std::fs::read(dir.join("r0.rsnap")).unwrap();
    // A byte of the first chunk, which lies right after the header.
    let hlen = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    bytes[20 + hlen + 16] ^= 0x08;
    std::fs::write(&base, &bytes).unwrap();
    let on_it = altered.join("on-it.rsnap");
    ok(&["snapshot", s(&data), "--since", s(&base), "-o", s(&on_it)]);
    let (code, out, _) = run(&["check", s(&on_it)]);
    let out = String::from_utf8(out).unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("broken chain") && out.contains("base.rsnap") && out.contains("altered"),
        "{out}"
    );
    for cmd in ["dump", "inspect"] {
        let (code, _, err) = run(&[cmd, s(&on_it)]);
        assert_ne!(code, 0, "{cmd}");
        assert!(
            err.contains("base.rsnap") && err.contains("broken chain"),
            "{cmd}: {err}"
        );
    }
}

/// A base taken of another cluster is refused also when the source's cluster id is not
/// known (a bare db file, or a data dir read with --no-wal): the base's member is neither a
/// member nor a removed member of the source's cluster. Without the refusal, the
/// incremental reads as the other cluster's keys under this one's newer records. A base
/// of the same member is still taken from its bare db.
#[test]
fn a_base_of_another_cluster_is_refused_without_cluster_ids() {
    if !etcd_available("a_base_of_another_cluster_is_refused_without_cluster_ids") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (da, db) = (tmp.path().join("ca"), tmp.path().join("cb"));
    let mut a = Etcd::start(&da, "ca");
    let mut b = Etcd::start(&db, "cb");
    for i in 0..10 {
        a.ctl(&["put", &format!("k{i:02}"), "from-a"]);
    }
    for i in 0..20 {
        b.ctl(&["put", &format!("k{i:02}"), "from-b"]);
    }
    std::thread::sleep(Duration::from_millis(600));
    a.kill();
    b.kill();
    let prev = tmp.path().join("a.rsnap");
    snapshot(&da, &prev, None);
    let bare = db.join("member/snap/db");
    let wrong = tmp.path().join("b-on-a.rsnap");
    for args in [vec![s(&bare)], vec![s(&db), "--no-wal"], vec![s(&db)]] {
        let mut args = [vec!["snapshot"], args].concat();
        args.extend(["--since", s(&prev), "-o", s(&wrong)]);
        let (code, _, err) = run(&args);
        assert_ne!(code, 0, "{args:?} accepted a base of another cluster");
        assert!(err.contains("not a base"), "{args:?}: {err}");
        assert!(!wrong.exists(), "{args:?}");
    }
    // The same member's bare db takes it.
    let mut a = Etcd::start(&da, "ca");
    a.ctl(&["put", "k00", "again"]);
    std::thread::sleep(Duration::from_millis(600));
    let (rev, served) = a.get_all(None);
    a.kill();
    let next = tmp.path().join("a2.rsnap");
    ok(&[
        "snapshot",
        s(&da.join("member/snap/db")),
        "--since",
        s(&prev),
        "-o",
        s(&next),
    ]);
    assert_eq!(at(&next), rev);
    assert_eq!(json_lines(&ok(&["dump", s(&next)])), served);
}
