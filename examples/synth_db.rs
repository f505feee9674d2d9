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
    let mut kvs = Vec::with_capacity(n);
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
        let rev = i as i64 + 2;
        let value = format!(
            r#"{{"kind":"ConfigMap","apiVersion":"v1","metadata":{{"name":"{name}","namespace":"{ns}","uid":"00000000-0000-0000-0000-{i:012}","creationTimestamp":"2026-11-01T00:00:00Z","labels":{{"app":"a{}"}}}},"data":{{"k":"{filler}"}}}}"#,
            i % 7
        );
        let kv = reshift::etcd::KeyValueRef {
            key: key.as_bytes(),
            create_revision: rev,
            mod_revision: rev,
            version: 1,
            value: value.as_bytes(),
            lease: 0,
        }
        .encode();
        kvs.push((rev, key.into_bytes(), kv));
    }
    // etcd's key bucket is ordered by revision; these revisions follow key order.
    let records: Vec<reshift::etcd::RevRecord<'_>> = kvs
        .iter()
        .map(|(rev, key, kv)| reshift::etcd::RevRecord {
            rev: reshift::etcd::Revision { main: *rev, sub: 0 },
            tombstone: false,
            key,
            kv,
        })
        .collect();
    let extras = vec![(
        b"meta".to_vec(),
        b"consistent_index".to_vec(),
        (n as u64 + 10).to_be_bytes().to_vec(),
    )];
    let f = std::fs::File::create(&out).expect("create OUT");
    reshift::restore::db::write_db(
        std::io::BufWriter::with_capacity(1 << 20, f),
        &out,
        reshift::restore::db::Keys::Records(&records),
        &extras,
    )
    .expect("write db");
}
