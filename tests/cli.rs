//! The read commands agree with each other and with the raw key bucket on testdata/clean.

mod common;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::*;

fn b64(v: &serde_json::Value) -> Vec<u8> {
    STANDARD.decode(v.as_str().unwrap_or("")).unwrap()
}

#[test]
fn ls_and_get_agree_with_dump() {
    let dump = json_lines(&ok(&["dump", &clean()]));
    assert!(dump.len() > 100);
    let prefix = "/registry/configmaps/";
    let ls = json_lines(&ok(&["ls", &clean(), prefix, "-o", "json"]));
    let want: Vec<_> = dump
        .iter()
        .filter(|kv| b64(&kv["key"]).starts_with(prefix.as_bytes()))
        .collect();
    assert!(!want.is_empty());
    assert_eq!(ls.len(), want.len());
    for (row, kv) in ls.iter().zip(&want) {
        assert_eq!(row["key"].as_str().unwrap().as_bytes(), b64(&kv["key"]));
        assert_eq!(row["mod_revision"], kv["mod_revision"]);
        assert_eq!(row["create_revision"], kv["create_revision"]);
        assert_eq!(row["version"], kv["version"]);
        assert_eq!(
            row["value_size"].as_u64().unwrap() as usize,
            b64(&kv["value"]).len()
        );
    }
    for kv in dump.iter().step_by(37) {
        let key = String::from_utf8(b64(&kv["key"])).unwrap();
        assert_eq!(ok(&["get", &clean(), &key]), b64(&kv["value"]), "{key}");
        let j = json_lines(&ok(&["get", &clean(), &key, "-o", "kv"]));
        assert_eq!(&j[0], kv);
    }
    let (code, _, err) = run(&["get", &clean(), "/no/such/key"]);
    assert_eq!(code, 1);
    assert!(err.contains("not found"), "{err}");
    // The table header and one row per key.
    let table = String::from_utf8(ok(&["ls", &clean(), prefix])).unwrap();
    assert_eq!(table.lines().count(), want.len() + 1);
}

#[test]
fn get_at_a_revision_matches_dump_at_that_revision() {
    let ins: serde_json::Value =
        serde_json::from_slice(&ok(&["inspect", &clean(), "-o", "json"])).unwrap();
    let rev = (ins["compact_revision"].as_i64().unwrap() + ins["revision"].as_i64().unwrap()) / 2;
    let then = json_lines(&ok(&["dump", &clean(), &format!("--revision={rev}")]));
    let now = json_lines(&ok(&["dump", &clean()]));
    assert_ne!(then, now, "the bundled data changes after revision {rev}");
    for kv in then.iter().step_by(29) {
        assert!(kv["mod_revision"].as_i64().unwrap() <= rev);
        let key = String::from_utf8(b64(&kv["key"])).unwrap();
        let j = json_lines(&ok(&[
            "get",
            &clean(),
            &key,
            "-o",
            "kv",
            &format!("--revision={rev}"),
        ]));
        assert_eq!(&j[0], kv);
    }
}

#[test]
fn history_lists_every_revision_of_a_key_with_deletions() {
    // Keys with a tombstone in the raw key bucket (18-byte revision keys ending in 't').
    let raw = json_lines(&ok(&["bbolt", "dump", &clean()]));
    let key_bucket = "6b6579"; // "key"
    let tombstones: Vec<_> = raw
        .iter()
        .filter(|e| e["bucket"] == key_bucket && e["key"].as_str().unwrap().len() == 36)
        .collect();
    assert!(
        !tombstones.is_empty(),
        "the bundled data has deletions after its compaction"
    );
    let revs_in_bucket = raw.iter().filter(|e| e["bucket"] == key_bucket).count();
    let dump = json_lines(&ok(&["dump", &clean()]));
    let mut total = 0;
    let mut deletes = 0;
    let mut keys: Vec<Vec<u8>> = dump.iter().map(|kv| b64(&kv["key"])).collect();
    // Deleted keys are not in the dump: add them from the tombstones' values.
    for t in &tombstones {
        let v = t["value"].as_str().unwrap();
        let bytes: Vec<u8> = (0..v.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&v[i..i + 2], 16).unwrap())
            .collect();
        // A tombstone's KeyValue holds only its key: field 1, length, bytes.
        assert_eq!(bytes[0], 0x0a);
        keys.push(bytes[2..].to_vec());
    }
    keys.sort();
    keys.dedup();
    for key in &keys {
        let key = String::from_utf8(key.clone()).unwrap();
        let h = json_lines(&ok(&["history", &clean(), &key, "-o", "json"]));
        assert!(!h.is_empty(), "{key}");
        assert!(h.windows(2).all(
            |w| (w[0]["revision"].as_i64(), w[0]["sub_revision"].as_i64())
                < (w[1]["revision"].as_i64(), w[1]["sub_revision"].as_i64())
        ));
        for e in &h {
            if e["op"] == "PUT" {
                assert_eq!(e["mod_revision"], e["revision"], "{key}");
            } else {
                deletes += 1;
            }
        }
        let live = dump.iter().find(|kv| b64(&kv["key"]) == key.as_bytes());
        match live {
            Some(kv) => assert_eq!(h.last().unwrap()["mod_revision"], kv["mod_revision"]),
            None => assert_eq!(
                h.last().unwrap()["op"],
                "DELETE",
                "{key} is gone, so its last revision deletes it"
            ),
        }
        total += h.len();
    }
    assert_eq!(deletes, tombstones.len());
    assert_eq!(
        total, revs_in_bucket,
        "history covers every revision in the bucket"
    );
}

