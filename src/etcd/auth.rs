//! Auth buckets: `auth` (`authEnabled` one byte, `authRevision` 8-byte big-endian),
//! `authUsers` (name → authpb.User), `authRoles` (name → authpb.Role). Password hashes
//! are never shown.

use super::buckets::Buckets;
use super::schema;
use crate::error::Result;
use crate::pb::authpb;
use prost::Message;
use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct AuthInfo {
    pub enabled: bool,
    pub revision: Option<u64>,
    pub users: Vec<User>,
    pub roles: Vec<Role>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub roles: Vec<String>,
    pub has_password: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Role {
    pub name: String,
    /// `READ|WRITE|READWRITE key[..range_end]`, lossy UTF-8.
    pub permissions: Vec<String>,
}

impl From<&super::authz::AuthStore> for AuthInfo {
    /// The view of an auth store after a replay (a user added in the WAL by etcd 3.4 shows
    /// a password: etcd hashed it when it applied the entry).
    fn from(s: &super::authz::AuthStore) -> AuthInfo {
        AuthInfo {
            enabled: s.enabled,
            revision: (s.revision > 0).then_some(s.revision),
            users: s.users.values().map(user).collect(),
            roles: s.roles.values().map(role).collect(),
        }
    }
}

fn user(u: &authpb::User) -> User {
    User {
        name: String::from_utf8_lossy(&u.name).into_owned(),
        roles: u.roles.clone(),
        has_password: !u.password.is_empty(),
    }
}

fn role(r: &authpb::Role) -> Role {
    let permissions = r
        .key_permission
        .iter()
        .map(|p| {
            let kind = match p.perm_type {
                0 => "READ",
                1 => "WRITE",
                2 => "READWRITE",
                _ => "UNKNOWN",
            };
            let key = String::from_utf8_lossy(&p.key);
            if p.range_end.is_empty() {
                format!("{kind} {key}")
            } else {
                format!("{kind} {key}..{}", String::from_utf8_lossy(&p.range_end))
            }
        })
        .collect();
    Role {
        name: String::from_utf8_lossy(&r.name).into_owned(),
        permissions,
    }
}

pub fn read_auth(db: &impl Buckets) -> Result<AuthInfo> {
    let mut info = AuthInfo {
        enabled: db
            .get(schema::AUTH, b"authEnabled")?
            .is_some_and(|v| v.first() == Some(&1)),
        revision: db
            .get(schema::AUTH, b"authRevision")?
            .and_then(|v| <[u8; 8]>::try_from(v).ok().map(u64::from_be_bytes)),
        ..Default::default()
    };
    for (_, value) in db.entries(schema::AUTH_USERS)? {
        // A record that does not decode is skipped (noted in `skipped`), not fatal.
        let u = match authpb::User::decode(value) {
            Ok(u) => u,
            Err(err) => {
                let e = db.fault(value, format!("authUsers: authpb.User: {err}"));
                super::skipped::skip(e.to_string());
                continue;
            }
        };
        info.users.push(user(&u));
    }
    for (_, value) in db.entries(schema::AUTH_ROLES)? {
        let r = match authpb::Role::decode(value) {
            Ok(r) => r,
            Err(err) => {
                let e = db.fault(value, format!("authRoles: authpb.Role: {err}"));
                super::skipped::skip(e.to_string());
                continue;
            }
        };
        info.roles.push(role(&r));
    }
    Ok(info)
}
