//! The auth store as etcd's applier keeps it while applying the raft log: whether auth is
//! enabled, the auth revision, users and roles (from the db's auth buckets, then changed by
//! auth entries), and the checks etcd's auth applier makes on each request before it
//! touches the keyspace (admin, permission and auth-revision checks).
//!
//! Holds state and answers questions; it never reads the keyspace itself (the caller passes
//! the keys a lease holds) and never writes a file.

use super::buckets::Buckets;
use super::schema;
use crate::error::Result;
use crate::pb::{authpb, etcdserverpb as pb};
use prost::Message;
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// Which etcd applier's rules to follow where 3.4 and 3.5 differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Rules {
    /// etcd 3.4: a txn's puts are checked for the key alone; nested txns are not checked;
    /// a lease's keys are checked one by one even for root.
    V34,
    /// etcd 3.5 and later: a txn's puts get the full put check (lease keys, prev_kv),
    /// nested txns are checked, root passes lease checks without a revision check, and
    /// a permission grant with an invalid range is refused.
    V35,
}

/// Why etcd refused a request (its error, named as etcd names it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    UserEmpty,
    OldRevision,
    PermissionDenied,
    UserNotFound,
    Invalid,
}

#[derive(Debug, Clone, Default)]
pub struct AuthStore {
    pub enabled: bool,
    pub revision: u64,
    pub users: BTreeMap<Vec<u8>, authpb::User>,
    pub roles: BTreeMap<Vec<u8>, authpb::Role>,
}

/// Who sent a request: the header's user name and the auth revision it was checked at.
#[derive(Debug, Clone, Copy, Default)]
pub struct Caller<'r> {
    pub user: &'r str,
    pub revision: u64,
}

const ROOT: &str = "root";

/// A key bound as etcd's interval tree compares it: the empty key is past every key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bound<'b>(&'b [u8]);

impl Ord for Bound<'_> {
    fn cmp(&self, o: &Self) -> Ordering {
        match (self.0.is_empty(), o.0.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            _ => self.0.cmp(o.0),
        }
    }
}
impl PartialOrd for Bound<'_> {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// A half-open interval; a point `k` is `[k, k\0)`.
#[derive(Debug, Clone)]
struct Ivl {
    begin: Vec<u8>,
    end: Vec<u8>,
}

impl Ivl {
    fn point(key: &[u8]) -> Ivl {
        let mut end = key.to_vec();
        end.push(0);
        Ivl {
            begin: key.to_vec(),
            end,
        }
    }
    /// `[key, range_end)`, `"\0"` as the end meaning no end.
    fn range(key: &[u8], range_end: &[u8]) -> Ivl {
        let end = if range_end == [0] {
            Vec::new()
        } else {
            range_end.to_vec()
        };
        Ivl {
            begin: key.to_vec(),
            end,
        }
    }
    fn overlaps(&self, o: &Ivl) -> bool {
        Bound(&self.begin) < Bound(&o.end) && Bound(&o.begin) < Bound(&self.end)
    }
}

fn has_root_role(u: &authpb::User) -> bool {
    u.roles.iter().any(|r| r == ROOT)
}

/// Whether `perms` (sorted by begin) cover all of `want`, as etcd's interval tree's
/// `Contains` decides it: the intervals overlapping `want` must join without a gap and
/// reach both of its ends.
fn covers(perms: &[Ivl], want: &Ivl) -> bool {
    let mut first: Option<&[u8]> = None;
    let mut max_end: &[u8] = b"";
    for p in perms.iter().filter(|p| p.overlaps(want)) {
        match first {
            None => {
                first = Some(&p.begin);
                max_end = &p.end;
            }
            Some(_) => {
                if Bound(max_end) < Bound(&p.begin) {
                    return false;
                }
                if Bound(&p.end) > Bound(max_end) {
                    max_end = &p.end;
                }
            }
        }
    }
    match first {
        Some(b) => Bound(max_end) >= Bound(&want.end) && Bound(b) <= Bound(&want.begin),
        None => false,
    }
}

