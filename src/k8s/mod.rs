//! Kubernetes objects as the apiserver stores them in etcd: the key layout ([`key`]), the
//! value encodings ([`value`]: protobuf envelope, JSON, CBOR ([`cbor`]), encrypted, raw),
//! metadata for any object without its schema ([`meta`]), label selectors ([`selector`]) and the
//! resource/namespace/label filter every command shares ([`filter`]), what differs between two
//! states of an object ([`diff`]), what fills a keyspace ([`analyze`]), clean manifests to re-apply ([`export`]), tables for query engines ([`parquet`], with the
//! per-kind columns of [`fleet`]),
//! per-object summaries for a whole keyspace ([`object`]), full decoding as the apiserver
//! serves objects ([`render`], [`render_json`], [`gojson`], [`jsontree`]), Quantity strings
//! as the apiserver re-encodes them ([`quantity`]), and the YAML `kubectl get -o yaml`
//! prints for an object ([`yaml`]). Values encrypted at rest are read with the apiserver's
//! EncryptionConfiguration ([`encryption`], over [`cipher`] and [`kms`]).

pub mod analyze;
pub mod cbor;
pub mod cipher;
pub mod diff;
pub mod encryption;
pub mod export;
pub mod filter;
pub mod fleet;
pub mod fuzz;
pub mod gojson;
pub mod jsontree;
pub mod key;
pub mod kms;
pub mod meta;
pub mod object;
pub mod parquet;
pub mod quantity;
pub mod render;
pub mod render_json;
pub mod schema;
pub mod selector;
pub mod value;
pub mod yaml;

/// The apiserver's default etcd prefix.
pub const DEFAULT_PREFIX: &str = "/registry";
