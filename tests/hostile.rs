//! Hostile inputs: crafted files with valid checksums that try to make reshift allocate
//! without bound. Each must end in a short error (or a right answer) in little memory.

mod common;
use common::*;
use reshift::snapshot::format::*;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;

/// What a child run of reshift did: exit code (None: killed by a signal), its peak
/// resident memory, stdout and stderr.
struct Ran {
    code: Option<i32>,
    peak_kib: i64,
    out: String,
    err: String,
}

/// Runs reshift with its address space capped at 1 GiB (so an unbounded allocation fails
/// fast instead of swapping the machine) and 120 s of CPU; reports its peak RSS.
// The child is reaped by wait4, which also gives its resource usage.
#[allow(clippy::zombie_processes)]
fn run_bounded(args: &[&str]) -> Ran {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let (o, e) = (dir.path().join("out"), dir.path().join("err"));
    let mut cmd = reshift();
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&o).unwrap())
        .stderr(std::fs::File::create(&e).unwrap());
    unsafe {
        cmd.pre_exec(|| {
            let lim = |r, v| {
                let l = libc::rlimit {
                    rlim_cur: v,
                    rlim_max: v,
                };
                libc::setrlimit(r, &l);
            };
            lim(libc::RLIMIT_AS, 1 << 30);
            lim(libc::RLIMIT_CPU, 120);
            Ok(())
        });
    }
    let child = cmd.spawn().unwrap();
    let mut status = 0;
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut ru) };
    assert_eq!(pid, child.id() as i32);
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Ran {
        code,
        peak_kib: ru.ru_maxrss,
        out: std::fs::read_to_string(&o).unwrap_or_default(),
        err: std::fs::read_to_string(&e).unwrap_or_default(),
    }
}

/// Every read command on `file` fails with a one-line error naming the file, in less than
/// 300 MB.
fn refused_in_little_memory(file: &Path, tmp: &Path) {
    let f = file.to_str().unwrap();
    let db = tmp.join("out.db");
    let db = db.to_str().unwrap();
    for args in [
        vec!["get", f, "/registry/pods/default/a"],
        vec!["dump", f],
        vec!["ls", f],
        vec!["inspect", f],
        vec!["check", f],
        vec!["restore", f, "--db-out", db],
    ] {
        let r = run_bounded(&args);
        let what = format!(
            "{args:?}: exit {:?}, peak {} KiB, stdout {:?}, stderr {:?}",
            r.code, r.peak_kib, r.out, r.err
        );
        eprintln!("{args:?}: peak {} KiB", r.peak_kib);
        assert!(matches!(r.code, Some(1..=2)), "{what}");
        assert!(r.peak_kib < 300 << 10, "{what}");
        let said = if r.err.trim().is_empty() {
            &r.out
        } else {
            &r.err
        };
        assert!(said.contains(f), "{what}");
        // `check` names each damaged chunk on its own line; the others say one thing.
        if args[0] != "check" {
            assert!(said.trim().lines().count() == 1, "{what}");
        }
    }
}

/// A zstd frame of `prefix` followed by `zeros` zero bytes, compressed as a stream (the
/// test never holds the expansion).
fn bomb_frame(prefix: &[u8], zeros: u64) -> Vec<u8> {
    let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    enc.set_pledged_src_size(Some(prefix.len() as u64 + zeros))
        .unwrap();
    enc.write_all(prefix).unwrap();
    let block = vec![0u8; 1 << 20];
    let mut left = zeros;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        enc.write_all(&block[..n]).unwrap();
        left -= n as u64;
    }
    enc.finish().unwrap()
}

fn varint(v: u64) -> Vec<u8> {
    let mut b = Vec::new();
    put_varint(&mut b, v);
    b
}

/// The sections of a snapshot file, reassembled with every checksum made to agree.
struct Parts {
    version: u32,
    facts: Vec<u8>,
    chunks: Vec<u8>,
    heads: Vec<u8>,
    index: Vec<u8>,
    extras: Vec<u8>,
    dicts: Vec<u8>,
}

