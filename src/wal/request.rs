//! What a raft entry asks for: its payload decoded (InternalRaftRequest, the older v2
//! Request, conf changes) into a view for listing, with keys escaped for display.

use crate::display::printable;
use crate::pb::etcdserverpb::{self as pb, request_op};
use crate::pb::raftpb;
use bytes::Bytes;
use prost::Message;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum RequestView {
    /// An entry with no data: a new leader's first entry.
    Empty,
    Put {
        key: String,
        value_size: usize,
        lease: i64,
        ignore_value: bool,
        ignore_lease: bool,
    },
    DeleteRange {
        key: String,
        range_end: String,
    },
    Range {
        key: String,
        range_end: String,
    },
    Txn {
        compares: Vec<String>,
        success: Vec<RequestView>,
        failure: Vec<RequestView>,
    },
    Compaction {
        revision: i64,
        physical: bool,
    },
    LeaseGrant {
        id: i64,
        ttl: i64,
    },
    LeaseRevoke {
        id: i64,
    },
    LeaseCheckpoint {
        checkpoints: Vec<(i64, i64)>,
    },
    Alarm {
        action: i32,
        member_id: u64,
        alarm: i32,
    },
    Auth {
        request: &'static str,
    },
    V2 {
        method: String,
        path: String,
        value_size: usize,
    },
    ClusterVersionSet {
        version: String,
    },
    ClusterMemberAttrSet {
        member_id: u64,
        name: String,
    },
    DowngradeInfoSet {
        enabled: bool,
        version: String,
    },
    ConfChange {
        change: i32,
        node_id: u64,
    },
    ConfChangeV2 {
        changes: Vec<(i32, u64)>,
    },
    Undecodable {
        error: String,
    },
}

/// A decoded entry payload.
pub enum Payload {
    Empty,
    V3(Box<pb::InternalRaftRequest>),
    V2(Box<pb::Request>),
    ConfChange(raftpb::ConfChange),
    ConfChangeV2(raftpb::ConfChangeV2),
    Undecodable(String),
}

/// Decodes the data of an entry of type `etype`, as etcd does: a normal entry is an
/// InternalRaftRequest, or, when it does not decode as one, a v2 Request.
pub fn decode_payload(etype: i32, data: &Bytes) -> Payload {
    match etype {
        0 if data.is_empty() => Payload::Empty,
        0 => match pb::InternalRaftRequest::decode(data.clone()) {
            Ok(r) => Payload::V3(Box::new(r)),
            Err(e3) => match pb::Request::decode(data.clone()) {
                Ok(r) => Payload::V2(Box::new(r)),
                Err(_) => Payload::Undecodable(format!("not an InternalRaftRequest: {e3}")),
            },
        },
        1 => raftpb::ConfChange::decode(data.clone())
            .map_or_else(|e| Payload::Undecodable(e.to_string()), Payload::ConfChange),
        2 => raftpb::ConfChangeV2::decode(data.clone()).map_or_else(
            |e| Payload::Undecodable(e.to_string()),
            Payload::ConfChangeV2,
        ),
        t => Payload::Undecodable(format!("unknown entry type {t}")),
    }
}

fn key(b: &[u8]) -> String {
    printable(b).into_owned()
}

fn op_view(op: &pb::RequestOp) -> RequestView {
    match &op.request {
        Some(request_op::Request::RequestPut(p)) => put_view(p),
        Some(request_op::Request::RequestDeleteRange(d)) => RequestView::DeleteRange {
            key: key(&d.key),
            range_end: key(&d.range_end),
        },
        Some(request_op::Request::RequestRange(r)) => RequestView::Range {
            key: key(&r.key),
            range_end: key(&r.range_end),
        },
        Some(request_op::Request::RequestTxn(t)) => txn_view(t),
        None => RequestView::Undecodable {
            error: "empty RequestOp".into(),
        },
    }
}

fn put_view(p: &pb::PutRequest) -> RequestView {
    RequestView::Put {
        key: key(&p.key),
        value_size: p.value.len(),
        lease: p.lease,
        ignore_value: p.ignore_value,
        ignore_lease: p.ignore_lease,
    }
}

/// A compare as text, e.g. `version(/a) > 3` or `value(/a) == <5 bytes>`.
pub fn compare_text(c: &pb::Compare) -> String {
    use pb::compare::TargetUnion as T;
    let target = ["version", "create", "mod", "value", "lease"]
        .get(c.target as usize)
        .copied()
        .unwrap_or("?");
    let op = ["==", ">", "<", "!="]
        .get(c.result as usize)
        .copied()
        .unwrap_or("?");
    let rhs = match &c.target_union {
        Some(T::Version(v))
        | Some(T::CreateRevision(v))
        | Some(T::ModRevision(v))
        | Some(T::Lease(v)) => v.to_string(),
        Some(T::Value(v)) => format!("<{} bytes>", v.len()),
        None => "0".into(),
    };
    let range = if c.range_end.is_empty() {
        String::new()
    } else {
        format!("..{}", key(&c.range_end))
    };
    format!("{target}({}{range}) {op} {rhs}", key(&c.key))
}

