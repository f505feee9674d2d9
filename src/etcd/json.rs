//! KeyValues as JSON in etcdctl's conventions: `key` and `value` base64, revisions,
//! version and lease as numbers, zero fields left out (as `etcdctl -w json` does).

use super::kv::KeyValueRef;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Appends one KeyValue as a JSON object (no newline) to `out`, without allocating
/// beyond `out`'s growth.
pub fn write_kv(out: &mut Vec<u8>, kv: &KeyValueRef<'_>) {
    out.extend_from_slice(b"{\"key\":\"");
    b64(out, kv.key);
    out.push(b'"');
    for (name, v) in [
        ("create_revision", kv.create_revision),
        ("mod_revision", kv.mod_revision),
        ("version", kv.version),
    ] {
        if v != 0 {
            num(out, name, v);
        }
    }
    if !kv.value.is_empty() {
        out.extend_from_slice(b",\"value\":\"");
        b64(out, kv.value);
        out.push(b'"');
    }
    if kv.lease != 0 {
        num(out, "lease", kv.lease);
    }
    out.push(b'}');
}

fn num(out: &mut Vec<u8>, name: &str, v: i64) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
    let mut buf = itoa_buf(v);
    out.extend_from_slice(buf.as_bytes_mut());
}

fn b64(out: &mut Vec<u8>, b: &[u8]) {
    let start = out.len();
    let n = b.len().div_ceil(3) * 4;
    out.resize(start + n, 0);
    let w = STANDARD
        .encode_slice(b, &mut out[start..])
        .expect("buffer sized for base64");
    out.truncate(start + w);
}

struct Digits {
    buf: [u8; 20],
    start: usize,
}

impl Digits {
    fn as_bytes_mut(&mut self) -> &[u8] {
        &self.buf[self.start..]
    }
}

fn itoa_buf(v: i64) -> Digits {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let neg = v < 0;
    let mut u = v.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    if neg {
        i -= 1;
        buf[i] = b'-';
    }
    Digits { buf, start: i }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etcdctl_shape() {
        let kv = KeyValueRef {
            key: b"/a",
            create_revision: 2,
            mod_revision: 10,
            version: 3,
            value: b"hello",
            lease: 0,
        };
        let mut out = Vec::new();
        write_kv(&mut out, &kv);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"key":"L2E=","create_revision":2,"mod_revision":10,"version":3,"value":"aGVsbG8="})
        );
        let mut out = Vec::new();
        write_kv(
            &mut out,
            &KeyValueRef {
                lease: i64::MIN,
                ..kv
            },
        );
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["lease"], serde_json::json!(i64::MIN));
    }
}