/// Reads the `auth`, `authUsers` and `authRoles` buckets as etcd loads them.
pub fn read_store(db: &impl Buckets) -> Result<AuthStore> {
    let mut s = AuthStore {
        enabled: db
            .get(schema::AUTH, b"authEnabled")?
            .is_some_and(|v| v.first() == Some(&1)),
        revision: db
            .get(schema::AUTH, b"authRevision")?
            .and_then(|v| <[u8; 8]>::try_from(v).ok().map(u64::from_be_bytes))
            .unwrap_or(0),
        ..Default::default()
    };
    // A record that does not decode is left out, as `auth::read_auth` does (which reports
    // it once in `skipped`): the user or role is then unknown to the checks.
    for (key, value) in db.entries(schema::AUTH_USERS)? {
        if let Ok(u) = authpb::User::decode(value) {
            s.users.insert(key.to_vec(), u);
        }
    }
    for (key, value) in db.entries(schema::AUTH_ROLES)? {
        if let Ok(r) = authpb::Role::decode(value) {
            s.roles.insert(key.to_vec(), r);
        }
    }
    Ok(s)
}

impl AuthStore {
    /// etcd's `IsAdminPermitted` (no auth-revision check).
    pub fn admin(&self, c: Caller<'_>) -> std::result::Result<(), Refusal> {
        if !self.enabled {
            return Ok(());
        }
        if c.user.is_empty() {
            return Err(Refusal::UserEmpty);
        }
        match self.users.get(c.user.as_bytes()) {
            None => Err(Refusal::UserNotFound),
            Some(u) if !has_root_role(u) => Err(Refusal::PermissionDenied),
            Some(_) => Ok(()),
        }
    }

    /// etcd's `isOpPermitted`: `range_end` empty checks the key alone.
    pub fn permitted(
        &self,
        c: Caller<'_>,
        key: &[u8],
        range_end: &[u8],
        write: bool,
    ) -> std::result::Result<(), Refusal> {
        if !self.enabled {
            return Ok(());
        }
        if c.revision == 0 {
            return Err(Refusal::UserEmpty);
        }
        if c.revision < self.revision {
            return Err(Refusal::OldRevision);
        }
        let Some(user) = self.users.get(c.user.as_bytes()) else {
            return Err(Refusal::PermissionDenied);
        };
        if has_root_role(user) {
            return Ok(());
        }
        // The user's permissions of the wanted kind, merged over their roles.
        let mut perms: Vec<Ivl> = Vec::new();
        for role in &user.roles {
            let Some(r) = self.roles.get(role.as_bytes()) else {
                continue;
            };
            for p in &r.key_permission {
                let kind_ok = match p.perm_type {
                    0 => !write,
                    1 => write,
                    2 => true,
                    _ => false,
                };
                if !kind_ok {
                    continue;
                }
                perms.push(if p.range_end.is_empty() {
                    Ivl::point(&p.key)
                } else {
                    Ivl::range(&p.key, &p.range_end)
                });
            }
        }
        let ok = if range_end.is_empty() {
            let pt = Ivl::point(key);
            perms.iter().any(|p| p.overlaps(&pt))
        } else {
            perms.sort_by(|a, b| Bound(&a.begin).cmp(&Bound(&b.begin)));
            covers(&perms, &Ivl::range(key, range_end))
        };
        if ok {
            Ok(())
        } else {
            Err(Refusal::PermissionDenied)
        }
    }

