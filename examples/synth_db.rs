//! Writes a bbolt db in etcd's layout holding N ConfigMaps (JSON-stored, as an apiserver
//! with `--storage-media-type=application/json` stores them) of about L bytes each — a
//! keyspace of a chosen size in seconds, for memory and speed measurements at key counts a
//! real etcd takes minutes to fill (README, "Memory at 1 M keys").
//!
//! usage: cargo run --release --example synth_db -- OUT.db N [VALUE_BYTES]

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: synth_db OUT.db N [VALUE_BYTES]");
        std::process::exit(2);
    }
    let out = std::path::PathBuf::from(&args[1]);
    let n: usize = args[2].parse().expect("N");
    let len: usize = args.get(3).map_or(300, |s| s.parse().expect("VALUE_BYTES"));
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut puts = Vec::with_capacity(n);
    for i in 0..n {
        let (ns, name) = (format!("ns{:03}", i % 500), format!("cm-{i:08}"));
        let key = format!("/registry/configmaps/{ns}/{name}");
        let filler: String = (0..len.saturating_sub(200))
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                char::from(b'a' + (state % 26) as u8)
            })
            .collect();
        let value = format!(
            r#"{{"kind":"ConfigMap","apiVersion":"v1","metadata":{{"name":"{name}","namespace":"{ns}","uid":"00000000-0000-0000-0000-{i:012}","creationTimestamp":"2026-11-01T00:00:00Z","labels":{{"app":"a{}"}}}},"data":{{"k":"{filler}"}}}}"#,
            i % 7
        );
        puts.push((key.into_bytes(), value.into_bytes()));
    }
    if let Err(e) = reshift::restore::db::write_puts_db(&out, &puts) {
        eprintln!("synth_db: {e}");
        std::process::exit(1);
    }
}
