//! Snapshots of the bundled data: byte-exact round trips, damage detection, fast lookups,
//! and safe output files.

mod common;
use common::*;
use std::path::Path;

fn snap(src: &Path, out: &Path, extra: &[&str]) {
    let mut args = vec![
        "snapshot",
        src.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    ok(&args);
}

#[test]
fn latest_and_history_snapshots_dump_exactly_like_their_sources() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["clean", "killed"] {
        let src = testdata(name);
        let latest = dir.path().join(format!("{name}.rsnap"));
        let hist = dir.path().join(format!("{name}-history.rsnap"));
        snap(&src, &latest, &[]);
        snap(&src, &hist, &["--history"]);
        let s = src.to_str().unwrap();
        assert_eq!(
            ok(&["dump", latest.to_str().unwrap()]),
            ok(&["dump", s]),
            "{name} latest"
        );
        assert_eq!(
            ok(&["dump", hist.to_str().unwrap()]),
            ok(&["dump", s]),
            "{name} history, latest state"
        );
        let ins: serde_json::Value =
            serde_json::from_slice(&ok(&["inspect", s, "-o", "json"])).unwrap();
        let (rev, compact) = (
            ins["revision"].as_i64().unwrap(),
            ins["compact_revision"].as_i64().unwrap(),
        );
        for r in [compact.max(1), (compact + rev) / 2, rev - 3] {
            let at = format!("--revision={r}");
            assert_eq!(
                ok(&["dump", hist.to_str().unwrap(), &at]),
                ok(&["dump", s, &at]),
                "{name} history at {r}"
            );
        }
        // Every key's history is whole in a history snapshot.
        let keys: Vec<String> = json_lines(&ok(&["ls", s, "-o", "json"]))
            .iter()
            .step_by(25)
            .map(|r| r["key"].as_str().unwrap().to_string())
            .collect();
        for k in &keys {
            assert_eq!(
                ok(&["history", hist.to_str().unwrap(), k]),
                ok(&["history", s, k]),
                "{k}"
            );
            assert_eq!(
                ok(&["get", latest.to_str().unwrap(), k]),
                ok(&["get", s, k]),
                "{k}"
            );
        }
        // The latest-state snapshot has no older revisions to give.
        let (code, _, err) = run(&[
            "dump",
            latest.to_str().unwrap(),
            &format!("--revision={}", rev - 3),
        ]);
        assert_eq!(code, 1, "{err}");
        let sins: serde_json::Value =
            serde_json::from_slice(&ok(&["inspect", latest.to_str().unwrap(), "-o", "json"]))
                .unwrap();
        assert_eq!(sins["revision"], ins["revision"]);
        assert_eq!(sins["live_keys"], ins["live_keys"]);
        assert_eq!(sins["leases"], ins["leases"]);
        assert_eq!(sins["cluster"]["members"], ins["cluster"]["members"]);
        assert_eq!(sins["kinds"], ins["kinds"]);
    }
}

#[test]
fn dictionaries_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("d.rsnap");
    let src = testdata("clean");
    snap(&src, &out, &["--dictionaries"]);
    let name: reshift::error::FileName = std::sync::Arc::from(out.as_path());
    let bytes = std::fs::read(&out).unwrap();
    let s = reshift::snapshot::Snapshot::open(&bytes, &name).unwrap();
    assert!(
        !s.dicts.is_empty(),
        "small-value resources get dictionaries"
    );
    assert!(s.index.iter().any(|c| c.dict > 0));
    assert!(s.verify().findings.is_empty());
    assert_eq!(
        ok(&["dump", out.to_str().unwrap()]),
        ok(&["dump", src.to_str().unwrap()])
    );
}

#[test]
fn filters_select_keys() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("f.rsnap");
    let src = testdata("clean");
    snap(
        &src,
        &out,
        &[
            "--prefix",
            "/registry/pods/",
            "--prefix",
            "/registry/secrets/",
            "--exclude",
            "/registry/secrets/prod/",
            "-n",
            "prod",
        ],
    );
    let got = json_lines(&ok(&["ls", out.to_str().unwrap(), "-o", "json"]));
    let want: Vec<_> = json_lines(&ok(&["ls", src.to_str().unwrap(), "-o", "json"]))
        .into_iter()
        .filter(|r| {
            let k = r["key"].as_str().unwrap();
            k.starts_with("/registry/pods/prod/")
        })
        .collect();
    assert!(!want.is_empty());
    assert_eq!(got, want);
}

