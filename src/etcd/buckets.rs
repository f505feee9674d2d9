//! Read access to etcd's small buckets, from a bbolt db or from a snapshot's extras, so the
//! readers of leases, members, auth and meta serve both.

use crate::bbolt::Db;
use crate::error::{Error, Result};

pub trait Buckets {
    /// Every (key, value) of `bucket` in key order; empty when the bucket is absent.
    fn entries(&self, bucket: &[u8]) -> Result<Vec<(&[u8], &[u8])>>;

    fn get(&self, bucket: &[u8], key: &[u8]) -> Result<Option<&[u8]>> {
        Ok(self
            .entries(bucket)?
            .into_iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v))
    }

    /// An error about bytes `at` found in a bucket.
    fn fault(&self, at: &[u8], what: String) -> Error;
}

impl Buckets for Db<'_> {
    fn entries(&self, bucket: &[u8]) -> Result<Vec<(&[u8], &[u8])>> {
        let Some(b) = self.bucket(&[bucket])? else {
            return Ok(Vec::new());
        };
        b.iter()
            .filter(|e| !e.as_ref().is_ok_and(|e| e.is_bucket()))
            .map(|e| e.map(|e| (e.key, e.value)))
            .collect()
    }

    fn get(&self, bucket: &[u8], key: &[u8]) -> Result<Option<&[u8]>> {
        match self.bucket(&[bucket])? {
            Some(b) => b.get(key),
            None => Ok(None),
        }
    }

    fn fault(&self, at: &[u8], what: String) -> Error {
        self.fault_at(self.offset_of(at), what)
    }
}

/// Bucket entries held in memory: (bucket, key, value), as a snapshot stores them.
pub struct Extras(pub Vec<(Vec<u8>, Vec<u8>, Vec<u8>)>);

impl Buckets for Extras {
    fn entries(&self, bucket: &[u8]) -> Result<Vec<(&[u8], &[u8])>> {
        Ok(self
            .0
            .iter()
            .filter(|(b, _, _)| b == bucket)
            .map(|(_, k, v)| (k.as_slice(), v.as_slice()))
            .collect())
    }

    fn fault(&self, _at: &[u8], what: String) -> Error {
        Error::invalid(format!("snapshot extras: {what}"))
    }
}