    /// Applies an auth request the caller has passed through the admin check, as etcd's
    /// auth store does: Ok also when etcd ignores it (enabling enabled auth, granting a
    /// granted role); every change but enabling bumps the auth revision.
    pub fn apply(
        &mut self,
        r: &pb::InternalRaftRequest,
        rules: Rules,
    ) -> std::result::Result<(), Refusal> {
        use Refusal::Invalid;
        if r.auth_enable.is_some() {
            if self.enabled {
                return Ok(());
            }
            match self.users.get(ROOT.as_bytes()) {
                Some(u) if has_root_role(u) => {}
                _ => return Err(Invalid),
            }
            // Enabling keeps the revision.
            self.enabled = true;
        } else if r.auth_disable.is_some() {
            if !self.enabled {
                return Ok(());
            }
            self.enabled = false;
            self.revision += 1;
        } else if let Some(a) = &r.auth_user_add {
            if a.name.is_empty() || self.users.contains_key(a.name.as_bytes()) {
                return Err(Invalid);
            }
            let options = a
                .options
                .or(Some(authpb::UserAddOptions { no_password: false }));
            let no_password = options.is_some_and(|o| o.no_password);
            self.users.insert(
                a.name.as_bytes().to_vec(),
                authpb::User {
                    name: a.name.as_bytes().to_vec().into(),
                    // The hash etcd stores is not in the entry (3.4 hashes when it applies);
                    // a marker says that there is one.
                    password: if no_password || a.password.is_empty() {
                        Default::default()
                    } else {
                        b"?".to_vec().into()
                    },
                    roles: Vec::new(),
                    options,
                },
            );
            self.revision += 1;
        } else if let Some(d) = &r.auth_user_delete {
            if self.enabled && d.name == ROOT {
                return Err(Invalid);
            }
            if self.users.remove(d.name.as_bytes()).is_none() {
                return Err(Invalid);
            }
            self.revision += 1;
        } else if let Some(p) = &r.auth_user_change_password {
            if !self.users.contains_key(p.name.as_bytes()) {
                return Err(Invalid);
            }
            self.revision += 1;
        } else if let Some(g) = &r.auth_user_grant_role {
            if g.role != ROOT && !self.roles.contains_key(g.role.as_bytes()) {
                return Err(Invalid);
            }
            let Some(u) = self.users.get_mut(g.user.as_bytes()) else {
                return Err(Invalid);
            };
            if u.roles.contains(&g.role) {
                return Ok(());
            }
            u.roles.push(g.role.clone());
            u.roles.sort();
            self.revision += 1;
        } else if let Some(g) = &r.auth_user_revoke_role {
            if self.enabled && g.name == ROOT && g.role == ROOT {
                return Err(Invalid);
            }
            let Some(u) = self.users.get_mut(g.name.as_bytes()) else {
                return Err(Invalid);
            };
            let before = u.roles.len();
            u.roles.retain(|x| x != &g.role);
            if u.roles.len() == before {
                return Err(Invalid);
            }
            self.revision += 1;
        } else if let Some(a) = &r.auth_role_add {
            if a.name.is_empty() || self.roles.contains_key(a.name.as_bytes()) {
                return Err(Invalid);
            }
            self.roles.insert(
                a.name.as_bytes().to_vec(),
                authpb::Role {
                    name: a.name.as_bytes().to_vec().into(),
                    key_permission: Vec::new(),
                },
            );
            self.revision += 1;
        } else if let Some(d) = &r.auth_role_delete {
            if self.enabled && d.role == ROOT {
                return Err(Invalid);
            }
            if self.roles.remove(d.role.as_bytes()).is_none() {
                return Err(Invalid);
            }
            for u in self.users.values_mut() {
                u.roles.retain(|x| x != &d.role);
            }
            self.revision += 1;
        } else if let Some(g) = &r.auth_role_grant_permission {
            let Some(perm) = &g.perm else {
                return Err(Invalid);
            };
            if rules == Rules::V35 && !valid_permission_range(&perm.key, &perm.range_end) {
                return Err(Invalid);
            }
            let Some(role) = self.roles.get_mut(g.name.as_bytes()) else {
                return Err(Invalid);
            };
            let idx = role
                .key_permission
                .partition_point(|p| p.key.as_ref() < perm.key.as_ref());
            match role.key_permission.get_mut(idx) {
                Some(p) if p.key == perm.key && p.range_end == perm.range_end => {
                    p.perm_type = perm.perm_type;
                }
                _ => {
                    role.key_permission.push(authpb::Permission {
                        perm_type: perm.perm_type,
                        key: perm.key.clone(),
                        range_end: perm.range_end.clone(),
                    });
                    role.key_permission.sort_by(|a, b| a.key.cmp(&b.key));
                }
            }
            self.revision += 1;
        } else if let Some(g) = &r.auth_role_revoke_permission {
            let Some(role) = self.roles.get_mut(g.role.as_bytes()) else {
                return Err(Invalid);
            };
            let before = role.key_permission.len();
            role.key_permission
                .retain(|p| p.key != g.key || p.range_end != g.range_end);
            if role.key_permission.len() == before {
                return Err(Invalid);
            }
            self.revision += 1;
        }
        Ok(())
    }
}