#[test]
fn every_flipped_byte_is_caught_and_the_chunk_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c.rsnap");
    snap(&testdata("clean"), &out, &[]);
    let good = std::fs::read(&out).unwrap();
    let (code, _, _) = run(&["check", out.to_str().unwrap()]);
    assert_eq!(code, 0);
    let index: serde_json::Value = {
        // Chunk spans from the reader, to know which chunk a flip lands in.
        let name: reshift::error::FileName = std::sync::Arc::from(out.as_path());
        let s = reshift::snapshot::Snapshot::open(&good, &name).unwrap();
        serde_json::to_value(&s.index).unwrap()
    };
    let spans: Vec<(u64, u64)> = index
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["offset"].as_u64().unwrap(),
                c["compressed_len"].as_u64().unwrap(),
            )
        })
        .collect();
    let bad = dir.path().join("bad.rsnap");
    let step = (good.len() / 300).max(1);
    let mut tried = 0;
    for at in (0..good.len())
        .step_by(step)
        .chain([good.len() - 1, 0, 9, 20])
    {
        let mut b = good.clone();
        b[at] ^= 0x10;
        std::fs::write(&bad, &b).unwrap();
        let (code, out, err) = run(&["check", bad.to_str().unwrap()]);
        assert_eq!(
            code,
            1,
            "flip at {at} not caught: {}{err}",
            String::from_utf8_lossy(&out)
        );
        if let Some(i) = spans
            .iter()
            .position(|(o, l)| (*o..o + l).contains(&(at as u64)))
        {
            let text = String::from_utf8_lossy(&out);
            assert!(
                text.contains(&format!("chunk {i} ")),
                "flip at {at} in chunk {i}: {text}"
            );
        }
        tried += 1;
    }
    assert!(tried > 250);
}