impl Parts {
    fn of(b: &[u8]) -> Parts {
        let name: reshift::error::FileName = std::sync::Arc::from(Path::new("x"));
        let s = reshift::snapshot::Snapshot::open(b, &name).unwrap();
        let t = s.trailer;
        let sect = |o: u64, l: u64| b[o as usize..(o + l) as usize].to_vec();
        let hl = u32::from_le_bytes(b[12..16].try_into().unwrap()) as usize;
        let h = s.heads_place.unwrap();
        Parts {
            version: s.version,
            facts: b[16..16 + hl].to_vec(),
            chunks: b[s.data_start as usize..h.offset as usize].to_vec(),
            heads: sect(h.offset, h.len),
            index: sect(t.index_offset, t.index_len),
            extras: sect(t.extras_offset, t.extras_len),
            dicts: sect(t.dicts_offset, t.dicts_len),
        }
    }

    fn data_start(&self) -> u64 {
        20 + self.facts.len() as u64
    }

    /// Where the heads begin (after the chunks).
    fn heads_at(&self) -> u64 {
        self.data_start() + self.chunks.len() as u64
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&(self.facts.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.facts);
        out.extend_from_slice(&crc32c::crc32c(&self.facts).to_le_bytes());
        out.extend_from_slice(&self.chunks);
        out.extend_from_slice(&self.heads);
        let index_offset = out.len() as u64;
        out.extend_from_slice(&self.index);
        let extras_offset = out.len() as u64;
        out.extend_from_slice(&self.extras);
        let dicts_offset = out.len() as u64;
        out.extend_from_slice(&self.dicts);
        // Version 4 checksums the index, extras and dictionaries: made to agree, so what is
        // tested is the budget, not the checksum.
        let tail_crc = if self.version >= 4 {
            crc32c::crc32c(&out[index_offset as usize..])
        } else {
            0
        };
        let t = encode_trailer(&Trailer {
            index_offset,
            index_len: self.index.len() as u64,
            extras_offset,
            extras_len: self.extras.len() as u64,
            dicts_offset,
            dicts_len: self.dicts.len() as u64,
            file_crc: crc32c::crc32c(&out),
            tail_crc,
        });
        out.extend_from_slice(&t);
        out
    }
}

fn real_snapshot(tmp: &Path) -> Vec<u8> {
    let f = tmp.join("real.rsnap");
    ok(&[
        "snapshot",
        testdata("clean").to_str().unwrap(),
        "-o",
        f.to_str().unwrap(),
    ]);
    std::fs::read(f).unwrap()
}

/// The index of `p` decoded (its chunks, its heads' place).
fn index_of(b: &[u8]) -> (Vec<ChunkEntry>, HeadsPlace) {
    let name: reshift::error::FileName = std::sync::Arc::from(Path::new("x"));
    let s = reshift::snapshot::Snapshot::open(b, &name).unwrap();
    (s.index.clone(), s.heads_place.unwrap())
}

fn save(tmp: &Path, name: &str, b: &[u8]) -> std::path::PathBuf {
    let p = tmp.join(name);
    std::fs::write(&p, b).unwrap();
    // Kept for the fuzz corpus when asked (RESHIFT_SAVE_BOMBS=dir): the small ones only.
    if let Ok(dir) = std::env::var("RESHIFT_SAVE_BOMBS") {
        if b.len() < 1 << 20 {
            std::fs::write(Path::new(&dir).join(name), b).unwrap();
        }
    }
    p
}

#[test]
fn an_index_that_expands_to_a_gibibyte_is_refused_in_little_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = Parts::of(&real_snapshot(tmp.path()));
    // 1 GiB of zero entries (12 bytes each), their count claimed up front.
    let zeros = (1u64 << 30) - 8;
    p.index = bomb_frame(&varint(zeros / 12), zeros);
    let f = save(tmp.path(), "index-bomb.rsnap", &p.bytes());
    refused_in_little_memory(&f, tmp.path());
}

#[test]
fn extras_that_expand_to_a_gibibyte_are_refused_in_little_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = Parts::of(&real_snapshot(tmp.path()));
    let zeros = (1u64 << 30) - 8;
    p.extras = bomb_frame(&varint(zeros / 3), zeros);
    let f = save(tmp.path(), "extras-bomb.rsnap", &p.bytes());
    let db = tmp.path().join("x.db");
    let (f, db) = (f.to_str().unwrap(), db.to_str().unwrap());
    for args in [vec!["check", f], vec!["restore", f, "--db-out", db]] {
        let r = run_bounded(&args);
        let what = format!(
            "{args:?}: exit {:?}, peak {} KiB, stderr {:?}",
            r.code, r.peak_kib, r.err
        );
        assert!(matches!(r.code, Some(1..=2)), "{what}");
        assert!(r.peak_kib < 300 << 10, "{what}");
        assert!((r.out.clone() + &r.err).contains("extras"), "{what}");
    }
}