fn txn_view(t: &pb::TxnRequest) -> RequestView {
    RequestView::Txn {
        compares: t.compare.iter().map(compare_text).collect(),
        success: t.success.iter().map(op_view).collect(),
        failure: t.failure.iter().map(op_view).collect(),
    }
}

impl Payload {
    pub fn view(&self) -> RequestView {
        match self {
            Payload::Empty => RequestView::Empty,
            Payload::Undecodable(e) => RequestView::Undecodable { error: e.clone() },
            Payload::ConfChange(c) => RequestView::ConfChange {
                change: c.r#type.unwrap_or(0),
                node_id: c.node_id.unwrap_or(0),
            },
            Payload::ConfChangeV2(c) => RequestView::ConfChangeV2 {
                changes: c
                    .changes
                    .iter()
                    .map(|x| (x.r#type.unwrap_or(0), x.node_id.unwrap_or(0)))
                    .collect(),
            },
            Payload::V2(r) => v2_view(r),
            Payload::V3(r) => v3_view(r),
        }
    }
}

fn v2_view(r: &pb::Request) -> RequestView {
    RequestView::V2 {
        method: r.method.clone().unwrap_or_default(),
        path: r.path.clone().unwrap_or_default(),
        value_size: r.val.as_ref().map_or(0, String::len),
    }
}

fn v3_view(r: &pb::InternalRaftRequest) -> RequestView {
    if let Some(p) = &r.put {
        return put_view(p);
    }
    if let Some(d) = &r.delete_range {
        return RequestView::DeleteRange {
            key: key(&d.key),
            range_end: key(&d.range_end),
        };
    }
    if let Some(t) = &r.txn {
        return txn_view(t);
    }
    if let Some(x) = &r.range {
        return RequestView::Range {
            key: key(&x.key),
            range_end: key(&x.range_end),
        };
    }
    if let Some(c) = &r.compaction {
        return RequestView::Compaction {
            revision: c.revision,
            physical: c.physical,
        };
    }
    if let Some(l) = &r.lease_grant {
        return RequestView::LeaseGrant {
            id: l.id,
            ttl: l.ttl,
        };
    }
    if let Some(l) = &r.lease_revoke {
        return RequestView::LeaseRevoke { id: l.id };
    }
    if let Some(l) = &r.lease_checkpoint {
        return RequestView::LeaseCheckpoint {
            checkpoints: l
                .checkpoints
                .iter()
                .map(|c| (c.id, c.remaining_ttl))
                .collect(),
        };
    }
    if let Some(a) = &r.alarm {
        return RequestView::Alarm {
            action: a.action,
            member_id: a.member_id,
            alarm: a.alarm,
        };
    }
    if let Some(v) = &r.v2 {
        return v2_view(v);
    }
    if let Some(c) = &r.cluster_version_set {
        return RequestView::ClusterVersionSet {
            version: c.ver.clone(),
        };
    }
    if let Some(c) = &r.cluster_member_attr_set {
        return RequestView::ClusterMemberAttrSet {
            member_id: c.member_id,
            name: c
                .member_attributes
                .as_ref()
                .map(|a| a.name.clone())
                .unwrap_or_default(),
        };
    }
    if let Some(d) = &r.downgrade_info_set {
        return RequestView::DowngradeInfoSet {
            enabled: d.enabled,
            version: d.ver.clone(),
        };
    }
    let auth = [
        (r.auth_enable.is_some(), "auth_enable"),
        (r.auth_disable.is_some(), "auth_disable"),
        (r.authenticate.is_some(), "authenticate"),
        (r.auth_user_add.is_some(), "auth_user_add"),
        (r.auth_user_delete.is_some(), "auth_user_delete"),
        (r.auth_user_get.is_some(), "auth_user_get"),
        (
            r.auth_user_change_password.is_some(),
            "auth_user_change_password",
        ),
        (r.auth_user_grant_role.is_some(), "auth_user_grant_role"),
        (r.auth_user_revoke_role.is_some(), "auth_user_revoke_role"),
        (r.auth_user_list.is_some(), "auth_user_list"),
        (r.auth_role_list.is_some(), "auth_role_list"),
        (r.auth_role_add.is_some(), "auth_role_add"),
        (r.auth_role_delete.is_some(), "auth_role_delete"),
        (r.auth_role_get.is_some(), "auth_role_get"),
        (
            r.auth_role_grant_permission.is_some(),
            "auth_role_grant_permission",
        ),
        (
            r.auth_role_revoke_permission.is_some(),
            "auth_role_revoke_permission",
        ),
    ];
    match auth.iter().find(|(set, _)| *set) {
        Some((_, name)) => RequestView::Auth { request: name },
        None => RequestView::Undecodable {
            error: "InternalRaftRequest with no request set".into(),
        },
    }
}