#[test]
fn outputs_are_private_and_never_clobbered() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.rsnap");
    snap(&testdata("clean"), &out, &[]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let before = std::fs::read(&out).unwrap();
    let (code, _, err) = run(&[
        "snapshot",
        testdata("killed").to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("--force"), "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), before);
    ok(&[
        "snapshot",
        testdata("killed").to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--force",
    ]);
    assert_ne!(std::fs::read(&out).unwrap(), before);
    // A failed snapshot leaves nothing behind.
    let failed = dir.path().join("f.rsnap");
    let (code, _, _) = run(&[
        "snapshot",
        testdata("clean").to_str().unwrap(),
        "-o",
        failed.to_str().unwrap(),
        "--revision",
        "1",
    ]);
    assert_eq!(code, 1);
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
}

/// With the decoded records spilled to a file-backed map (`RESHIFT_SPILL=1`, what a large
/// snapshot on a small machine gets), the keyspace views and restore give the same answers.
#[test]
fn spilled_records_read_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("h.rsnap");
    snap(Path::new(&clean()), &f, &["--history"]);
    let s = f.to_str().unwrap();
    let spilled = |args: &[&str]| -> Vec<u8> {
        let o = reshift()
            .args(args)
            .env("RESHIFT_SPILL", "1")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        o.stdout
    };
    for args in [
        vec!["ls", s, "-o", "json"],
        vec!["inspect", s, "-o", "json"],
        vec!["history", s, "/registry/configmaps/prod/app-config"],
    ] {
        assert_eq!(spilled(&args), ok(&args), "{args:?}");
    }
    // A filtered restore reads every record first, spilled here.
    let (a, b) = (tmp.path().join("a.db"), tmp.path().join("b.db"));
    spilled(&[
        "restore",
        s,
        "--db-out",
        a.to_str().unwrap(),
        "--prefix",
        "",
    ]);
    ok(&["restore", s, "--db-out", b.to_str().unwrap()]);
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
}

/// Restores of a snapshot by its record heads (each chunk decoded straight into the new
/// db) equal, byte for byte, restores that build the whole keyspace first (which a
/// `--prefix ""` filter forces), for member dirs and db files, plain and bumped.
#[test]
fn restore_by_heads_equals_restore_by_keyspace() {
    let tmp = tempfile::tempdir().unwrap();
    for (src, mode) in [
        ("clean", "latest"),
        ("killed", "history"),
        ("clean", "history"),
    ] {
        let f = tmp.path().join(format!("{src}-{mode}.rsnap"));
        let extra: &[&str] = if mode == "history" {
            &["--history"]
        } else {
            &[]
        };
        snap(&testdata(src), &f, extra);
        let s = f.to_str().unwrap();
        for opts in [
            vec![],
            vec!["--bump-revision", "77", "--mark-compacted"],
            vec!["--mark-compacted"],
        ] {
            let name = format!("{src}-{mode}-{}", opts.len());
            // Restores by heads and by keyspace (`--prefix ""`) into `{name}-{tag}-a/-b`.
            let both = |flag: &str, tag: &str| {
                let outs = ["a", "b"].map(|x| tmp.path().join(format!("{name}-{tag}-{x}")));
                for (out, filter) in outs.iter().zip([None, Some("")]) {
                    let mut args = vec!["restore", s, flag, out.to_str().unwrap()];
                    args.extend(opts.iter().copied());
                    args.extend(filter.map(|p| ["--prefix", p]).into_iter().flatten());
                    let said = json_lines(&ok(&args));
                    assert!(said[0]["revisions"].as_u64().unwrap() > 0, "{said:?}");
                }
                outs
            };
            let [a, b] = both("--db-out", "db");
            let (da, db) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
            assert!(da == db, "{name}: db files differ");
            let [ma, mb] = both("--data-dir", "member");
            let (da, db) = (
                std::fs::read(ma.join("member/snap/db")).unwrap(),
                std::fs::read(mb.join("member/snap/db")).unwrap(),
            );
            assert!(da == db, "{name}: member dbs differ");
        }
    }
}

/// A damaged snapshot never makes restore panic or write a wrong db: each flipped byte
/// either fails the restore with a one-line error and leaves nothing behind, or (where
/// restore does not read it, such as the whole-file checksum) gives the same db.
#[test]
fn restore_from_a_damaged_snapshot_fails_cleanly_or_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let good_f = dir.path().join("g.rsnap");
    snap(&testdata("killed"), &good_f, &["--history"]);
    let good = std::fs::read(&good_f).unwrap();
    let want_db = dir.path().join("want.db");
    ok(&[
        "restore",
        good_f.to_str().unwrap(),
        "--db-out",
        want_db.to_str().unwrap(),
    ]);
    let want = std::fs::read(&want_db).unwrap();
    let bad = dir.path().join("bad.rsnap");
    let out = dir.path().join("out.db");
    let step = (good.len() / 150).max(1);
    let (mut failed, mut same) = (0, 0);
    for at in (0..good.len()).step_by(step).chain([good.len() - 1]) {
        let mut b = good.clone();
        b[at] ^= 0x04;
        std::fs::write(&bad, &b).unwrap();
        let (code, _, err) = run(&[
            "restore",
            bad.to_str().unwrap(),
            "--db-out",
            out.to_str().unwrap(),
        ]);
        if code == 0 {
            assert!(
                std::fs::read(&out).unwrap() == want,
                "flip at {at}: restore wrote a different db"
            );
            std::fs::remove_file(&out).unwrap();
            same += 1;
        } else {
            assert_eq!(code, 1, "flip at {at}: {err}");
            assert_eq!(err.trim_end().lines().count(), 1, "flip at {at}: {err}");
            assert!(
                !out.exists(),
                "flip at {at}: a failed restore left its output"
            );
            failed += 1;
        }
    }
    assert!(
        failed > 100,
        "{failed} flips failed the restore, {same} did not matter"
    );
}

