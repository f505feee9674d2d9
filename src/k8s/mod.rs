//! Kubernetes objects as the apiserver stores them in etcd: the key layout ([`key`]), the
//! value encodings ([`value`]: protobuf envelope, JSON, CBOR ([`cbor`]), encrypted, raw),
//! metadata for any object without its schema ([`meta`]), label selectors ([`selector`]),
//! per-object summaries for a whole keyspace ([`object`]), full decoding as the apiserver
//! serves objects ([`render`], [`render_json`], [`gojson`], [`jsontree`]), Quantity strings
//! as the apiserver re-encodes them ([`quantity`]), and the YAML `kubectl get -o yaml`
//! prints for an object ([`yaml`]). Values encrypted at rest are read with the apiserver's
//! EncryptionConfiguration ([`encryption`], over [`cipher`] and [`kms`]).

pub mod cbor;
pub mod cipher;
pub mod encryption;
pub mod fuzz;
pub mod gojson;
pub mod jsontree;
pub mod key;
pub mod kms;
pub mod meta;
pub mod object;
pub mod quantity;
pub mod render;
pub mod render_json;
pub mod schema;
pub mod selector;
pub mod value;
pub mod yaml;

/// The apiserver's default etcd prefix.
pub const DEFAULT_PREFIX: &str = "/registry";
