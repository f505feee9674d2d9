//! Shared test helpers: paths to the bundled test data, copies in temp dirs, and a real
//! etcd (3.4 from the system, 3.5 from `RESHIFT_ETCD35`) started on loopback for oracle tests.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(rel)
}

/// Copies a file or directory tree into a new temp dir; returns (guard, path of the copy).
pub fn copy_to_temp(src: &Path) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join(src.file_name().unwrap());
    copy_tree(src, &dst);
    (dir, dst)
}

pub fn copy_tree(src: &Path, dst: &Path) {
    if src.is_dir() {
        std::fs::create_dir_all(dst).unwrap();
        for e in std::fs::read_dir(src).unwrap() {
            let e = e.unwrap();
            copy_tree(&e.path(), &dst.join(e.file_name()));
        }
    } else {
        std::fs::copy(src, dst).unwrap();
    }
}

/// sha256 of every file under `p`, for "inputs are never modified" checks.
pub fn tree_digest(p: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    use sha2::{Digest, Sha256};
    let mut out = Vec::new();
    let mut stack = vec![p.to_path_buf()];
    while let Some(x) = stack.pop() {
        if x.is_dir() {
            for e in std::fs::read_dir(&x).unwrap() {
                stack.push(e.unwrap().path());
            }
        } else {
            let bytes = std::fs::read(&x).unwrap();
            out.push((x, Sha256::digest(&bytes).to_vec()));
        }
    }
    out.sort();
    out
}

/// The reshift binary built for this test run.
pub fn reshift() -> Command {
    Command::new(env!("CARGO_BIN_EXE_reshift"))
}

/// Runs reshift; returns (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, Vec<u8>, String) {
    let o = reshift().args(args).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        o.stdout,
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn have(cmd: &str, arg: &str) -> bool {
    Command::new(cmd)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether a real etcd is installed. Without one the caller skips, loudly; under CI
/// (CI set) a missing etcd is a failure, never a skip.
/// A data dir a real etcd 3.4 wrote with Kubernetes objects (`../shared/tools/gen_etcd.py`
/// with `objects`, `updates`, `deletes` and `seed`), under the tests' temp dir as `name`.
pub fn gen_data_dir(name: &str, objects: u32, updates: u32, deletes: u32, seed: u32) -> PathBuf {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tools/gen_etcd.py");
    let st = Command::new("python3")
        .arg(&script)
        .arg("--out")
        .arg(&out)
        .args([
            "--objects",
            &objects.to_string(),
            "--updates",
            &updates.to_string(),
        ])
        .args([
            "--deletes",
            &deletes.to_string(),
            "--seed",
            &seed.to_string(),
        ])
        .args(["--port", &free_port_pair().to_string()])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "gen_etcd.py failed");
    out
}

pub fn etcd_available(test: &str) -> bool {
    if have("etcd", "--version") && have("etcdctl", "version") {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "{test}: etcd/etcdctl not installed, and CI must not skip oracle tests (.ci/run installs them)"
        );
    }
    eprintln!(
        "\n!!!!!!!! SKIPPED {test}: etcd 3.4 is not installed (apt-get install -y etcd-server etcd-client) !!!!!!!!\n"
    );
    false
}

/// The directory holding etcd 3.5's `etcd`, `etcdctl` and `etcdutl` (`.ci/etcd35.sh` unpacks
/// them and `.ci/run` exports `RESHIFT_ETCD35`). None skips, loudly; under CI a missing 3.5
/// is a failure.
pub fn etcd35(test: &str) -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("RESHIFT_ETCD35") {
        let d = PathBuf::from(d);
        if d.join("etcd").exists() {
            return Some(d);
        }
    }
    let fallback = std::env::temp_dir().join("reshift-etcd-3.5/usr/bin");
    if fallback.join("etcd").exists() {
        return Some(fallback);
    }
    if std::env::var_os("CI").is_some() {
        panic!("{test}: etcd 3.5 missing (run .ci/etcd35.sh and set RESHIFT_ETCD35)");
    }
    eprintln!("\n!!!!!!!! SKIPPED {test}: etcd 3.5 missing (.ci/etcd35.sh) !!!!!!!!\n");
    None
}