/// Files of the previous formats (version 2, no record heads; version 3, no checksum of the
/// index; kept in the fuzz corpus) are still read, and restored through the keyspace to the
/// same db as the version 3 and 4 files of the same keys restored through their heads.
#[test]
fn version_2_and_3_files_read_and_restore_like_version_4() {
    let corpus = testdata("../fuzz/corpus/snapshot");
    let (v2, v3, v4) = (
        corpus.join("clean-configmaps-v2.rsnap"),
        corpus.join("clean-configmaps-v3.rsnap"),
        corpus.join("clean-configmaps-v4.rsnap"),
    );
    let want = ok(&[
        "dump",
        clean().as_str(),
        "--prefix",
        "/registry/configmaps/",
    ]);
    assert!(json_lines(&want).len() > 10);
    for f in [&v2, &v3, &v4] {
        assert_eq!(ok(&["dump", f.to_str().unwrap()]), want, "{}", f.display());
        let (code, out, _) = run(&["check", f.to_str().unwrap()]);
        assert_eq!(code, 0, "{}", String::from_utf8_lossy(&out));
    }
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a.db"), tmp.path().join("b.db"));
    ok(&[
        "restore",
        v2.to_str().unwrap(),
        "--db-out",
        a.to_str().unwrap(),
    ]);
    ok(&[
        "restore",
        v3.to_str().unwrap(),
        "--db-out",
        b.to_str().unwrap(),
    ]);
    assert!(std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap());
    let c = tmp.path().join("c.db");
    ok(&[
        "restore",
        v4.to_str().unwrap(),
        "--db-out",
        c.to_str().unwrap(),
    ]);
    assert!(std::fs::read(&a).unwrap() == std::fs::read(&c).unwrap());
}

/// A tmpfs of `size` mounted on a temp dir for the test's life; `None` (said loudly) where
/// this process may not mount.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let o = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output();
        match o {
            Ok(o) if o.status.success() => Some(SmallDisk { dir }),
            _ => {
                eprintln!(
                    "\n!!!!!!!! SKIPPED full-disk test: this process may not mount a tmpfs !!!!!!!!\n"
                );
                None
            }
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

/// Restores write the new db through a map; on a disk too small for it they fail with a
/// one-line error and leave nothing behind (a store into a map the disk cannot back would
/// kill the process with SIGBUS instead), and spilled records fall back to the heap.
#[test]
fn a_full_disk_is_an_error_not_a_crash() {
    let Some(disk) = SmallDisk::mount("256k") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("h.rsnap");
    snap(&testdata("clean"), &f, &["--history"]);
    let s = f.to_str().unwrap();
    let d = disk.dir.path();
    for args in [
        vec!["restore", s, "--data-dir", d.join("m").to_str().unwrap()],
        vec!["restore", s, "--db-out", d.join("x.db").to_str().unwrap()],
    ]
    .iter()
    .map(|a| a.iter().map(|x| x.to_string()).collect::<Vec<_>>())
    {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, _, err) = run(&args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains("No space left"), "{err}");
        assert_eq!(
            std::fs::read_dir(d).unwrap().count(),
            0,
            "{args:?} left files"
        );
    }
    let o = reshift()
        .args(["ls", s, "-o", "json"])
        .env("RESHIFT_SPILL", "1")
        .env("TMPDIR", d)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.stdout, ok(&["ls", s, "-o", "json"]));
}

