//! Memory stays flat in what a listing holds: `ls -o objects` and `ls -o yaml` of large
//! objects hold a window of about 32 MiB of stored values, not every object.

mod common;
use common::*;
use std::path::Path;
use std::time::Duration;

/// A db of `n` JSON-stored ConfigMaps of about `len` bytes (reshift's bbolt writer, etcd's
/// layout).
fn configmaps_db(path: &Path, n: usize, len: usize) {
    let puts: Vec<(Vec<u8>, Vec<u8>)> = (0..n)
        .map(|i| {
            let key = format!("/registry/configmaps/ns{}/cm{i:05}", i % 3);
            let filler: String = (0..len)
                .map(|j| char::from(b'a' + ((i * 7 + j * 13 + j / 97) % 26) as u8))
                .collect();
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