#[test]
fn completions_and_help_have_examples() {
    let bash = String::from_utf8(ok(&["completions", "bash"])).unwrap();
    assert!(bash.contains("reshift") && bash.contains("inspect"));
    for cmd in ["inspect", "ls", "get", "history", "dump", "check", "bbolt"] {
        let help = String::from_utf8(ok(&[cmd, "--help"])).unwrap();
        assert!(help.contains("Example"), "{cmd} --help has examples");
    }
}

/// Every example in every command's `--help` runs: file names in them are mapped to
/// bundled testdata (a data dir, its db, a snapshot of it, a stored value) or to new paths
/// in a temp dir, pipes and redirections are dropped, and each must end with exit 0 — or 1
/// where the example names a key or revision testdata does not hold — never a usage error
/// or a panic.
#[test]
fn every_help_example_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |name: &str| tmp.path().join(name).to_str().unwrap().to_string();
    let data = clean();
    let db = format!("{data}/member/snap/db");
    let snap = t("made.rsnap");
    ok(&["snapshot", &data, "-o", &snap]);
    let value = t("value.bin");
    std::fs::write(&value, ok(&["get", &data, "/registry/namespaces/default"])).unwrap();
    let top = String::from_utf8(ok(&["--help"])).unwrap();
    let commands: Vec<String> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect();
    assert!(commands.len() >= 10, "{commands:?}");
    let mut helps = vec![top.clone()];
    for c in &commands {
        helps.push(String::from_utf8(ok(&[c, "--help"])).unwrap());
    }
    let mut ran = 0;
    for help in helps {
        let text = help.replace("\\\n", " ");
        let examples = text
            .lines()
            .skip_while(|l| !l.starts_with("Examples:"))
            .skip(1)
            .map(str::trim)
            .filter(|l| l.starts_with("reshift "));
        for ex in examples {
            // The command before any pipe or redirection, split as a shell would.
            let cmd = ex.split(['|', '>']).next().unwrap().trim();
            let mut words: Vec<String> = Vec::new();
            let mut quoted = None::<String>;
            for w in cmd.split_whitespace().skip(1) {
                match &mut quoted {
                    Some(q) => {
                        q.push(' ');
                        q.push_str(w.trim_end_matches('\''));
                        if w.ends_with('\'') {
                            words.push(quoted.take().unwrap());
                        }
                    }
                    None if w.starts_with('\'') && !(w.len() > 1 && w.ends_with('\'')) => {
                        quoted = Some(w.trim_start_matches('\'').to_string())
                    }
                    None => words.push(w.trim_matches('\'').to_string()),
                }
            }
            // The word after the command (or `bbolt X`) is the input; other file names are
            // outputs.
            let input_at = if words.first().is_some_and(|w| w == "bbolt") {
                2
            } else {
                1
            };
            let mapped: Vec<String> = words
                .iter()
                .enumerate()
                .map(|(i, w)| match w.as_str() {
                    "/var/lib/etcd" => data.clone(),
                    "db" | "backup.db" | "snapshot.db" => db.clone(),
                    w if w.ends_with(".rsnap") && i == input_at => snap.clone(),
                    "value.bin" => value.clone(),
                    w if w.ends_with(".rsnap")
                        || w.ends_with(".db")
                        || w.starts_with("/srv/")
                        || w.starts_with("/var/lib/etcd-") =>
                    {
                        t(w.trim_start_matches('/').replace('/', "_").as_str())
                    }
                    w => w.to_string(),
                })
                .collect();
            let mut args: Vec<&str> = mapped
                .iter()
                .map(String::as_str)
                .filter(|w| *w != "&")
                .collect();
            if args.first() == Some(&"serve") {
                // A server does not exit: it must come up and answer, then it is stopped.
                let listen = format!("127.0.0.1:{}", free_port());
                match args.iter().position(|w| *w == "--listen") {
                    Some(i) => args[i + 1] = &listen,
                    None => args.extend(["--listen", &listen]),
                }
                serves(&args, &listen, ex);
                ran += 1;
                continue;
            }
            let (code, _, err) = run(&args);
            // Keys and revisions in examples are a real cluster's; testdata may lack them.
            let absent = ["not found", "in the future", "compacted"]
                .iter()
                .any(|m| err.contains(m));
            // `diff` exits 1 when its inputs differ, 2 on errors (as diff(1) does).
            let diff = args.first() == Some(&"diff");
            let failed = if diff { 2 } else { 1 };
            assert!(
                code == 0 || (diff && code == 1) || (code == failed && absent),
                "example `{ex}` (run as {args:?}) exited {code}: {err}"
            );
            ran += 1;
        }
    }
    assert!(ran >= 25, "only {ran} examples ran");
}

/// Starts `reshift ARGS` (a server listening on `listen`), asserts that it answers
/// `GET /version` within 60 s, and stops it.
fn serves(args: &[&str], listen: &str, ex: &str) {
    use std::io::{Read, Write};
    let mut child = reshift()
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    let mut answered = false;
    while t0.elapsed() < std::time::Duration::from_secs(60) && !answered {
        if let Some(s) = child.try_wait().unwrap() {
            let mut err = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            // As for every example: a revision or key testdata does not hold is a plain
            // refusal.
            let absent = ["not found", "in the future", "compacted"]
                .iter()
                .any(|m| err.contains(m));
            assert!(
                s.code() == Some(1) && absent,
                "example `{ex}` (run as {args:?}) exited {s}: {err}"
            );
            return;
        }
        if let Ok(mut c) = std::net::TcpStream::connect(listen) {
            let _ = write!(
                c,
                "GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            );
            let mut reply = String::new();
            let _ = c.read_to_string(&mut reply);
            answered = reply.starts_with("HTTP/1.1 200");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        answered,
        "example `{ex}` (run as {args:?}) did not answer GET /version"
    );
}