/// A heads section that is intact (its checksums agree) but says something else than the
/// records — here one record's sub revision — is caught by `check`, which names the chunk,
/// and by restore, which fails without leaving anything behind.
#[test]
fn heads_that_disagree_with_their_records_are_caught() {
    use reshift::snapshot::format::*;
    use reshift::snapshot::reader::decompress_section;
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("g.rsnap");
    snap(&testdata("clean"), &good, &[]);
    let b = std::fs::read(&good).unwrap();
    let name: reshift::error::FileName = std::sync::Arc::from(good.as_path());
    let s = reshift::snapshot::Snapshot::open(&b, &name).unwrap();
    let place = s.heads_place.expect("a version 3 file has heads");
    let t = s.trailer;
    let n: u64 = s.index.iter().map(|c| c.records).sum();
    let raw = decompress_section(
        &b[place.offset as usize..(place.offset + place.len) as usize],
        1 << 30,
    )
    .unwrap();
    let mut heads = Vec::new();
    decode_heads(&raw, n, &mut heads).unwrap();
    // The first chunk's last record, one sub revision on: same length, other revision.
    let j = s.index[0].records as usize - 1;
    assert!(heads[j].sub < 100);
    heads[j].sub += 1;
    let mut changed = Vec::new();
    for h in &heads {
        put_head(&mut changed, h.main, h.sub, h.flags, h.len);
    }
    // Rebuild the file around the changed heads, every checksum made to agree.
    let frame = zstd::bulk::compress(&changed, 1).unwrap();
    let mut out = b[..place.offset as usize].to_vec();
    let heads_at = out.len() as u64;
    out.extend_from_slice(&frame);
    let index = encode_index(
        &s.index,
        Some(HeadsPlace {
            offset: heads_at,
            len: frame.len() as u64,
            crc: crc32c::crc32c(&frame),
        }),
    );
    let index = zstd::bulk::compress(&index, 1).unwrap();
    let index_at = out.len() as u64;
    out.extend_from_slice(&index);
    let extras_at = out.len() as u64;
    out.extend_from_slice(&b[t.extras_offset as usize..(t.extras_offset + t.extras_len) as usize]);
    let dicts_at = out.len() as u64;
    out.extend_from_slice(&b[t.dicts_offset as usize..(t.dicts_offset + t.dicts_len) as usize]);
    let trailer = encode_trailer(&Trailer {
        index_offset: index_at,
        index_len: index.len() as u64,
        extras_offset: extras_at,
        extras_len: t.extras_len,
        dicts_offset: dicts_at,
        dicts_len: t.dicts_len,
        file_crc: crc32c::crc32c(&out),
        tail_crc: crc32c::crc32c(&out[index_at as usize..]),
    });
    out.extend_from_slice(&trailer);
    let bad = tmp.path().join("bad.rsnap");
    std::fs::write(&bad, &out).unwrap();
    let (code, said, _) = run(&["check", bad.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&said);
    assert_eq!(code, 1, "{said}");
    assert!(
        said.contains("chunk 0 ") && said.contains("disagree with their heads"),
        "{said}"
    );
    let db = tmp.path().join("x.db");
    let (code, _, err) = run(&[
        "restore",
        bad.to_str().unwrap(),
        "--db-out",
        db.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("disagrees with its head"), "{err}");
    assert!(!db.exists());
}

/// `get` reads a key through the index alone; the index, extras and dictionaries carry a
/// checksum of their own (format version 4), so no flipped bit there makes `get` answer
/// "not found" or another value for a key the snapshot holds: it answers right or fails.
#[test]
fn get_never_answers_wrong_through_a_damaged_index() {
    use base64::Engine;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c.rsnap");
    snap(&testdata("clean"), &out, &[]);
    let good = std::fs::read(&out).unwrap();
    let name: reshift::error::FileName = std::sync::Arc::from(out.as_path());
    let (tail_start, version) = {
        let s = reshift::snapshot::Snapshot::open(&good, &name).unwrap();
        (s.trailer.index_offset as usize, s.version)
    };
    // A full snapshot keeps format 4 (version 5 only adds an incremental's base link).
    assert_eq!(version, 4);
    // Every 7th key of the source, with its KeyValue as dumped.
    let b64 = base64::engine::general_purpose::STANDARD;
    let keys: Vec<(Vec<u8>, Vec<u8>)> = json_lines(&ok(&["dump", clean().as_str()]))
        .iter()
        .step_by(7)
        .map(|r| {
            let k = b64.decode(r["key"].as_str().unwrap()).unwrap();
            let v = b64.decode(r["value"].as_str().unwrap_or("")).unwrap();
            (k, v)
        })
        .collect();
    assert!(keys.len() > 20);
    let (mut refused, mut harmless) = (0, 0);
    for at in tail_start..good.len() {
        for bit in [0x01u8, 0x80] {
            let mut b = good.clone();
            b[at] ^= bit;
            let Ok(s) = reshift::snapshot::Snapshot::open(&b, &name) else {
                refused += 1;
                continue;
            };
            harmless += 1;
            for (k, v) in &keys {
                match s.get(k, None) {
                    Err(_) => {}
                    Ok(Some(kv)) => {
                        let kv = reshift::etcd::kv::KeyValueRef::decode(&kv).unwrap();
                        assert_eq!(kv.value, &v[..], "flip {bit:#x} at {at}: another value");
                    }
                    Ok(None) => panic!(
                        "flip {bit:#x} at {at}: {} not found",
                        String::from_utf8_lossy(k)
                    ),
                }
            }
        }
    }
    assert!(refused > 100, "{refused} refused, {harmless} harmless");
}
