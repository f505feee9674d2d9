//! Memory stays flat in what a listing holds: `ls -o objects` and `ls -o yaml` of large
//! objects hold a window of about 32 MiB of stored values, not every object; a snapshot of
//! values that barely compress holds two windows of a few chunks per thread, not the
//! whole file's frames.

mod common;
use common::*;
use std::path::Path;
use std::time::Duration;

/// A db of `n` JSON-stored ConfigMaps of about `len` bytes (reshift's bbolt writer, etcd's
/// layout).
fn configmaps_db(path: &Path, n: usize, len: usize) {
    configmaps_db_with(path, n, |i| {
        (0..len)
            .map(|j| char::from(b'a' + ((i * 7 + j * 13 + j / 97) % 26) as u8))
            .collect()
    })
}

/// [`configmaps_db`] whose `data.k` of object `i` is `filler(i)`.
fn configmaps_db_with(path: &Path, n: usize, filler: impl Fn(usize) -> String) {
    let puts: Vec<(Vec<u8>, Vec<u8>)> = (0..n)
        .map(|i| {
            let key = format!("/registry/configmaps/ns{}/cm{i:05}", i % 3);
            let filler = filler(i);
            let value = format!(
                r#"{{"kind":"ConfigMap","apiVersion":"v1","metadata":{{"name":"cm{i:05}","namespace":"ns{}","uid":"u{i}","creationTimestamp":"2026-11-01T00:00:00Z"}},"data":{{"k":"{filler}"}}}}"#,
                i % 3
            );
            (key.into_bytes(), value.into_bytes())
        })
        .collect();
    reshift::restore::db::write_puts_db(path, &puts).unwrap();
}

/// Runs reshift with stdout to a file; returns (exit code, peak RssAnon in KiB, sampled
/// every 2 ms from /proc — file-backed pages such as the mapped db are not counted).
fn peak_anon(args: &[&str], out: &Path) -> (Option<i32>, u64) {
    let mut child = reshift()
        .args(args)
        .stdout(std::fs::File::create(out).unwrap())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(s) = std::fs::read_to_string(&status) {
            if let Some(l) = s.lines().find(|l| l.starts_with("RssAnon:")) {
                let kib: u64 = l.split_whitespace().nth(1).unwrap().parse().unwrap();
                peak = peak.max(kib);
            }
        }
        if let Some(s) = child.try_wait().unwrap() {
            return (s.code(), peak);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn listing_large_objects_holds_a_window_not_every_object() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("big.db");
    // 160 objects of 1 MiB: holding them all, decoded, would take 300 MB and more.
    configmaps_db(&db, 160, 1 << 20);
    let out = tmp.path().join("out");
    for format in ["objects", "yaml"] {
        let (code, peak) = peak_anon(&["ls", "-o", format, db.to_str().unwrap()], &out);
        assert_eq!(code, Some(0));
        let text = std::fs::read_to_string(&out).unwrap();
        let objects = text.matches("\"kind\":\"ConfigMap\"").count()
            + text.matches("\nkind: ConfigMap").count();
        assert_eq!(objects, 160, "-o {format}");
        assert!(
            peak < 120 << 10,
            "-o {format}: peak RssAnon {} MB",
            peak >> 10
        );
    }
}

#[test]
fn snapshot_of_incompressible_values_holds_two_windows_not_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("helm.db");
    // 200 objects of 1 MiB of base64 of random bytes (as Helm's release records are): each
    // chunk's frame is nearly as large as its records.
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    configmaps_db_with(&db, 200, |i| {
        let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ (i as u64 + 1);
        (0..1 << 20)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from(B64[(x >> 58) as usize])
            })
            .collect()
    });
    let snap = tmp.path().join("helm.rsnap");
    let (code, peak) = peak_anon(
        &[
            "snapshot",
            "--threads",
            "2",
            db.to_str().unwrap(),
            "-o",
            snap.to_str().unwrap(),
        ],
        &tmp.path().join("out"),
    );
    assert_eq!(code, Some(0));
    let size = std::fs::metadata(&snap).unwrap().len();
    assert!(size > 140 << 20, "the values compressed to {size} bytes");
    // Windows of 16 chunks a thread held 113 MB here; windows bounded by bytes hold 30 MB.
    assert!(peak < 64 << 10, "peak RssAnon {} MB", peak >> 10);
    let out = reshift()
        .args([
            "get",
            snap.to_str().unwrap(),
            "/registry/configmaps/ns1/cm00199",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let value = String::from_utf8(out.stdout).unwrap();
    assert!(value.contains("cm00199") && value.len() > 1 << 20);
}