#[test]
fn heads_that_expand_past_their_budget_are_refused_in_little_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let real = real_snapshot(tmp.path());
    let (mut index, _) = index_of(&real);
    // Two ways: the index claims 2^28 records (each head 4 zero bytes, 1 GiB), or it is
    // left alone and the heads frame alone expands.
    for (name, claim) in [
        ("heads-bomb-claimed.rsnap", true),
        ("heads-bomb.rsnap", false),
    ] {
        let mut p = Parts::of(&real);
        let n: u64 = 1 << 28;
        if claim {
            let others: u64 = index[1..].iter().map(|c| c.records).sum();
            index[0].records = n - others;
        }
        p.heads = bomb_frame(&[], n * 4);
        let heads = HeadsPlace {
            offset: p.heads_at(),
            len: p.heads.len() as u64,
            crc: crc32c::crc32c(&p.heads),
        };
        p.index = zstd::bulk::compress(&encode_index(&index, Some(heads)), 1).unwrap();
        let f = save(tmp.path(), name, &p.bytes());
        let f = f.to_str().unwrap();
        let db = tmp.path().join("x.db");
        for args in [
            vec!["check", f],
            vec!["restore", f, "--db-out", db.to_str().unwrap()],
        ] {
            let r = run_bounded(&args);
            let what = format!(
                "{args:?}: exit {:?}, peak {} KiB, stdout {:?} stderr {:?}",
                r.code, r.peak_kib, r.out, r.err
            );
            assert!(matches!(r.code, Some(1..=2)), "{what}");
            assert!(r.peak_kib < 300 << 10, "{what}");
        }
    }
}

/// A version-1 file of `n` chunks of 64 MiB of zeros (each a run of empty records), the
/// index claiming `records` records in each.
fn zero_chunks_v1(real: &[u8], n: usize, records: u64) -> Vec<u8> {
    let mut p = Parts::of(real);
    p.version = 1;
    let raw = 64u64 << 20;
    let frame = bomb_frame(&[], raw);
    p.chunks.clear();
    p.heads.clear();
    let mut entries = Vec::new();
    for _ in 0..n {
        entries.push(ChunkEntry {
            offset: p.data_start() + p.chunks.len() as u64,
            compressed_len: frame.len() as u64,
            raw_len: raw,
            crc: crc32c::crc32c(&frame),
            records,
            dict: 0,
            first_key: Vec::new(),
            last_key: b"\xff".to_vec(),
            group: "zeros".into(),
        });
        p.chunks.extend_from_slice(&frame);
    }
    p.index = zstd::bulk::compress(&encode_index(&entries, None), 19).unwrap();
    p.extras = zstd::bulk::compress(&varint(0), 1).unwrap();
    p.dicts = varint(0);
    p.bytes()
}

#[test]
fn a_small_version_1_file_of_64_mib_zero_chunks_is_refused_in_little_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let real = real_snapshot(tmp.path());
    // The index claims as many records as the zeros hold, or just one per chunk.
    for (name, records) in [
        ("v1-zeros.rsnap", (64u64 << 20) / 4),
        ("v1-zeros-1.rsnap", 1),
    ] {
        let b = zero_chunks_v1(&real, 56, records);
        assert!(b.len() < 512 << 10, "{}", b.len());
        let f = save(tmp.path(), name, &b);
        refused_in_little_memory(&f, tmp.path());
    }
}

/// A copy of the clean member's db in which the `key` bucket's root branch points its
/// second child at its first child's page: a shared subtree (no cycle).
fn shared_subtree_db(tmp: &Path) -> std::path::PathBuf {
    let mut b = std::fs::read(testdata("clean/member/snap/db")).unwrap();
    let name: reshift::error::FileName = std::sync::Arc::from(Path::new("db"));
    let (off, first) = {
        let db = reshift::bbolt::Db::open(&b, &name).unwrap();
        let key = db.bucket(&[b"key"]).unwrap().unwrap();
        let reshift::bbolt::Root::File(id) = key.root() else {
            panic!("the key bucket is inline")
        };
        let root = db.tree_page(id).unwrap();
        assert!(
            root.is_branch() && root.len() >= 2,
            "key root is not a branch"
        );
        (root.offset as usize, root.branch(0).unwrap().child)
    };
    // Branch elements follow the 16-byte page header, 16 bytes each: pos, ksize, child.
    let at = off + 16 + 16 + 8;
    b[at..at + 8].copy_from_slice(&first.to_le_bytes());
    save(tmp, "shared-subtree.db", &b)
}