/// Which applier wrote a db: etcd 3.5 and later save the raft term (and conf state) in the
/// `meta` bucket, and 3.6 its storage version; otherwise a cluster version of 3.5 or later
/// says so. A db with none of these is etcd 3.4's.
pub fn rules_for(meta: &super::meta::EtcdMeta, cluster_version: Option<&str>) -> Rules {
    if meta.term.is_some() || meta.conf_state.is_some() || meta.storage_version.is_some() {
        return Rules::V35;
    }
    let minor = |v: &str| -> Option<(u32, u32)> {
        let mut it = v.split('.');
        Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    };
    match cluster_version.and_then(minor) {
        Some(v) if v >= (3, 5) => Rules::V35,
        _ => Rules::V34,
    }
}

/// Whether a request needs the admin check before it is applied (etcd's
/// `needAdminPermission`).
pub fn needs_admin(r: &pb::InternalRaftRequest) -> bool {
    r.auth_enable.is_some()
        || r.auth_disable.is_some()
        || r.auth_user_add.is_some()
        || r.auth_user_delete.is_some()
        || r.auth_user_change_password.is_some()
        || r.auth_user_grant_role.is_some()
        || r.auth_user_revoke_role.is_some()
        || r.auth_role_add.is_some()
        || r.auth_role_grant_permission.is_some()
        || r.auth_role_revoke_permission.is_some()
        || r.auth_role_delete.is_some()
        || r.auth_user_list.is_some()
        || r.auth_role_list.is_some()
}

/// etcd 3.5's rule for a granted range: a key, and an end that is empty (the key alone),
/// after the key, or `"\0"` (no end).
fn valid_permission_range(key: &[u8], range_end: &[u8]) -> bool {
    if key.is_empty() {
        return false;
    }
    range_end.is_empty() || Bound(key) < Bound(range_end) || range_end == [0]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ivs(v: &[(&[u8], &[u8])]) -> Vec<Ivl> {
        v.iter().map(|(b, e)| Ivl::range(b, e)).collect()
    }

    #[test]
    fn covering_follows_etcds_interval_tree() {
        let p = ivs(&[(b"a", b"c"), (b"c", b"e")]);
        assert!(covers(&p, &Ivl::range(b"a", b"e")));
        assert!(covers(&p, &Ivl::range(b"b", b"d")));
        assert!(!covers(&p, &Ivl::range(b"a", b"f")));
        let gap = ivs(&[(b"a", b"b"), (b"c", b"e")]);
        assert!(!covers(&gap, &Ivl::range(b"a", b"d")));
        let open = ivs(&[(b"k", b"\0")]);
        assert!(covers(&open, &Ivl::range(b"k", b"\0")));
        assert!(covers(&open, &Ivl::range(b"kz", b"zz")));
        assert!(!covers(&open, &Ivl::range(b"j", b"\0")));
        assert!(Ivl::point(b"k").overlaps(&Ivl::range(b"k", b"l")));
        assert!(!Ivl::point(b"l").overlaps(&Ivl::range(b"k", b"l")));
    }
}
