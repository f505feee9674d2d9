//! Auth buckets: `auth` (`authEnabled` one byte, `authRevision` 8-byte big-endian),
//! `authUsers` (name → authpb.User), `authRoles` (name → authpb.Role). Password hashes
//! are never shown.

use super::schema;
use crate::bbolt::Db;
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

pub fn read_auth(db: &Db<'_>) -> Result<AuthInfo> {
    let mut info = AuthInfo::default();
    if let Some(b) = db.bucket(&[schema::AUTH])? {
        info.enabled = b
            .get(b"authEnabled")?
            .is_some_and(|v| v.first() == Some(&1));
        if let Some(v) = b.get(b"authRevision")? {
            info.revision = <[u8; 8]>::try_from(v).ok().map(u64::from_be_bytes);
        }
    }
    if let Some(b) = db.bucket(&[schema::AUTH_USERS])? {
        for e in b.iter() {
            let e = e?;
            let u = authpb::User::decode(e.value).map_err(|err| {
                db.fault_at(
                    db.offset_of(e.value),
                    format!("authUsers: authpb.User: {err}"),
                )
            })?;
            info.users.push(User {
                name: String::from_utf8_lossy(&u.name).into_owned(),
                roles: u.roles,
                has_password: !u.password.is_empty(),
            });
        }
    }
    if let Some(b) = db.bucket(&[schema::AUTH_ROLES])? {
        for e in b.iter() {
            let e = e?;
            let r = authpb::Role::decode(e.value).map_err(|err| {
                db.fault_at(
                    db.offset_of(e.value),
                    format!("authRoles: authpb.Role: {err}"),
                )
            })?;
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
            info.roles.push(Role {
                name: String::from_utf8_lossy(&r.name).into_owned(),
                permissions,
            });
        }
    }
    Ok(info)
}
