//! ObjectMeta of any stored object, without the object's schema: in protobuf it is field 1
//! of every top-level object; in JSON, the `metadata` member. Rendered as Kubernetes
//! writes it (field names and order, RFC 3339 seconds for Time, a null creationTimestamp
//! when unset); managedFields are counted and sized, not rendered.

use crate::wire::{Fields, Value as W, WireError};
use serde::Serialize;
use std::borrow::Cow;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerReference<'a> {
    pub api_version: Cow<'a, str>,
    pub kind: Cow<'a, str>,
    pub name: Cow<'a, str>,
    pub uid: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub controller: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_owner_deletion: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    pub name: Cow<'a, str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub generate_name: Cow<'a, str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub namespace: Cow<'a, str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub self_link: Cow<'a, str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub uid: Cow<'a, str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub resource_version: Cow<'a, str>,
    #[serde(skip_serializing_if = "is_zero")]
    pub generation: i64,
    pub creation_timestamp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_timestamp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_grace_period_seconds: Option<i64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<Cow<'a, str>, Cow<'a, str>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<Cow<'a, str>, Cow<'a, str>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub owner_references: Vec<OwnerReference<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub finalizers: Vec<Cow<'a, str>>,
    /// Not a Kubernetes field: how many managedFields entries the object has.
    #[serde(skip)]
    pub managed_fields: usize,
    /// Not a Kubernetes field: their encoded size in bytes.
    #[serde(skip)]
    pub managed_fields_bytes: usize,
}

fn owned(c: Cow<'_, str>) -> Cow<'static, str> {
    Cow::Owned(c.into_owned())
}

impl ObjectMeta<'_> {
    /// The same metadata, owning its strings (for a value decoded from a buffer that does
    /// not outlive the description, such as a decrypted one).
    pub fn into_owned(self) -> ObjectMeta<'static> {
        let map = |m: BTreeMap<Cow<'_, str>, Cow<'_, str>>| {
            m.into_iter().map(|(k, v)| (owned(k), owned(v))).collect()
        };
        ObjectMeta {
            name: owned(self.name),
            generate_name: owned(self.generate_name),
            namespace: owned(self.namespace),
            self_link: owned(self.self_link),
            uid: owned(self.uid),
            resource_version: owned(self.resource_version),
            generation: self.generation,
            creation_timestamp: self.creation_timestamp,
            deletion_timestamp: self.deletion_timestamp,
            deletion_grace_period_seconds: self.deletion_grace_period_seconds,
            labels: map(self.labels),
            annotations: map(self.annotations),
            owner_references: self
                .owner_references
                .into_iter()
                .map(|o| OwnerReference {
                    api_version: owned(o.api_version),
                    kind: owned(o.kind),
                    name: owned(o.name),
                    uid: owned(o.uid),
                    controller: o.controller,
                    block_owner_deletion: o.block_owner_deletion,
                })
                .collect(),
            finalizers: self.finalizers.into_iter().map(owned).collect(),
            managed_fields: self.managed_fields,
            managed_fields_bytes: self.managed_fields_bytes,
        }
    }
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// Seconds since the epoch as Kubernetes renders a Time: `2006-01-02T15:04:05Z`.
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, mi, se) = (rem / 3600, rem % 3600 / 60, rem % 60);
    if !(0..=9999).contains(&y) {
        return format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{se:02}Z");
    }
    // Every timestamp of every object comes through here: digits by hand, no formatter.
    let two = |v: i64| [b'0' + (v / 10) as u8, b'0' + (v % 10) as u8];
    let mut b = [0u8; 20];
    b[..2].copy_from_slice(&two(y / 100));
    b[2..4].copy_from_slice(&two(y % 100));
    b[4] = b'-';
    b[5..7].copy_from_slice(&two(m));
    b[7] = b'-';
    b[8..10].copy_from_slice(&two(d));
    b[10] = b'T';
    b[11..13].copy_from_slice(&two(h));
    b[13] = b':';
    b[14..16].copy_from_slice(&two(mi));
    b[16] = b':';
    b[17..19].copy_from_slice(&two(se));
    b[19] = b'Z';
    std::str::from_utf8(&b).expect("ASCII digits").to_owned()
}

