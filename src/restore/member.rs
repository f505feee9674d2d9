//! A new member data dir, as `etcdctl snapshot restore` makes one for a new cluster:
//! members named by `--initial-cluster`, their ids derived as etcd derives them, a WAL that
//! adds each member through a committed conf change, and the db with its applied index at
//! that commit, so etcd applies the conf changes and serves the restored keyspace.

use crate::error::{Error, Result};
use crate::etcd::schema;
use crate::snapshot::extras::Entry;
use crate::wal::writer::{SegmentWriter, add_node};
use sha1::{Digest, Sha1};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    /// Sorted, as etcd keeps them.
    pub peer_urls: Vec<String>,
    pub id: u64,
}

#[derive(Debug, Clone)]
pub struct Cluster {
    pub members: Vec<Member>,
    pub id: u64,
    /// This member, by `--name`.
    pub local: usize,
}

/// etcd's member id: the first 8 bytes (big-endian) of sha1(sorted peer URLs, token).
pub fn member_id(peer_urls: &[String], token: &str) -> u64 {
    let mut urls = peer_urls.to_vec();
    urls.sort();
    let mut h = Sha1::new();
    for u in &urls {
        h.update(u.as_bytes());
    }
    h.update(token.as_bytes());
    u64::from_be_bytes(h.finalize()[..8].try_into().expect("8 bytes"))
}

/// etcd's cluster id: the first 8 bytes of sha1 of the sorted member ids, big-endian.
pub fn cluster_id(ids: &[u64]) -> u64 {
    let mut ids = ids.to_vec();
    ids.sort();
    let mut h = Sha1::new();
    for id in ids {
        h.update(id.to_be_bytes());
    }
    u64::from_be_bytes(h.finalize()[..8].try_into().expect("8 bytes"))
}

impl Cluster {
    /// From `--initial-cluster` (`name=url,name=url,...`; default `NAME=ADVERTISE`).
    pub fn new(
        name: &str,
        initial_cluster: Option<&str>,
        advertise: &str,
        token: &str,
    ) -> Result<Cluster> {
        let spec = initial_cluster.map_or_else(|| format!("{name}={advertise}"), str::to_string);
        let mut members: Vec<Member> = Vec::new();
        for part in spec.split(',').filter(|p| !p.trim().is_empty()) {
            let (n, u) = part.split_once('=').ok_or_else(|| {
                Error::invalid(format!("--initial-cluster: {part:?} is not NAME=URL"))
            })?;
            match members.iter_mut().find(|m| m.name == n.trim()) {
                Some(m) => m.peer_urls.push(u.trim().to_string()),
                None => members.push(Member {
                    name: n.trim().to_string(),
                    peer_urls: vec![u.trim().to_string()],
                    id: 0,
                }),
            }
        }
        for m in &mut members {
            m.peer_urls.sort();
            m.id = member_id(&m.peer_urls, token);
        }
        let local = members.iter().position(|m| m.name == name).ok_or_else(|| {
            Error::invalid(format!("--name {name} is not in --initial-cluster {spec}"))
        })?;
        let id = cluster_id(&members.iter().map(|m| m.id).collect::<Vec<_>>());
        Ok(Cluster { members, id, local })
    }

    /// A member as etcd stores it in JSON: `{"id":…,"peerURLs":[…],"name":…}`.
    pub fn member_json(m: &Member) -> String {
        serde_json::json!({"id": m.id, "peerURLs": m.peer_urls, "name": m.name}).to_string()
    }
}

/// Extras for the new member's db: the new membership, and the applied index at the
/// commit of the conf changes.
pub fn member_extras(mut extras: Vec<Entry>, c: &Cluster) -> Vec<Entry> {
    extras.retain(|(b, k, _)| {
        b != schema::MEMBERS
            && b != schema::MEMBERS_REMOVED
            && !(b == schema::META && k == schema::CONSISTENT_INDEX)
    });
    for m in &c.members {
        extras.push((
            schema::MEMBERS.to_vec(),
            format!("{:x}", m.id).into_bytes(),
            Cluster::member_json(m).into_bytes(),
        ));
    }
    extras.push((
        schema::META.to_vec(),
        schema::CONSISTENT_INDEX.to_vec(),
        (c.members.len() as u64).to_be_bytes().to_vec(),
    ));
    extras.sort();
    extras
}

