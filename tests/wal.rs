//! The WAL reader on real segments from testdata/, intact and damaged (in temp copies).

mod common;
use common::*;
use reshift::wal::snapfile::{read_snap, read_snaps};
use reshift::wal::{Ending, Wal, read_log};
use std::path::Path;

fn only_segment(dir: &Path) -> std::path::PathBuf {
    let segs: Vec<_> = std::fs::read_dir(dir.join("member/wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .collect();
    assert_eq!(segs.len(), 1);
    segs[0].clone()
}

#[test]
fn intact_wal_reads_cleanly_with_contiguous_entries() {
    for name in ["clean", "killed"] {
        let wal = Wal::open(&testdata(name).join("member/wal")).unwrap();
        let log = read_log(&wal);
        assert_eq!(log.ending, Ending::Clean, "{name}");
        assert_eq!(log.first_index(), Some(1));
        assert!(log.entries.windows(2).all(|w| w[1].index == w[0].index + 1));
        assert!(log.entries.windows(2).all(|w| w[1].term >= w[0].term));
        let last = log.last_index().unwrap();
        assert!(
            log.hard_state.commit <= last && log.hard_state.commit + 5 >= last,
            "{name}: commit {} last {last}",
            log.hard_state.commit
        );
        assert!(
            log.metadata
                .as_ref()
                .is_some_and(|m| m.node_id != 0 && m.cluster_id != 0)
        );
        assert!(
            !log.snapshots.is_empty(),
            "the first segment starts with a snapshot record"
        );
    }
}

#[test]
fn flipped_byte_mid_segment_is_damage_named_by_file_and_offset() {
    let (_g, dir) = copy_to_temp(&testdata("killed"));
    let seg = only_segment(&dir);
    let intact = read_log(&Wal::open(seg.parent().unwrap()).unwrap());
    let mut bytes = std::fs::read(&seg).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x20;
    std::fs::write(&seg, &bytes).unwrap();
    let log = read_log(&Wal::open(seg.parent().unwrap()).unwrap());
    let Ending::Damaged {
        segment,
        offset,
        reason,
    } = &log.ending
    else {
        panic!("expected damage, got {:?}", log.ending);
    };
    assert_eq!(segment, seg.file_name().unwrap().to_str().unwrap());
    assert!(
        *offset as usize <= mid && mid - (*offset as usize) < 64 * 1024,
        "offset {offset} near the flip at {mid}"
    );
    assert!(
        reason.contains("CRC") || reason.contains("decode"),
        "{reason}"
    );
    // Everything before the damage is served; nothing after it.
    assert!(log.entries.len() > 100 && log.entries.len() < intact.entries.len());
    let key = |e: &reshift::wal::EntryRef| (e.index, e.term, e.data.clone());
    let got: Vec<_> = log.entries.iter().map(key).collect();
    let want: Vec<_> = intact.entries[..log.entries.len()]
        .iter()
        .map(key)
        .collect();
    assert_eq!(got, want, "same entries before the damage");

    // The CLI: `wal` fails naming file and offset; `dump` replays up to the damage and says so.
    let d = dir.to_str().unwrap();
    let (code, _, err) = run(&["wal", d]);
    assert_eq!(code, 1);
    assert!(
        err.contains(seg.file_name().unwrap().to_str().unwrap())
            && err.contains(&format!("offset {offset}")),
        "{err}"
    );
    let (code, out, err) = run(&["dump", d]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("damaged")
            && err.contains(&format!("offset {offset}"))
            && err.contains("replay stopped"),
        "{err}"
    );
    let partial = json_lines(&out);
    let (_, full, _) = run(&["dump", testdata("killed").to_str().unwrap()]);
    assert_ne!(partial, json_lines(&full));
}

#[test]
fn torn_tail_is_reported_and_everything_before_it_served() {
    let (_g, dir) = copy_to_temp(&testdata("killed"));
    let seg = only_segment(&dir);
    let intact = read_log(&Wal::open(seg.parent().unwrap()).unwrap());
    let last = intact.entries.last().unwrap();
    let len = std::fs::metadata(&seg).unwrap().len();
    // Cut the file 5 bytes into the last entry's record data.
    let cut = last.offset as u64 + 8 + 5;
    assert!(cut < len);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .unwrap()
        .set_len(cut)
        .unwrap();
    let log = read_log(&Wal::open(seg.parent().unwrap()).unwrap());
    assert!(
        matches!(log.ending, Ending::Torn { offset, .. } if offset == last.offset as u64),
        "{:?}",
        log.ending
    );
    assert_eq!(log.entries.len(), intact.entries.len() - 1);
    let (code, _, err) = run(&["dump", dir.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(err.contains("torn"), "{err}");
}

#[test]
fn zero_filled_tail_is_normal() {
    let (_g, dir) = copy_to_temp(&testdata("clean"));
    let seg = only_segment(&dir);
    let intact = read_log(&Wal::open(seg.parent().unwrap()).unwrap());
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes.resize(bytes.len() + (1 << 20), 0);
    std::fs::write(&seg, &bytes).unwrap();
    let log = read_log(&Wal::open(seg.parent().unwrap()).unwrap());
    assert_eq!(log.ending, Ending::Clean);
    assert_eq!(log.entries.len(), intact.entries.len());
    // Non-zero bytes after a zero gap in the last segment: an unsynced torn write.
    let n = bytes.len();
    bytes[n - 100] = 7;
    std::fs::write(&seg, &bytes).unwrap();
    let log = read_log(&Wal::open(seg.parent().unwrap()).unwrap());
    assert!(
        matches!(log.ending, Ending::Torn { .. }),
        "{:?}",
        log.ending
    );
    assert_eq!(log.entries.len(), intact.entries.len());
}

#[test]
fn segment_gap_and_absurd_length_are_errors() {
    let (_g, dir) = copy_to_temp(&testdata("clean"));
    let wal_dir = dir.join("member/wal");
    std::fs::write(wal_dir.join("0000000000000002-0000000000099999.wal"), b"").unwrap();
    let err = Wal::open(&wal_dir).err().expect("gap").to_string();
    assert!(err.contains("not contiguous"), "{err}");
    std::fs::remove_file(wal_dir.join("0000000000000002-0000000000099999.wal")).unwrap();
    let seg = only_segment(&dir);
    let mut bytes = std::fs::read(&seg).unwrap();
    // The second record's length word: an absurd length.
    let first_len = u64::from_le_bytes(bytes[0..8].try_into().unwrap()) & 0x00ff_ffff_ffff_ffff;
    let pad = (8 - first_len % 8) % 8;
    let second = (8 + first_len + pad) as usize;
    bytes[second..second + 8].copy_from_slice(&0x00ff_ffff_ffff_fff0u64.to_le_bytes());
    std::fs::write(&seg, &bytes).unwrap();
    let log = read_log(&Wal::open(&wal_dir).unwrap());
    assert!(
        matches!(&log.ending, Ending::Damaged { offset, reason, .. } if *offset as usize == second && reason.contains("limit")),
        "{:?}",
        log.ending
    );
}

#[test]
fn snap_files_verify_and_match_their_names() {
    let snaps = read_snaps(&testdata("clean/member/snap")).unwrap();
    assert!(!snaps.is_empty());
    for s in &snaps {
        let s = s.as_ref().unwrap();
        assert!(s.index > 0 && s.term > 0);
        assert_eq!(s.voters.len(), 1);
    }
    let first = snaps[0].as_ref().unwrap();
    let (_g, copy) = copy_to_temp(&testdata("clean/member/snap").join(&first.file));
    let mut b = std::fs::read(&copy).unwrap();
    let n = b.len();
    b[n - 10] ^= 1;
    std::fs::write(&copy, &b).unwrap();
    let err = read_snap(&copy).unwrap_err().to_string();
    assert!(err.contains("CRC") || err.contains("decode"), "{err}");
}

#[test]
fn check_of_a_data_dir_names_wal_and_snap_damage() {
    let (code, out, _) = run(&["check", testdata("clean").to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(String::from_utf8(out).unwrap().contains("intact"));
    // A flipped byte mid-WAL: exit 1, the segment and offset named.
    let (_g, dir) = copy_to_temp(&testdata("clean"));
    let seg = only_segment(&dir);
    let mut b = std::fs::read(&seg).unwrap();
    let mid = b.len() / 2;
    b[mid] ^= 0x01;
    std::fs::write(&seg, &b).unwrap();
    let (code, out, _) = run(&["check", dir.to_str().unwrap()]);
    let out = String::from_utf8(out).unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("DAMAGED") && out.contains(seg.file_name().unwrap().to_str().unwrap()),
        "{out}"
    );
    // A damaged snap file: exit 1.
    let (_g2, dir2) = copy_to_temp(&testdata("clean"));
    let snap = std::fs::read_dir(dir2.join("member/snap"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "snap"))
        .unwrap();
    let mut b = std::fs::read(&snap).unwrap();
    let n = b.len();
    b[n / 2] ^= 0x01;
    std::fs::write(&snap, &b).unwrap();
    let (code, out, _) = run(&["check", dir2.to_str().unwrap(), "-o", "json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert!(
        v["snaps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s.get("Err").is_some()),
        "{v}"
    );
    // Usage errors exit 2.
    let (code, _, _) = run(&["check"]);
    assert_eq!(code, 2);
}