fn text(b: &[u8]) -> Cow<'_, str> {
    crate::wire::text_lossy(b)
}

fn time(b: &[u8]) -> Result<String, WireError> {
    let mut secs = 0i64;
    for f in Fields::new(b) {
        if let (1, W::Varint(v)) = f? {
            secs = v as i64;
        }
    }
    Ok(rfc3339(secs))
}

fn map_entry(b: &[u8]) -> Result<(Cow<'_, str>, Cow<'_, str>), WireError> {
    let (mut k, mut v): (&[u8], &[u8]) = (b"", b"");
    for f in Fields::new(b) {
        match f? {
            (1, W::Bytes(x)) => k = x,
            (2, W::Bytes(x)) => v = x,
            _ => {}
        }
    }
    Ok((text(k), text(v)))
}

fn owner(b: &[u8]) -> Result<OwnerReference<'_>, WireError> {
    let mut o = OwnerReference::default();
    for f in Fields::new(b) {
        match f? {
            (1, W::Bytes(x)) => o.kind = text(x),
            (3, W::Bytes(x)) => o.name = text(x),
            (4, W::Bytes(x)) => o.uid = text(x),
            (5, W::Bytes(x)) => o.api_version = text(x),
            (6, W::Varint(x)) => o.controller = Some(x != 0),
            (7, W::Varint(x)) => o.block_owner_deletion = Some(x != 0),
            _ => {}
        }
    }
    Ok(o)
}

/// Decodes an encoded ObjectMeta.
pub fn decode_object_meta(b: &[u8]) -> Result<ObjectMeta<'_>, WireError> {
    let mut m = ObjectMeta::default();
    for f in Fields::new(b) {
        match f? {
            (1, W::Bytes(x)) => m.name = text(x),
            (2, W::Bytes(x)) => m.generate_name = text(x),
            (3, W::Bytes(x)) => m.namespace = text(x),
            (4, W::Bytes(x)) => m.self_link = text(x),
            (5, W::Bytes(x)) => m.uid = text(x),
            (6, W::Bytes(x)) => m.resource_version = text(x),
            (7, W::Varint(x)) => m.generation = x as i64,
            (8, W::Bytes(x)) => m.creation_timestamp = Some(time(x)?),
            (9, W::Bytes(x)) => m.deletion_timestamp = Some(time(x)?),
            (10, W::Varint(x)) => m.deletion_grace_period_seconds = Some(x as i64),
            (11, W::Bytes(x)) => {
                let (k, v) = map_entry(x)?;
                m.labels.insert(k, v);
            }
            (12, W::Bytes(x)) => {
                let (k, v) = map_entry(x)?;
                m.annotations.insert(k, v);
            }
            (13, W::Bytes(x)) => m.owner_references.push(owner(x)?),
            (14, W::Bytes(x)) => m.finalizers.push(text(x)),
            (17, W::Bytes(x)) => {
                m.managed_fields += 1;
                m.managed_fields_bytes += x.len();
            }
            _ => {}
        }
    }
    Ok(m)
}

/// Whether a protobuf object's ObjectMeta (its field 1) decodes, without keeping any of
/// it: the same walk as [`protobuf_meta`] (the nested timestamps, label and annotation
/// entries and owner references included), so it fails exactly where that fails, but no
/// string is checked or copied. For summaries that count objects rather than show them.
pub fn check_protobuf_meta(object: &[u8]) -> Result<(), WireError> {
    fn walk(b: &[u8]) -> Result<(), WireError> {
        Fields::new(b).try_for_each(|f| f.map(drop))
    }
    for f in Fields::new(object) {
        if let (1, W::Bytes(m)) = f? {
            for f in Fields::new(m) {
                if let (8 | 9 | 11 | 12 | 13, W::Bytes(x)) = f? {
                    walk(x)?;
                }
            }
            return Ok(());
        }
    }
    Ok(())
}

