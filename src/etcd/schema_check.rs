//! etcd's schema checked on top of bbolt's structure: what would make a read fail, or
//! make etcd refuse to start, found record by record and returned as findings. Reads
//! nothing but the db it is given; never stops at the first problem.

use super::buckets::Buckets;
use super::kv::KeyValueRef;
use super::revision::parse_rev_key;
use super::schema;
use crate::bbolt::Db;
use crate::display::printable;
use crate::pb::leasepb;
use prost::Message;

/// Findings of one kind shown one by one; the rest are counted.
const SHOWN_PER_KIND: usize = 10;

/// Collects findings, at most [`SHOWN_PER_KIND`] per kind plus a count of the rest.
#[derive(Default)]
struct Findings {
    out: Vec<String>,
    kinds: std::collections::BTreeMap<&'static str, usize>,
}

impl Findings {
    fn add(&mut self, kind: &'static str, what: String) {
        let n = self.kinds.entry(kind).or_insert(0);
        *n += 1;
        if *n <= SHOWN_PER_KIND {
            self.out.push(what);
        }
    }

    fn finish(mut self) -> Vec<String> {
        for (kind, n) in self.kinds {
            if n > SHOWN_PER_KIND {
                self.out.push(format!(
                    "{} more {kind} findings not shown ({n} in all)",
                    n - SHOWN_PER_KIND
                ));
            }
        }
        self.out
    }
}

/// Every meta key a known etcd release writes.
const META_KEYS: [&[u8]; 6] = [
    schema::CONSISTENT_INDEX,
    schema::TERM,
    schema::SCHEDULED_COMPACT,
    schema::FINISHED_COMPACT,
    schema::CONF_STATE,
    schema::STORAGE_VERSION,
];

/// Checks the `key`, `meta`, `lease` and `members` buckets of `db` record by record.
pub fn check_schema(db: &Db<'_>) -> Vec<String> {
    let mut f = Findings::default();
    let at = |b: &[u8]| db.offset_of(b);
    let mut revisions = 0u64;
    match db.bucket(&[schema::KEY]) {
        Ok(Some(b)) => {
            for e in b.iter() {
                let e = match e {
                    Ok(e) => e,
                    Err(err) => {
                        f.add("key bucket", format!("key bucket: {err}"));
                        break;
                    }
                };
                revisions += 1;
                let rk = match parse_rev_key(e.key) {
                    Ok(rk) => rk,
                    Err(w) => {
                        f.add(
                            "revision key",
                            format!(
                                "key bucket offset {}: {w} (found {} bytes): every read fails on it",
                                at(e.key),
                                e.key.len()
                            ),
                        );
                        continue;
                    }
                };
                match KeyValueRef::decode(e.value) {
                    Err(w) => f.add(
                        "KeyValue",
                        format!(
                            "key bucket offset {}: the KeyValue at revision {} does not decode ({}): every read fails on it",
                            at(e.value) + w.offset as u64,
                            rk.rev,
                            w.what
                        ),
                    ),
                    // A tombstone's KeyValue holds only the key; the empty key is a
                    // revision marker (see the keyspace).
                    Ok(kv) if !rk.tombstone && !kv.key.is_empty() && kv.mod_revision != rk.rev.main => f.add(
                        "KeyValue",
                        format!(
                            "key bucket offset {}: the KeyValue of {} stored at revision {} says its mod revision is {}",
                            at(e.value),
                            printable(kv.key),
                            rk.rev,
                            kv.mod_revision
                        ),
                    ),
                    Ok(_) => {}
                }
            }
        }
        Ok(None) => {}
        Err(err) => f.add("key bucket", format!("key bucket: {err}")),
    }
    check_meta(db, revisions, &mut f);
    match db.entries(schema::LEASE) {
        Ok(entries) => {
            for (k, v) in entries {
                if let Err(w) = lease_record(k, v) {
                    f.add("lease", format!("lease bucket offset {}: {w}", at(k)));
                }
            }
        }
        Err(err) => f.add("lease", format!("lease bucket: {err}")),
    }
    match db.entries(schema::MEMBERS) {
        Ok(entries) => {
            for (k, v) in entries {
                if let Err(w) = member_record(k, v) {
                    f.add("member", format!("members bucket offset {}: {w}", at(k)));
                }
            }
        }
        Err(err) => f.add("member", format!("members bucket: {err}")),
    }
    f.finish()
}