#[test]
fn a_shared_subtree_is_reported_as_a_page_reached_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let db = shared_subtree_db(tmp.path());
    let db = db.to_str().unwrap();
    for args in [
        vec!["bbolt", "keys", db, "key"],
        vec!["bbolt", "buckets", db],
        vec!["bbolt", "dump", db],
        vec!["dump", db],
        vec!["ls", db],
        vec!["inspect", db],
    ] {
        let r = run_bounded(&args);
        let what = format!(
            "{args:?}: exit {:?}, peak {} KiB, stdout {} bytes, stderr {:?}",
            r.code,
            r.peak_kib,
            r.out.len(),
            r.err
        );
        assert!(matches!(r.code, Some(1..=2)), "{what}");
        assert!(r.err.contains("reached twice"), "{what}");
        assert!(r.err.trim().lines().count() == 1, "{what}");
    }
}

#[test]
fn outputs_over_the_input_are_refused_even_with_force() {
    let (_g, data) = copy_to_temp(&testdata("clean"));
    let before = tree_digest(&data);
    let d = data.to_str().unwrap();
    let db = data.join("member/snap/db");
    let db = db.to_str().unwrap();
    let beside = data.join("member/snap/new.db");
    let inside = data.join("member/x.rsnap");
    let outside = tempfile::tempdir().unwrap();
    let fresh = outside.path().join("fresh");
    for args in [
        vec!["snapshot", d, "-o", db, "--force"],
        vec!["snapshot", db, "-o", db, "--force"],
        vec!["snapshot", d, "-o", inside.to_str().unwrap()],
        vec!["restore", d, "--db-out", db, "--force"],
        vec!["restore", db, "--db-out", db, "--force"],
        vec!["restore", db, "--db-out", beside.to_str().unwrap()],
        vec!["restore", d, "--data-dir", d, "--force"],
        vec!["restore", db, "--data-dir", d, "--force"],
        vec![
            "restore",
            d,
            "--data-dir",
            data.join("member/restored").to_str().unwrap(),
        ],
    ] {
        let (code, _, err) = run(&args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(err.contains("refusing to write over"), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    }
    assert!(tree_digest(&data) == before, "the input changed");
    // Beside the input, outside its dir, is fine.
    ok(&["restore", d, "--data-dir", fresh.to_str().unwrap()]);
}

#[test]
fn a_fifo_as_input_is_refused_without_blocking() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("fifo");
    let st = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(st.success());
    for cmd in ["dump", "inspect", "check"] {
        let mut child = reshift()
            .args([cmd, fifo.to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let t0 = std::time::Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break Some(s);
            }
            if t0.elapsed() > std::time::Duration::from_secs(20) {
                child.kill().unwrap();
                child.wait().unwrap();
                break None;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let o = child.wait_with_output().unwrap();
        let (out, err) = (
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
        );
        let status = status.unwrap_or_else(|| panic!("{cmd} on a FIFO blocked"));
        assert!(matches!(status.code(), Some(1..=2)), "{cmd}: {out} {err}");
        assert!((out + err.clone()).contains("FIFO"), "{cmd}: {err}");
    }
}

#[test]
fn a_revision_bump_past_the_largest_revision_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let half = (i64::MAX / 2).to_string();
    let first = tmp.path().join("first.db");
    let second = tmp.path().join("second.db");
    let src = testdata("clean");
    ok(&[
        "restore",
        src.to_str().unwrap(),
        "--db-out",
        first.to_str().unwrap(),
        "--bump-revision",
        &half,
    ]);
    // Its revision is now past half the largest: the same bump again would wrap.
    let snap = tmp.path().join("first.rsnap");
    ok(&[
        "snapshot",
        first.to_str().unwrap(),
        "-o",
        snap.to_str().unwrap(),
    ]);
    for input in [&first, &snap] {
        let (code, _, err) = run(&[
            "restore",
            input.to_str().unwrap(),
            "--db-out",
            second.to_str().unwrap(),
            "--bump-revision",
            &half,
            "--force",
        ]);
        assert_eq!(code, 1, "{}: {err}", input.display());
        assert!(err.contains("largest revision"), "{err}");
        assert!(!second.exists());
    }
}