/// The ObjectMeta of a protobuf object (its field 1); `None` when it has none.
pub fn protobuf_meta(object: &[u8]) -> Result<Option<ObjectMeta<'_>>, WireError> {
    for f in Fields::new(object) {
        if let (1, W::Bytes(x)) = f? {
            return decode_object_meta(x).map(Some);
        }
    }
    Ok(None)
}

/// The ObjectMeta of a JSON object's `metadata` member.
pub fn json_meta(v: &serde_json::Value) -> Option<ObjectMeta<'static>> {
    let md = v.get("metadata")?.as_object()?;
    let s = |k: &str| {
        Cow::Owned(
            md.get(k)
                .and_then(|x| x.as_str())
                .unwrap_or_default()
                .to_string(),
        )
    };
    let map = |k: &str| -> BTreeMap<Cow<'static, str>, Cow<'static, str>> {
        md.get(k)
            .and_then(|x| x.as_object())
            .map(|o| {
                o.iter()
                    .map(|(k, v)| {
                        (
                            Cow::Owned(k.clone()),
                            Cow::Owned(v.as_str().unwrap_or_default().to_string()),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let managed = md.get("managedFields").and_then(|x| x.as_array());
    Some(ObjectMeta {
        name: s("name"),
        generate_name: s("generateName"),
        namespace: s("namespace"),
        self_link: s("selfLink"),
        uid: s("uid"),
        resource_version: s("resourceVersion"),
        generation: md.get("generation").and_then(|x| x.as_i64()).unwrap_or(0),
        creation_timestamp: md
            .get("creationTimestamp")
            .and_then(|x| x.as_str())
            .map(str::to_string),
        deletion_timestamp: md
            .get("deletionTimestamp")
            .and_then(|x| x.as_str())
            .map(str::to_string),
        deletion_grace_period_seconds: md
            .get("deletionGracePeriodSeconds")
            .and_then(|x| x.as_i64()),
        labels: map("labels"),
        annotations: map("annotations"),
        owner_references: md
            .get("ownerReferences")
            .and_then(|x| x.as_array())
            .map(|a| {
                a.iter()
                    .map(|o| {
                        let g = |k: &str| {
                            Cow::Owned(
                                o.get(k)
                                    .and_then(|x| x.as_str())
                                    .unwrap_or_default()
                                    .to_string(),
                            )
                        };
                        OwnerReference {
                            api_version: g("apiVersion"),
                            kind: g("kind"),
                            name: g("name"),
                            uid: g("uid"),
                            controller: o.get("controller").and_then(|x| x.as_bool()),
                            block_owner_deletion: o
                                .get("blockOwnerDeletion")
                                .and_then(|x| x.as_bool()),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default(),
        finalizers: md
            .get("finalizers")
            .and_then(|x| x.as_array())
            .map(|a| {
                a.iter()
                    .map(|f| Cow::Owned(f.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default(),
        managed_fields: managed.map_or(0, Vec::len),
        managed_fields_bytes: managed.map_or(0, |a| a.iter().map(|x| x.to_string().len()).sum()),
    })
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_199_149_261), "2008-01-01T01:01:01Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339(4_102_444_800), "2100-01-01T00:00:00Z");
        // The hand-written digits round-trip over the years 1 to 9999; beyond them the
        // formatter writes the year.
        let mut secs = -62_135_596_800i64;
        while secs < 253_402_300_800 {
            let t = rfc3339(secs);
            assert_eq!(crate::k8s::parquet::parse_time(&t), Some(secs), "{t}");
            secs += 86_400 * 997 + 3_671;
        }
        assert_eq!(rfc3339(253_402_300_800), "10000-01-01T00:00:00Z");
        assert_eq!(rfc3339(253_402_300_799), "9999-12-31T23:59:59Z");
    }
}