/// Why a lease record is unusable: its key must be the 8-byte big-endian ID its
/// leasepb.Lease value holds.
pub fn lease_record(key: &[u8], value: &[u8]) -> Result<(), String> {
    let l = leasepb::Lease::decode(value)
        .map_err(|e| format!("the leasepb.Lease value does not decode: {e}"))?;
    let id = <[u8; 8]>::try_from(key)
        .map(i64::from_be_bytes)
        .map_err(|_| format!("a lease key of {} bytes, expected 8", key.len()))?;
    if id != l.id {
        return Err(format!(
            "the key names lease {id:x}, its value lease {:x}",
            l.id
        ));
    }
    Ok(())
}

/// Why a member record is unusable: its value must be JSON whose `id` is the key's hex ID.
pub fn member_record(key: &[u8], value: &[u8]) -> Result<(), String> {
    let v: serde_json::Value = serde_json::from_slice(value)
        .map_err(|e| format!("member {} JSON does not parse: {e}", printable(key)))?;
    let key_id = std::str::from_utf8(key)
        .ok()
        .and_then(|s| u64::from_str_radix(s, 16).ok())
        .ok_or_else(|| format!("member key {} is not a hex ID", printable(key)))?;
    match v.get("id").and_then(serde_json::Value::as_u64) {
        Some(id) if id != key_id => Err(format!(
            "member key {key_id:x} holds the JSON of member {id:x}"
        )),
        _ => Ok(()),
    }
}

fn check_meta(db: &Db<'_>, revisions: u64, f: &mut Findings) {
    let entries = match db.entries(schema::META) {
        Ok(e) => e,
        Err(err) => {
            f.add("meta", format!("meta bucket: {err}"));
            return;
        }
    };
    let at = |b: &[u8]| db.offset_of(b);
    let get = |name: &[u8]| entries.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    for (k, _) in &entries {
        if !META_KEYS.contains(k) {
            f.add(
                "meta",
                format!(
                    "meta bucket offset {}: unknown key {}: no etcd release writes it (a damaged name?)",
                    at(k),
                    printable(k)
                ),
            );
        }
    }
    match get(schema::CONSISTENT_INDEX) {
        Some(v) if v.len() != 8 => f.add(
            "meta",
            format!(
                "meta bucket offset {}: consistent_index is {} bytes, expected 8",
                at(v),
                v.len()
            ),
        ),
        Some(_) => {}
        None if revisions > 0 => f.add(
            "meta",
            "meta bucket: no consistent_index, yet the key bucket holds revisions: the db would look as if it had applied nothing".to_string(),
        ),
        None => {}
    }
    match get(schema::TERM) {
        Some(v) if v.len() != 8 => f.add(
            "meta",
            format!(
                "meta bucket offset {}: term is {} bytes, expected 8",
                at(v),
                v.len()
            ),
        ),
        None if get(schema::CONF_STATE).is_some() => f.add(
            "meta",
            "meta bucket: confState without term: etcd 3.5 and later write both".to_string(),
        ),
        _ => {}
    }
    for name in [schema::SCHEDULED_COMPACT, schema::FINISHED_COMPACT] {
        if let Some(v) = get(name) {
            if let Err(w) = parse_rev_key(v) {
                f.add(
                    "meta",
                    format!(
                        "meta bucket offset {}: {}: {w}",
                        at(v),
                        String::from_utf8_lossy(name)
                    ),
                );
            }
        }
    }
    if let Some(v) = get(schema::CONF_STATE) {
        if serde_json::from_slice::<serde_json::Value>(v).is_err() {
            f.add(
                "meta",
                format!("meta bucket offset {}: confState is not JSON", at(v)),
            );
        }
    }
}