/// Writes `DIR/member/snap/db` and `DIR/member/wal/0000000000000000-0000000000000000.wal`.
/// A new `dir` is built as a temp dir beside it and renamed into place. An existing empty
/// `dir` (a mount point, say, which cannot be replaced by a rename) is kept: the member dir
/// is built inside it under a temp name and renamed to `DIR/member`, the step etcd sees,
/// and `dir` is set to etcd's 0700. A `dir` that is not empty is refused.
pub fn write_member_dir(
    dir: &Path,
    src: super::db::Source<'_, '_>,
    extras: Vec<Entry>,
    c: &Cluster,
) -> Result<()> {
    let in_place = match std::fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => {
            if std::fs::read_dir(dir)
                .map_err(|e| Error::io(dir, e))?
                .next()
                .is_some()
            {
                return Err(Error::invalid(format!(
                    "{}: not empty; restore writes only into a new or empty dir",
                    dir.display()
                )));
            }
            true
        }
        Ok(_) => {
            return Err(Error::invalid(format!(
                "{}: exists and is not a dir",
                dir.display()
            )));
        }
        Err(_) => false,
    };
    let parent = dir
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let base = dir
        .file_name()
        .ok_or_else(|| Error::invalid(format!("{}: not a dir name", dir.display())))?;
    let pid = std::process::id();
    // What is renamed into place, and the member dir inside it.
    let (tmp, renamed_to, sync_dir) = if in_place {
        let t = dir.join(format!(".member.tmp-{pid}"));
        (t.clone(), dir.join("member"), dir.to_path_buf())
    } else {
        let t = parent.join(format!(".{}.tmp-{pid}", base.to_string_lossy()));
        (t, dir.to_path_buf(), parent.to_path_buf())
    };
    let member = if in_place {
        tmp.clone()
    } else {
        tmp.join("member")
    };
    let mut guard = None;
    let result = (|| -> Result<()> {
        private_dir(&tmp)?;
        // Removed on error, on unwinding and on SIGINT/SIGTERM, unless renamed into place.
        guard = Some(crate::tempout::TempGuard::new(tmp.clone()));
        let snap = member.join("snap");
        let wal = member.join("wal");
        for d in [&member, &snap, &wal] {
            if d != &tmp {
                private_dir(d)?;
            }
        }
        let db_path = snap.join("db");
        let mut o = std::fs::OpenOptions::new();
        o.read(true).write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        let f = o.open(&db_path).map_err(|e| Error::io(&db_path, e))?;
        let extras = member_extras(extras, c);
        let f = super::db::write_db_into(f, &db_path, src, &extras)?;
        f.sync_all().map_err(|e| Error::io(&db_path, e))?;
        let local = &c.members[c.local];
        let mut w = SegmentWriter::new(local.id, c.id);
        for (i, m) in c.members.iter().enumerate() {
            w.entry(
                1,
                i as u64 + 1,
                1,
                &add_node(m.id, Cluster::member_json(m).as_bytes()),
            );
        }
        w.hard_state(1, c.members[0].id, c.members.len() as u64);
        let seg = wal.join("0000000000000000-0000000000000000.wal");
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        let mut f = o.open(&seg).map_err(|e| Error::io(&seg, e))?;
        std::io::Write::write_all(&mut f, &w.bytes).map_err(|e| Error::io(&seg, e))?;
        f.sync_all().map_err(|e| Error::io(&seg, e))?;
        for d in [&snap, &wal, &member] {
            if let Ok(d) = std::fs::File::open(d) {
                let _ = d.sync_all();
            }
        }
        std::fs::rename(&tmp, &renamed_to).map_err(|e| Error::io(&renamed_to, e))?;
        if let Some(g) = guard.take() {
            g.keep();
        }
        if in_place {
            set_private(dir)?;
        }
        if let Ok(p) = std::fs::File::open(&sync_dir) {
            let _ = p.sync_all();
        }
        Ok(())
    })();
    drop(guard);
    result
}

/// Creates `d` with etcd's private dir mode, 0700, set explicitly so the umask cannot
/// widen it (etcd 3.6+ warn about a wider data dir).
fn private_dir(d: &Path) -> Result<()> {
    let mut b = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(d).map_err(|e| Error::io(d, e))?;
    set_private(d)
}

fn set_private(d: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io(d, e))?;
    }
    #[cfg(not(unix))]
    let _ = d;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_match_what_etcd_derives() {
        // `etcdctl snapshot restore` with its defaults prints these ids.
        let c = Cluster::new("default", None, "http://localhost:2380", "etcd-cluster").unwrap();
        assert_eq!(format!("{:x}", c.members[0].id), "8e9e05c52164694d");
        assert_eq!(format!("{:x}", c.id), "cdf818194e3a8c32");
        assert!(Cluster::new("x", Some("a=http://a:2380"), "", "t").is_err());
        assert!(Cluster::new("a", Some("a-http://a"), "", "t").is_err());
    }
}
