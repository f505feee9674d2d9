//! Oracle for the whole-cluster view: a real 3-member etcd cluster on loopback whose members
//! are SIGKILLed mid-write at different times (one follower first, then the other, then
//! the leader with proposals it could not commit). `reshift cluster` on copies of the three
//! data dirs must name the newest member, and `reshift dump/inspect/hash --cluster` must
//! equal what the same etcd serves when the members are restarted on other copies: all
//! three, and two of three (the third kept dead).

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const NAMES: [&str; 3] = ["m0", "m1", "m2"];

fn initial_cluster(ports: &[u16; 3]) -> String {
    NAMES
        .iter()
        .zip(ports)
        .map(|(n, p)| format!("{n}=http://127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Members batch their db writes for a long time, so the last writes are in the WAL only.
const FLAGS: &[&str] = &[
    "--backend-batch-interval=3s",
    "--initial-cluster-token",
    "reshift-test",
];

/// Starts the members `which` on `dirs` (fresh or restarted copies) and waits for a leader.
fn start(
    bin: Option<&Path>,
    dirs: &[PathBuf; 3],
    ports: &[u16; 3],
    which: &[usize],
) -> Vec<(usize, Etcd)> {
    let ic = initial_cluster(ports);
    let ms: Vec<(usize, Etcd)> = which
        .iter()
        .map(|&i| {
            (
                i,
                Etcd::spawn_member(bin, &dirs[i], NAMES[i], ports[i], &ic, FLAGS),
            )
        })
        .collect();
    for (_, e) in &ms {
        e.wait_healthy();
    }
    ms
}

/// `threads` writers putting to `e` until `stop` (at most `max` puts each); keys are
/// overwritten so versions grow.
fn writers(
    e: &Etcd,
    tag: &str,
    threads: usize,
    max: usize,
    stop: &Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<usize>> {
    (0..threads)
        .map(|t| {
            let stop = stop.clone();
            let (bin, ep, tag) = (e.bin.clone(), e.endpoint.clone(), tag.to_string());
            std::thread::spawn(move || {
                let mut done = 0;
                for i in 0..max {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let ok = etcd_cmd(bin.as_deref(), "etcdctl")
                        .env("ETCDCTL_API", "3")
                        .args(["--endpoints", &ep, "--command-timeout=2s", "put"])
                        .arg(format!("/k/{tag}/{t}/{}", i % 7))
                        .arg(format!("{tag}-{t}-{i}-{}", "x".repeat(i % 50)))
                        .stdout(std::process::Stdio::null())
                        .stderr(std::process::Stdio::null())
                        .status()
                        .is_ok_and(|s| s.success());
                    if ok {
                        done += 1;
                    }
                }
                done
            })
        })
        .collect()
}

fn join(hs: Vec<std::thread::JoinHandle<usize>>) -> usize {
    hs.into_iter().map(|h| h.join().unwrap()).sum()
}

fn arg(dirs: &[&PathBuf]) -> String {
    dirs.iter()
        .map(|d| d.to_str().unwrap())
        .collect::<Vec<_>>()
        .join(",")
}

fn view(dirs: &[&PathBuf]) -> serde_json::Value {
    let out = ok(&["cluster", &arg(dirs), "-o", "json"]);
    serde_json::from_slice(&out).unwrap()
}

fn member<'a>(v: &'a serde_json::Value, dir: &Path) -> &'a serde_json::Value {
    v["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["path"] == dir.to_str().unwrap())
        .unwrap()
}

/// Restarts the members `which` on fresh copies of `pristine`, and compares what they
/// serve with reshift's `--cluster` reading of the pristine copies.
fn restart_and_compare(
    bin: Option<&Path>,
    root: &Path,
    run: &str,
    pristine: &[PathBuf; 3],
    ports: &[u16; 3],
    which: &[usize],
) -> serde_json::Value {
    let dirs: [PathBuf; 3] = std::array::from_fn(|i| root.join(run).join(NAMES[i]));
    for &i in which {
        copy_tree(&pristine[i], &dirs[i]);
    }
    let given: Vec<&PathBuf> = which.iter().map(|&i| &pristine[i]).collect();
    let v = view(&given);
    let ms = start(bin, &dirs, ports, which);
    let e = &ms[0].1;
    let (header, kvs) = e.get_all(None);
    let (_, leader) = e.status_ids();
    let winner = which
        .iter()
        .copied()
        .find(|&i| member(&v, &pristine[i])["member_id"] == format!("{leader:x}"))
        .expect("the leader is one of the restarted members");
    assert_eq!(
        member(&v, &pristine[winner])["can_win"],
        true,
        "{run}: the elected member is among the possible winners: {v}"
    );
    // What reshift says is served when `winner` wins: the restarted members whose logs are
    // not more up to date than the winner's (they elect it).
    let key = |i: usize| {
        let m = member(&v, &pristine[i]);
        (
            m["last_term"].as_u64().unwrap(),
            m["last_index"].as_u64().unwrap(),
        )
    };
    let as_winner: Vec<&PathBuf> = which
        .iter()
        .filter(|&&i| key(i) <= key(winner))
        .map(|&i| &pristine[i])
        .collect();
    if v["served_certain"] == true {
        assert_eq!(as_winner.len(), which.len(), "{run}: {v}");
    }
    let c = arg(&as_winner);
    let ours = json_lines(&ok(&["dump", "--cluster", &c]));
    assert_eq!(ours.len(), kvs.len(), "{run}: number of keys served");
    assert_eq!(
        ours, kvs,
        "{run}: the keyspace the restarted cluster serves"
    );
    let ins: serde_json::Value =
        serde_json::from_slice(&ok(&["inspect", "--cluster", &c, "-o", "json"])).unwrap();
    assert_eq!(ins["revision"], header, "{run}: the served revision");
    let h: serde_json::Value =
        serde_json::from_slice(&ok(&["hash", "--cluster", &c, "-o", "json"])).unwrap();
    let theirs: serde_json::Value =
        serde_json::from_slice(&e.ctl(&["endpoint", "hashkv", "-w", "json"])).unwrap();
    assert_eq!(h["hash"], theirs[0]["HashKV"]["hash"], "{run}: HashKV");
    eprintln!(
        "{run}: {} elected, serving index {} at revision {header} ({} keys); reshift read {}'s db then the newest's log",
        NAMES[winner],
        v["served_index"],
        kvs.len(),
        v["db_from"]
    );
    drop(ms);
    // restore --cluster: a new member from the served keyspace holds the same keys.
    if run == "l-f1" {
        let out = root.join(format!("{run}-restored"));
        ok(&[
            "restore",
            "--cluster",
            &c,
            "--data-dir",
            out.to_str().unwrap(),
        ]);
        let e = Etcd::start_with(bin, &out, "default", &[]);
        let (rh, rkvs) = e.get_all(None);
        assert_eq!(
            (rh, &rkvs),
            (header, &kvs),
            "{run}: restored from --cluster"
        );
    }
    v
}

fn scenario(bin: Option<&Path>) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let ports: [u16; 3] = std::array::from_fn(|_| free_port());
    let live: [PathBuf; 3] = std::array::from_fn(|i| root.join("live").join(NAMES[i]));
    std::fs::create_dir_all(root.join("live")).unwrap();
    let mut ms = start(bin, &live, &ports, &[0, 1, 2]);
    let ids: Vec<(u64, u64)> = ms.iter().map(|(_, e)| e.status_ids()).collect();
    let leader = ids[0].1;
    let l = ids.iter().position(|(id, _)| *id == leader).unwrap();
    let (f1, f2) = match l {
        0 => (1, 2),
        1 => (0, 2),
        _ => (0, 1),
    };
    // Phase 1: all three take writes; F1 is killed while they go on.
    let stop = Arc::new(AtomicBool::new(false));
    let w = writers(&ms[l].1, "a", 4, 400, &stop);
    std::thread::sleep(Duration::from_millis(1500));
    ms[f1].1.kill();
    // Phase 2: L and F2 commit without F1; then F2 is killed mid-write.
    std::thread::sleep(Duration::from_millis(1500));
    ms[f2].1.kill();
    // L alone appends what it is asked to, but commits none of it.
    let late = writers(&ms[l].1, "late", 3, 1, &Arc::new(AtomicBool::new(false)));
    std::thread::sleep(Duration::from_millis(400));
    ms[l].1.kill();
    stop.store(true, Ordering::Relaxed);
    let acked = join(w);
    join(late);
    drop(ms);
    assert!(acked > 20, "{acked} writes acknowledged");

    let pristine: [PathBuf; 3] = std::array::from_fn(|i| root.join("pristine").join(NAMES[i]));
    for i in 0..3 {
        copy_tree(&live[i], &pristine[i]);
    }
    let (pl, p1, p2) = (&pristine[l], &pristine[f1], &pristine[f2]);

    // The view of all three.
    let v = view(&[p1, pl, p2]);
    assert_eq!(v["newest"], NAMES[l], "{v}");
    assert_eq!(member(&v, pl)["status"], "newest", "{v}");
    assert_eq!(member(&v, p1)["status"], "behind", "{v}");
    assert_eq!(member(&v, p1)["can_win"], false, "{v}");
    let last = |p: &Path| member(&v, p)["last_index"].as_u64().unwrap();
    assert!(last(p1) < last(p2) && last(p2) <= last(pl), "{v}");
    let committed = v["committed_index"].as_u64().unwrap();
    let served = v["served_index"].as_u64().unwrap();
    assert_eq!(served, last(pl), "{v}");
    assert!(
        committed < served,
        "the leader holds entries no quorum acknowledged: {v}"
    );
    assert_eq!(
        v["quorum_index"].as_u64().unwrap(),
        last(p2).min(last(pl)),
        "{v}"
    );
    let table = String::from_utf8(ok(&[
        "cluster",
        p1.to_str().unwrap(),
        pl.to_str().unwrap(),
        p2.to_str().unwrap(),
    ]))
    .unwrap();
    eprintln!("{table}");
    assert!(
        table.contains(&format!("newest member: {}", NAMES[l])),
        "{table}"
    );

    // Two of three: the leader and the follower killed first. The leader wins and serves
    // its whole log, past what was committed.
    let v2 = restart_and_compare(bin, root, "l-f1", &pristine, &ports, &[l, f1]);
    assert_eq!(v2["newest"], NAMES[l], "{v2}");
    assert_eq!(v2["served_certain"], true, "{v2}");
    assert!(v2["served_index"].as_u64().unwrap() > committed, "{v2}");
    // The two followers: F2 is newest.
    let v3 = restart_and_compare(bin, root, "f2-f1", &pristine, &ports, &[f2, f1]);
    assert_eq!(v3["newest"], NAMES[f2], "{v3}");
    // All three.
    restart_and_compare(bin, root, "all", &pristine, &ports, &[0, 1, 2]);
}

#[test]
fn killed_cluster_3_4_serves_what_reshift_says() {
    if !etcd_available("killed_cluster_3_4_serves_what_reshift_says") {
        return;
    }
    scenario(None);
}

#[test]
fn killed_cluster_3_5_serves_what_reshift_says() {
    let Some(bin) = etcd35("killed_cluster_3_5_serves_what_reshift_says") else {
        return;
    };
    scenario(Some(&bin));
}
