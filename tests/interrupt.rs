//! Outputs under interrupts and mount points: SIGINT/SIGTERM during `snapshot` and
//! `restore` leave no temp file or dir behind, and `restore --data-dir` into an existing
//! empty mount point writes the member dir in place, which a real etcd then serves.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A db of `n` keys with `len`-byte values that do not compress much, written with
/// reshift's bbolt writer (etcd's bucket layout, a consistent index), so that reading and
/// writing it takes long enough to be interrupted.
fn big_db(path: &Path, n: usize, len: usize) {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let puts: Vec<(Vec<u8>, Vec<u8>)> = (0..n)
        .map(|i| {
            let key = format!("/registry/configmaps/ns{}/cm{i:07}", i % 50);
            let value = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    b'a' + (state % 16) as u8
                })
                .collect();
            (key.into_bytes(), value)
        })
        .collect();
    reshift::restore::db::write_puts_db(path, &puts).unwrap();
}

/// Temp names reshift writes beside or inside an output (`.NAME.tmp-PID`).
fn temps_in(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.file_name().unwrap().to_string_lossy().contains(".tmp-") {
                out.push(p.clone());
            }
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out
}

/// Starts reshift with `args`, sends `sig` after `after`, and returns its exit code.
fn interrupted(args: &[&str], sig: &str, after: Duration) -> Option<i32> {
    let mut child = reshift().args(args).spawn().unwrap();
    std::thread::sleep(after);
    let _ = std::process::Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status();
    let t0 = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code();
        }
        assert!(t0.elapsed() < Duration::from_secs(120), "reshift hung");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn interrupted_outputs_leave_no_temp_files() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("big.db");
    big_db(&db, 150_000, 1500);
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let snap = out.join("s.rsnap");
    // A finished snapshot to restore from, made before any interrupt.
    let full = tmp.path().join("full.rsnap");
    ok(&[
        "snapshot",
        db.to_str().unwrap(),
        "-o",
        full.to_str().unwrap(),
    ]);
    let mut stopped = 0;
    let mut runs = 0;
    for (i, ms) in [150u64, 300, 500, 800, 1200].iter().enumerate() {
        let sig = if i % 2 == 0 { "-INT" } else { "-TERM" };
        let (m, x) = (out.join("m"), out.join("x.db"));
        let cases: [Vec<&str>; 3] = [
            vec![
                "snapshot",
                db.to_str().unwrap(),
                "-o",
                snap.to_str().unwrap(),
                "--force",
            ],
            vec![
                "restore",
                full.to_str().unwrap(),
                "--data-dir",
                m.to_str().unwrap(),
            ],
            vec![
                "restore",
                db.to_str().unwrap(),
                "--db-out",
                x.to_str().unwrap(),
                "--force",
            ],
        ];
        for args in &cases {
            let _ = std::fs::remove_dir_all(out.join("m"));
            let code = interrupted(args, sig, Duration::from_millis(*ms));
            runs += 1;
            let left = temps_in(tmp.path());
            assert!(
                left.is_empty(),
                "{args:?} {sig} after {ms} ms (exit {code:?}) left {left:?}"
            );
            match code {
                Some(130) | Some(143) => stopped += 1,
                Some(0) => {}
                other => panic!("{args:?} {sig} after {ms} ms: exit {other:?}"),
            }
        }
    }
    // Enough runs were stopped mid-way for the test to mean something.
    assert!(
        stopped >= 4,
        "only {stopped} of {runs} runs were interrupted"
    );
    // What did finish is whole.
    if snap.exists() {
        ok(&["check", snap.to_str().unwrap()]);
    }
}

#[test]
fn restore_into_an_empty_mount_point_writes_in_place_and_etcd_serves_it() {
    if !etcd_available("restore_into_an_empty_mount_point") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let o = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64m", "tmpfs"])
        .arg(&mnt)
        .output()
        .unwrap();
    if !o.status.success() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must be able to mount a tmpfs: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        eprintln!("\n!!!!!!!! SKIPPED mount point test: cannot mount a tmpfs !!!!!!!!\n");
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _u = Unmount(mnt.clone());
    // A file is refused (not a dir); a non-empty mount point is refused.
    std::fs::write(mnt.join("x"), b"1").unwrap();
    let (code, _, err) = run(&[
        "restore",
        clean().as_str(),
        "--data-dir",
        mnt.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not empty"), "{err}");
    std::fs::remove_file(mnt.join("x")).unwrap();
    ok(&[
        "restore",
        clean().as_str(),
        "--data-dir",
        mnt.to_str().unwrap(),
    ]);
    assert!(temps_in(&mnt).is_empty());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&mnt).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    // Still the mount point: the tmpfs holds the member dir.
    let df = std::process::Command::new("findmnt")
        .args(["-n", "-o", "FSTYPE", "--target"])
        .arg(mnt.join("member"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&df.stdout).trim(), "tmpfs");
    let want = ok(&["dump", clean().as_str()]);
    assert_eq!(ok(&["dump", mnt.to_str().unwrap()]), want);
    // The real etcd starts from it and serves every key of the source.
    let e = Etcd::start(&mnt, "default");
    let (_, kvs) = e.get_all(None);
    assert_eq!(kvs.len(), json_lines(&want).len());
}
