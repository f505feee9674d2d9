//! Membership buckets: `members` (member ID in hex → JSON), `members_removed` (ID → "removed"),
//! `cluster` (`clusterVersion` and, from etcd 3.6, `downgrade`), and `alarm` (keys are
//! etcdserverpb.AlarmMember: field 1 member ID, field 2 alarm type).

use super::buckets::Buckets;
use super::schema;
use crate::error::Result;
use crate::wire::{Fields, Value};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Member {
    /// The member ID, as etcd prints it (hex).
    pub id: String,
    pub name: String,
    pub peer_urls: Vec<String>,
    pub client_urls: Vec<String>,
    pub is_learner: bool,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ClusterInfo {
    pub members: Vec<Member>,
    pub removed_members: Vec<String>,
    pub cluster_version: Option<String>,
    /// A downgrade in progress or done (`cluster/downgrade`, etcd 3.6+), as stored (JSON).
    pub downgrade: Option<String>,
    pub alarms: Vec<Alarm>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Alarm {
    pub member_id: String,
    pub alarm: &'static str,
}

fn strings(v: &serde_json::Value, field: &str) -> Vec<String> {
    v[field]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub fn read_cluster(db: &impl Buckets) -> Result<ClusterInfo> {
    let mut info = ClusterInfo::default();
    for (key, value) in db.entries(schema::MEMBERS)? {
        // A member whose JSON does not parse is skipped (noted in `skipped`), not fatal.
        let v: serde_json::Value = match serde_json::from_slice(value) {
            Ok(v) => v,
            Err(err) => {
                let e = db.fault(value, format!("members bucket: member JSON: {err}"));
                super::skipped::skip(e.to_string());
                continue;
            }
        };
        info.members.push(Member {
            id: String::from_utf8_lossy(key).into_owned(),
            name: v["name"].as_str().unwrap_or_default().to_string(),
            peer_urls: strings(&v, "peerURLs"),
            client_urls: strings(&v, "clientURLs"),
            is_learner: v["isLearner"].as_bool().unwrap_or(false),
        });
    }
    for (key, _) in db.entries(schema::MEMBERS_REMOVED)? {
        info.removed_members
            .push(String::from_utf8_lossy(key).into_owned());
    }
    info.cluster_version = db
        .get(schema::CLUSTER, b"clusterVersion")?
        .map(|v| String::from_utf8_lossy(v).into_owned());
    info.downgrade = db
        .get(schema::CLUSTER, b"downgrade")?
        .map(|v| String::from_utf8_lossy(v).into_owned());
    for (key, _) in db.entries(schema::ALARM)? {
        let (mut member, mut kind) = (0u64, 0u64);
        for f in Fields::new(key) {
            match f.map_err(|w| db.fault(key, format!("alarm bucket: {w}")))? {
                (1, Value::Varint(v)) => member = v,
                (2, Value::Varint(v)) => kind = v,
                _ => {}
            }
        }
        info.alarms.push(Alarm {
            member_id: format!("{member:x}"),
            alarm: match kind {
                0 => "NONE",
                1 => "NOSPACE",
                2 => "CORRUPT",
                _ => "UNKNOWN",
            },
        });
    }
    Ok(info)
}