/// A command from an etcd release dir, or the system's (3.4) when `bin` is None.
pub fn etcd_cmd(bin: Option<&Path>, name: &str) -> Command {
    match bin {
        Some(d) => Command::new(d.join(name)),
        None => Command::new(name),
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A free port whose next port is free too, for programs that take the one after it for
/// themselves (`gen_etcd.py` puts etcd's peer port there).
pub fn free_port_pair() -> u16 {
    for _ in 0..100 {
        let p = free_port();
        if p < u16::MAX && TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
    panic!("no two adjacent free ports on 127.0.0.1");
}

/// A real etcd serving a data dir on loopback; killed and reaped on drop.
pub struct Etcd {
    child: Child,
    pub endpoint: String,
    pub data_dir: PathBuf,
    /// The release dir the server and etcdctl come from (None: the system's 3.4).
    pub bin: Option<PathBuf>,
    /// `name:password` etcdctl runs as unless the call names a `--user` (auth enabled).
    pub user: Option<String>,
}

impl Etcd {
    /// Starts etcd on `data_dir` (which it will modify: pass a copy). The member name
    /// must be the one the data dir was created with for an existing member.
    pub fn start(data_dir: &Path, name: &str) -> Etcd {
        Etcd::start_with(None, data_dir, name, &[])
    }

    /// Starts the etcd of release dir `bin` (None: the system's) with extra flags.
    pub fn start_with(bin: Option<&Path>, data_dir: &Path, name: &str, extra: &[&str]) -> Etcd {
        Etcd::start_as(bin, data_dir, name, extra, None)
    }

    /// [`Etcd::start_with`] for a member with auth enabled: etcdctl runs as `user`.
    pub fn start_as(
        bin: Option<&Path>,
        data_dir: &Path,
        name: &str,
        extra: &[&str],
        user: Option<&str>,
    ) -> Etcd {
        let p = free_port();
        let cluster = format!("{name}=http://127.0.0.1:{p}");
        let mut e = Etcd::spawn_member(bin, data_dir, name, p, &cluster, extra);
        e.user = user.map(str::to_string);
        e.wait_healthy();
        e
    }

    /// Runs `etcdctl txn` with `ops` (its interactive script) on stdin; the outcome is
    /// not checked.
    pub fn txn_quiet(&self, ops: &str) {
        use std::io::Write;
        let mut c = self
            .ctl_cmd(&["txn"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(ops.as_bytes()).unwrap();
        let _ = c.wait();
    }

    pub fn ctl_cmd(&self, args: &[&str]) -> Command {
        let mut c = etcd_cmd(self.bin.as_deref(), "etcdctl");
        c.env("ETCDCTL_API", "3")
            .args(["--endpoints", &self.endpoint]);
        if let Some(u) = self.user.as_deref().filter(|_| !args.contains(&"--user")) {
            c.args(["--user", u]);
        }
        c.args(args);
        c
    }

    fn ctl_ok(&self, args: &[&str]) -> bool {
        self.ctl_cmd(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Runs etcdctl and returns its stdout; panics on failure.
    pub fn ctl(&self, args: &[&str]) -> Vec<u8> {
        let o = self.ctl_cmd(args).output().unwrap();
        assert!(
            o.status.success(),
            "etcdctl {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        o.stdout
    }

    /// `etcdctl get "" --prefix -w json [--rev N]` as (header revision, kvs).
    pub fn get_all(&self, rev: Option<i64>) -> (i64, Vec<serde_json::Value>) {
        self.get_all_as(None, rev)
    }

    /// [`Etcd::get_all`] as `user` (`name:password`), for a member with auth enabled.
    pub fn get_all_as(
        &self,
        user: Option<&str>,
        rev: Option<i64>,
    ) -> (i64, Vec<serde_json::Value>) {
        let mut args = vec!["get", "", "--prefix", "-w", "json"];
        if let Some(u) = user {
            args.extend(["--user", u]);
        }
        let r;
        if let Some(n) = rev {
            r = format!("--rev={n}");
            args.push(&r);
        }
        let v: serde_json::Value = serde_json::from_slice(&self.ctl(&args)).unwrap();
        let header_rev = v["header"]["revision"].as_i64().unwrap();
        let kvs = v["kvs"].as_array().cloned().unwrap_or_default();
        (header_rev, kvs)
    }
}

impl Etcd {
    /// Runs etcdctl; returns (succeeded, stdout, stderr) without judging.
    pub fn ctl_try(&self, args: &[&str]) -> (bool, String, String) {
        let o = self.ctl_cmd(args).output().unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs reshift, asserts it succeeded, and returns its stdout.
pub fn ok(args: &[&str]) -> Vec<u8> {
    let (code, out, err) = run(args);
    assert_eq!(code, 0, "{args:?}: {err}");
    out
}

/// The bundled clean data dir as a string argument.
pub fn clean() -> String {
    testdata("clean").to_str().unwrap().to_string()
}

/// Parses JSON Lines.
pub fn json_lines(b: &[u8]) -> Vec<serde_json::Value> {
    b.split(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect()
}

/// `../shared/k8s-served-dev`'s data set unpacked (its `apienc-dev/` directory): objects the
/// real Kubernetes codecs stored, with what the apiserver serves for each key. Unpacked
/// once under the target dir and reused by every test binary (a marker file says the
/// unpacking finished).
pub fn served_dev() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let tar = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/k8s-served-dev/apienc-dev.tar.zst");
        assert!(tar.exists(), "{} is missing", tar.display());
        let into = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "served-dev-{}",
            std::fs::metadata(&tar).unwrap().len()
        ));
        let done = into.join(".unpacked");
        if !done.exists() {
            let _ = std::fs::remove_dir_all(&into);
            std::fs::create_dir_all(&into).unwrap();
            let status = Command::new("sh")
                .arg("-c")
                .arg("zstd -q -d --long=27 -c \"$0\" | tar -x -C \"$1\"")
                .arg(&tar)
                .arg(&into)
                .status()
                .unwrap();
            assert!(status.success(), "unpacking {}", tar.display());
            std::fs::write(&done, b"").unwrap();
        }
        into.join("apienc-dev")
    })
}

impl Etcd {
    /// Spawns one member (of a multi-member cluster, or alone) without waiting for it (a
    /// member of several alone has no quorum): peer port `peer_port` (a restart on a copy must reuse the peer URL
    /// stored in the membership), a new client port, `initial_cluster` as etcd takes it.
    /// Call [`Etcd::wait_healthy`] once a quorum is spawned.
    pub fn spawn_member(
        bin: Option<&Path>,
        data_dir: &Path,
        name: &str,
        peer_port: u16,
        initial_cluster: &str,
        extra: &[&str],
    ) -> Etcd {
        // The peer port was free when it was picked and is not held, so the kernel may
        // hand it out again: the client port must be another one.
        let c = std::iter::repeat_with(free_port)
            .find(|&c| c != peer_port)
            .expect("an endless supply of ports");
        let client = format!("http://127.0.0.1:{c}");
        let peer = format!("http://127.0.0.1:{peer_port}");
        let log = std::fs::File::create(data_dir.with_extension("etcd.log")).unwrap();
        let child = etcd_cmd(bin, "etcd")
            .args(["--name", name, "--data-dir"])
            .arg(data_dir)
            .args([
                "--listen-client-urls",
                &client,
                "--advertise-client-urls",
                &client,
            ])
            .args([
                "--listen-peer-urls",
                &peer,
                "--initial-advertise-peer-urls",
                &peer,
            ])
            .args(["--initial-cluster", initial_cluster])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start etcd");
        Etcd {
            child,
            endpoint: format!("127.0.0.1:{c}"),
            data_dir: data_dir.to_path_buf(),
            bin: bin.map(Path::to_path_buf),
            user: None,
        }
    }

    /// Waits (up to 60 s) until the member answers a quorum read.
    pub fn wait_healthy(&self) {
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(60) {
            if self.ctl_ok(&["endpoint", "health"]) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let log =
            std::fs::read_to_string(self.data_dir.with_extension("etcd.log")).unwrap_or_default();
        panic!(
            "etcd did not become healthy on {}:\n{}",
            self.endpoint,
            &log[log.len().saturating_sub(3000)..]
        );
    }

    /// SIGKILLs the member and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// This member's id and the leader's id it knows (`etcdctl endpoint status`).
    pub fn status_ids(&self) -> (u64, u64) {
        let v: serde_json::Value =
            serde_json::from_slice(&self.ctl(&["endpoint", "status", "-w", "json"])).unwrap();
        let s = &v[0]["Status"];
        (
            s["header"]["member_id"].as_u64().unwrap(),
            s["leader"].as_u64().unwrap(),
        )
    }
}
