//! What a stored value is: a protobuf object in the `k8s\0` envelope, JSON or CBOR (custom
//! resources; CBOR begins with the self-described tag, `d9 d9 f7`), an encrypted-at-rest
//! value (`k8s:enc:<provider>:v<N>:<key name>:`), or anything else, kept as raw bytes.

use crate::wire::{Fields, Value as W, WireError};
use serde::Serialize;

pub const PROTOBUF_MAGIC: &[u8] = b"k8s\x00";
pub const ENCRYPTED_PREFIX: &[u8] = b"k8s:enc:";
/// What the apiserver's CBOR serializer writes first and recognises CBOR by.
pub const CBOR_PREFIX: &[u8] = super::cbor::SELF_DESCRIBED;

/// runtime.Unknown: `{1: TypeMeta {1: apiVersion, 2: kind}, 2: raw, 3: contentEncoding,
/// 4: contentType}`, borrowed from the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Envelope<'a> {
    pub api_version: &'a [u8],
    pub kind: &'a [u8],
    pub raw: &'a [u8],
    pub content_encoding: &'a [u8],
    pub content_type: &'a [u8],
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Encrypted<'a> {
    /// `aescbc`, `aesgcm`, `secretbox`, `kms`, ... as written in the prefix.
    pub provider: &'a str,
    /// `v1`, `v2`, ...
    pub version: &'a str,
    pub key_name: &'a str,
    pub ciphertext_bytes: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredValue<'a> {
    Protobuf(Envelope<'a>),
    Json(&'a [u8]),
    /// The whole value, self-described tag included.
    Cbor(&'a [u8]),
    Encrypted(Encrypted<'a>),
    Raw(&'a [u8]),
}

impl StoredValue<'_> {
    pub fn encoding(&self) -> &'static str {
        match self {
            StoredValue::Protobuf(_) => "protobuf",
            StoredValue::Json(_) => "json",
            StoredValue::Cbor(_) => "cbor",
            StoredValue::Encrypted(_) => "encrypted",
            StoredValue::Raw(_) => "raw",
        }
    }
}

/// Parses the envelope after the magic. Offsets in errors count from the value's start.
pub fn parse_envelope(body: &[u8]) -> Result<Envelope<'_>, WireError> {
    let at = PROTOBUF_MAGIC.len();
    let shift = |e: WireError| WireError {
        offset: e.offset + at,
        ..e
    };
    let mut env = Envelope::default();
    let mut f = Fields::new(body);
    while let Some(r) = f.next() {
        match r.map_err(shift)? {
            (1, W::Bytes(tm)) => {
                for x in Fields::new(tm) {
                    match x.map_err(shift)? {
                        (1, W::Bytes(b)) => env.api_version = b,
                        (2, W::Bytes(b)) => env.kind = b,
                        _ => {}
                    }
                }
            }
            (2, W::Bytes(b)) => env.raw = b,
            (3, W::Bytes(b)) => env.content_encoding = b,
            (4, W::Bytes(b)) => env.content_type = b,
            (1..=4, _) => {
                return Err(WireError {
                    offset: f.position() + at,
                    what: "runtime.Unknown field of the wrong wire type",
                });
            }
            _ => {}
        }
    }
    Ok(env)
}

fn parse_encrypted(v: &[u8]) -> Encrypted<'_> {
    let rest = &v[ENCRYPTED_PREFIX.len()..];
    // provider, version, key name, each ended by ':'; the ciphertext follows.
    let mut parts = [""; 3];
    let mut at = 0;
    for p in parts.iter_mut() {
        let Some(end) = rest[at..].iter().position(|&c| c == b':') else {
            break;
        };
        *p = std::str::from_utf8(&rest[at..at + end]).unwrap_or("");
        at += end + 1;
    }
    Encrypted {
        provider: parts[0],
        version: parts[1],
        key_name: parts[2],
        ciphertext_bytes: rest.len() - at,
    }
}

/// Classifies a stored value; a malformed envelope is an error with its offset.
pub fn classify(v: &[u8]) -> Result<StoredValue<'_>, WireError> {
    if let Some(body) = v.strip_prefix(PROTOBUF_MAGIC) {
        return parse_envelope(body).map(StoredValue::Protobuf);
    }
    if v.starts_with(ENCRYPTED_PREFIX) {
        return Ok(StoredValue::Encrypted(parse_encrypted(v)));
    }
    if v.starts_with(CBOR_PREFIX) {
        return Ok(StoredValue::Cbor(v));
    }
    if v.iter().find(|c| !c.is_ascii_whitespace()) == Some(&b'{') {
        return Ok(StoredValue::Json(v));
    }
    Ok(StoredValue::Raw(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_prefixes() {
        let e = match classify(b"k8s:enc:aescbc:v1:key1:\x01\x02\x03").unwrap() {
            StoredValue::Encrypted(e) => e,
            x => panic!("{x:?}"),
        };
        assert_eq!(
            (e.provider, e.version, e.key_name, e.ciphertext_bytes),
            ("aescbc", "v1", "key1", 3)
        );
        let e = match classify(b"k8s:enc:kms:v2:my-kms:abcdef").unwrap() {
            StoredValue::Encrypted(e) => e,
            x => panic!("{x:?}"),
        };
        assert_eq!(
            (e.provider, e.version, e.key_name, e.ciphertext_bytes),
            ("kms", "v2", "my-kms", 6)
        );
        // A truncated prefix is still recognised as encrypted, never decoded.
        assert!(matches!(
            classify(b"k8s:enc:secretbox").unwrap(),
            StoredValue::Encrypted(Encrypted { provider: "", .. })
        ));
    }

    #[test]
    fn json_raw_and_bad_envelopes() {
        assert!(matches!(
            classify(b"  {\"a\":1}").unwrap(),
            StoredValue::Json(_)
        ));
        assert!(matches!(classify(b"hello").unwrap(), StoredValue::Raw(_)));
        assert!(matches!(
            classify(b"\xd9\xd9\xf7\xa0").unwrap(),
            StoredValue::Cbor(b"\xd9\xd9\xf7\xa0")
        ));
        // Only the tag's shortest head is the apiserver's mark.
        assert!(matches!(
            classify(b"\xda\x00\x00\xd9\xf7\xa0").unwrap(),
            StoredValue::Raw(_)
        ));
        assert!(matches!(classify(b"").unwrap(), StoredValue::Raw(_)));
        let err = classify(b"k8s\x00\x0a\x05ab").unwrap_err();
        assert!(err.offset >= 4, "{err}");
    }
}
