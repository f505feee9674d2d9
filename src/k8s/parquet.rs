//! A keyspace as Parquet tables for query engines (DuckDB, Spark, Trino): `objects` (one
//! row per live object), `revisions` (one row per kept revision, on request) and `cluster`
//! (one row), each written to `DIR/<table>/cluster=NAME/<table>.parquet` so that the
//! exports of many clusters form one Hive-partitioned dataset per table. The schema is
//! docs/parquet-schema.md; its version is [`SCHEMA_VERSION`], written into every file's
//! key-value metadata as `reshift_schema_version`.
//!
//! Objects are read from their metadata summaries ([`super::object::describe`]) and the
//! per-kind facts ([`super::fleet`]), never rendered unless the served JSON is asked for;
//! encrypted values are described by provider and key name and decrypted only when a
//! decryptor is given. Rows go a window of row groups at a time: each row group is built
//! and encoded (zstd) on its own core, then appended in key order, so memory stays flat
//! whatever the object count. Files are written under a temporary name, synced and
//! renamed into place, mode 0600 (annotations and the served JSON may hold secrets). It
//! writes nowhere but the output dir it is given.

use super::encryption::Decryptor;
use super::filter::ObjectFilter;
use super::meta::ObjectMeta;
use super::object::{ObjectInfo, describe};
use super::render::View;
use crate::error::{Error, Result};
use crate::etcd::Keyspace;
use crate::etcd::cluster::ClusterInfo;
use crate::etcd::keyspace::RevRecord;
use arrow_array::builder::{
    BooleanBuilder, Int32Builder, Int64Builder, ListBuilder, MapBuilder, MapFieldNames,
    StringBuilder, StructBuilder, TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{ArrowColumnChunk, ArrowRowGroupWriterFactory, compute_leaves};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The version of the tables' schema: raised whenever a column is renamed, retyped or
/// removed (adding a column at the end is not a breaking change and raises the minor part).
pub const SCHEMA_VERSION: &str = "1.0";

/// At most this many rows in a row group.
const GROUP_ROWS: usize = 65_536;
/// A row group of objects ends once its stored values add up to this many bytes (less
/// with the served JSON, which is larger than what is stored): a few dozen row groups per
/// GB of data, for readers to spread over their cores.
const GROUP_BYTES: usize = 32 << 20;
const GROUP_BYTES_JSON: usize = 12 << 20;

/// What to export and how.
pub struct Options<'d> {
    /// The partition: `DIR/<table>/cluster=NAME/`.
    pub cluster: String,
    /// The apiserver's etcd prefix.
    pub k8s_prefix: String,
    pub filter: ObjectFilter,
    /// Reads encrypted values (their metadata, facts and JSON); without it they are
    /// described by provider and key name only.
    pub dec: Option<&'d Decryptor>,
    /// Fill `object_json` with each object as the apiserver serves it, for this release
    /// (with `metadata.resourceVersion` unless `as_stored`).
    pub json: Option<JsonOptions>,
    /// Write `revisions.parquet` too.
    pub history: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct JsonOptions {
    pub release: super::schema::Release,
    pub as_stored: bool,
    /// Secrets' JSON (their data) too; without it their `object_json` is null.
    pub include_secrets: bool,
}

/// Where the rows came from, for `cluster.parquet`.
#[derive(Debug, Clone, Default)]
pub struct SourceFacts {
    pub source: String,
    pub source_kind: String,
    pub db_size: u64,
    pub cluster: ClusterInfo,
}

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct Written {
    pub objects: u64,
    pub object_row_groups: usize,
    pub revisions: Option<u64>,
    pub files: Vec<PathBuf>,
}

/// A cluster name usable as a partition value in a path (`[A-Za-z0-9._-]`, not starting
/// with a dot), or why not.
pub fn check_cluster_name(name: &str) -> std::result::Result<(), String> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "cluster name {name:?}: use letters, digits, '.', '_' and '-' (not starting with '.'): it is a directory name in the Hive layout"
        ))
    }
}

/// The cluster name of a source when none is given: the source path's last component
/// (a data dir's name; a member dir's parent when it is called `member`; a file's name
/// without its extension), with any character outside `[A-Za-z0-9._-]` replaced by `_`.
pub fn default_cluster_name(source: &Path) -> String {
    let abs = std::fs::canonicalize(source).unwrap_or_else(|_| source.to_path_buf());
    let mut p = abs.as_path();
    if p.file_name().is_some_and(|n| n == "member") {
        p = p.parent().unwrap_or(p);
    }
    let raw = if p.is_dir() {
        p.file_name().map(|n| n.to_string_lossy().into_owned())
    } else {
        p.file_stem().map(|n| n.to_string_lossy().into_owned())
    }
    .unwrap_or_default();
    let mut name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    while name.starts_with('.') {
        name.remove(0);
    }
    if name.is_empty() {
        name = "cluster".into();
    }
    name
}

/// The path of a table's file for a cluster under `dir`.
pub fn table_path(dir: &Path, table: &str, cluster: &str) -> PathBuf {
    dir.join(table)
        .join(format!("cluster={cluster}"))
        .join(format!("{table}.parquet"))
}

/// Writes the tables of the live objects under `key_prefix` at revision `at` (latest when
/// `None`) into `dir` (see the module doc).
pub fn export(
    ks: &Keyspace<'_>,
    key_prefix: &[u8],
    at: Option<i64>,
    src: &SourceFacts,
    dir: &Path,
    o: &Options<'_>,
) -> Result<Written> {
    check_cluster_name(&o.cluster).map_err(Error::invalid)?;
    let mut written = Written::default();
    let (objects, groups, file, seen) = write_objects(ks, key_prefix, at, dir, o)?;
    written.objects = objects;
    written.object_row_groups = groups;
    written.files.push(file.path.clone());
    // objects.parquet is synced and renamed while the other tables are written, so that
    // their syncs overlap instead of following one another.
    std::thread::scope(|s| {
        let synced = s.spawn(move || file.finish());
        // The revisions (with `history`) and the cluster's row.
        let rest = (|| -> Result<()> {
            // Every live key was read for the objects unless a prefix narrowed them.
            let live_keys = if key_prefix.is_empty() {
                seen
            } else {
                ks.state(b"", at)?.count() as u64
            };
            if o.history {
                let (n, path) = write_revisions(ks, key_prefix, at, dir, o)?;
                written.revisions = Some(n);
                written.files.push(path);
            } else {
                // An earlier export's history of this cluster would no longer match its
                // objects.
                let stale = table_path(dir, "revisions", &o.cluster);
                if stale.exists() {
                    std::fs::remove_file(&stale).map_err(|e| Error::io(&stale, e))?;
                }
            }
            let cluster = write_cluster(ks, at, src, dir, o, &written, live_keys)?;
            written.files.push(cluster);
            Ok(())
        })();
        let synced = synced
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        rest.and(synced.map(|_| ()))
    })?;
    Ok(written)
}

/// The membership of the source: from its db, or from a reshift snapshot's extras.
pub fn cluster_info(
    db: Option<&crate::bbolt::Db<'_>>,
    snapshot: Option<&crate::snapshot::Snapshot<'_>>,
) -> Result<ClusterInfo> {
    use crate::etcd::cluster::read_cluster;
    match (db, snapshot) {
        (Some(db), _) => read_cluster(db),
        (None, Some(s)) => read_cluster(&crate::etcd::buckets::Extras(s.extras()?)),
        (None, None) => Ok(ClusterInfo::default()),
    }
}

/// Leaves whose values are (nearly) unique or long, where a dictionary costs time and saves
/// nothing.
const NO_DICTIONARY: &[&[&str]] = &[
    &["key"],
    &["create_revision"],
    &["mod_revision"],
    &["revision"],
    &["uid"],
    &["name"],
    &["annotations", "key_value", "value"],
    &["owner_references", "list", "element", "uid"],
    &["object_json"],
];

/// Leaves whose min/max prune nothing a query asks (map and list entries, free text).
const NO_STATISTICS: &[&[&str]] = &[
    &["labels", "key_value", "key"],
    &["labels", "key_value", "value"],
    &["annotations", "key_value", "key"],
    &["annotations", "key_value", "value"],
    &["owner_references", "list", "element", "api_version"],
    &["owner_references", "list", "element", "kind"],
    &["owner_references", "list", "element", "name"],
    &["owner_references", "list", "element", "uid"],
    &["owner_references", "list", "element", "controller"],
    &["decode_error"],
    &["object_json"],
];

fn column(path: &[&str]) -> ColumnPath {
    ColumnPath::new(path.iter().map(|s| s.to_string()).collect())
}

/// The properties every table's file is written with.
fn properties(table: &str, cluster: &str) -> WriterProperties {
    let mut b = WriterProperties::builder();
    for p in NO_DICTIONARY {
        b = b.set_column_dictionary_enabled(column(p), false);
    }
    for p in NO_STATISTICS {
        b = b.set_column_statistics_enabled(column(p), EnabledStatistics::None);
    }
    b.set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_statistics_truncate_length(Some(128))
        .set_column_index_truncate_length(Some(64))
        .set_max_row_group_row_count(Some(GROUP_ROWS))
        .set_created_by(format!(
            "reshift version {} (parquet-rs)",
            env!("CARGO_PKG_VERSION")
        ))
        .set_key_value_metadata(Some(vec![
            KeyValue::new("reshift_schema_version".into(), SCHEMA_VERSION.to_string()),
            KeyValue::new("reshift_table".into(), table.to_string()),
            KeyValue::new("reshift_cluster".into(), cluster.to_string()),
        ]))
        .build()
}

/// One table's file being written: row groups are encoded elsewhere (on any thread) and
/// appended here in order.
struct TableFile {
    writer: SerializedFileWriter<std::io::BufWriter<crate::writeback::Writeback>>,
    factory: Arc<ArrowRowGroupWriterFactory>,
    schema: SchemaRef,
    tmp: PathBuf,
    path: PathBuf,
    guard: crate::tempout::TempGuard,
    groups: usize,
    rows: u64,
}

impl TableFile {
    fn create(dir: &Path, table: &str, cluster: &str, schema: SchemaRef) -> Result<TableFile> {
        let path = table_path(dir, table, cluster);
        let parent = path
            .parent()
            .expect("a table path has a parent")
            .to_path_buf();
        std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
        let tmp = parent.join(format!(".{table}.parquet.tmp-{}", std::process::id()));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        // Removed on error and on SIGINT/SIGTERM unless renamed into place.
        let (guard, f) = crate::tempout::TempGuard::create(tmp.clone(), |p| opts.open(p))
            .map_err(|e| Error::io(&tmp, e))?;
        let w = ArrowWriter::try_new(
            // The disk writes start as row groups come, so the final fsync waits for little.
            std::io::BufWriter::with_capacity(
                1 << 20,
                crate::writeback::Writeback::every(f, 4 << 20),
            ),
            schema.clone(),
            Some(properties(table, cluster)),
        )
        .map_err(|e| pq_err(&tmp, e))?;
        let (writer, factory) = w.into_serialized_writer().map_err(|e| pq_err(&tmp, e))?;
        Ok(TableFile {
            writer,
            factory: Arc::new(factory),
            schema,
            tmp,
            path,
            guard,
            groups: 0,
            rows: 0,
        })
    }

    /// Encodes one batch as the row group numbered `index` (callable from any thread).
    fn encode(
        factory: &ArrowRowGroupWriterFactory,
        schema: &Schema,
        batch: &RecordBatch,
        index: usize,
    ) -> parquet::errors::Result<Vec<ArrowColumnChunk>> {
        let mut writers = factory.create_column_writers(index)?.into_iter();
        let mut chunks = Vec::new();
        for (field, col) in schema.fields().iter().zip(batch.columns()) {
            for leaf in compute_leaves(field, col)? {
                let mut w = writers.next().ok_or_else(|| {
                    parquet::errors::ParquetError::General("more leaves than columns".into())
                })?;
                w.write(&leaf)?;
                chunks.push(w.close()?);
            }
        }
        Ok(chunks)
    }

    /// Appends encoded row groups in order.
    fn append(&mut self, groups: Vec<(Vec<ArrowColumnChunk>, usize)>) -> Result<()> {
        for (chunks, rows) in groups {
            if rows == 0 {
                continue;
            }
            let mut rg = self
                .writer
                .next_row_group()
                .map_err(|e| pq_err(&self.tmp, e))?;
            for c in chunks {
                c.append_to_row_group(&mut rg)
                    .map_err(|e| pq_err(&self.tmp, e))?;
            }
            rg.close().map_err(|e| pq_err(&self.tmp, e))?;
            self.groups += 1;
            self.rows += rows as u64;
        }
        Ok(())
    }

    /// Appends the encoded groups of `ready` that come next in order (from `next` on),
    /// stopping at the first that failed or does not append.
    fn append_ready(
        &mut self,
        ready: &mut std::collections::BTreeMap<usize, Result<(Vec<ArrowColumnChunk>, usize)>>,
        next: &mut usize,
    ) -> Result<()> {
        while let Some(r) = ready.remove(next) {
            *next += 1;
            r.and_then(|g| self.append(vec![g]))?;
        }
        Ok(())
    }

    /// Builds (with `build`) and encodes each part's row group on its own worker thread as
    /// `parts` yields them, and appends the row groups in order. No barrier between groups:
    /// a worker takes the next part as soon as it is done, so the cores stay busy whatever
    /// each group costs, and at most [`in_flight`] groups are held at a time (memory stays
    /// flat). `parts` is pulled on the calling thread only.
    fn stream<T: Send>(
        &mut self,
        parts: impl Iterator<Item = T>,
        build: impl Fn(&T) -> Result<RecordBatch> + Sync,
    ) -> Result<()> {
        use std::collections::BTreeMap;
        use std::sync::{Mutex, mpsc};
        type Encoded = Result<(Vec<ArrowColumnChunk>, usize)>;
        let workers = rayon::current_num_threads().max(1);
        let limit = in_flight(workers);
        let first = self.groups;
        let (factory, schema, tmp) = (self.factory.clone(), self.schema.clone(), self.tmp.clone());
        let (factory, schema, tmp, build) = (factory.as_ref(), schema.as_ref(), &tmp, &build);
        let (job_tx, job_rx) = mpsc::sync_channel::<(usize, T)>(limit);
        let job_rx = Mutex::new(job_rx);
        let (done_tx, done_rx) = mpsc::channel::<(usize, Encoded)>();
        std::thread::scope(|s| -> Result<()> {
            for _ in 0..workers {
                let (job_rx, done_tx) = (&job_rx, done_tx.clone());
                s.spawn(move || {
                    loop {
                        // The lock is held only while waiting for the next part.
                        let next = job_rx.lock().map(|rx| rx.recv());
                        let Ok(Ok((i, part))) = next else { break };
                        let out = build(&part).and_then(|batch| {
                            let rows = batch.num_rows();
                            if rows == 0 {
                                return Ok((Vec::new(), 0));
                            }
                            Self::encode(factory, schema, &batch, first + i)
                                .map(|c| (c, rows))
                                .map_err(|e| pq_err(tmp, e))
                        });
                        if done_tx.send((i, out)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(done_tx);
            // Encoded groups waiting for the ones before them.
            let mut ready: BTreeMap<usize, Encoded> = BTreeMap::new();
            let (mut sent, mut received, mut next) = (0usize, 0usize, 0usize);
            let mut error: Option<Error> = None;
            let mut parts = parts;
            while error.is_none() {
                if sent - next >= limit {
                    let Ok((i, r)) = done_rx.recv() else { break };
                    received += 1;
                    ready.insert(i, r);
                    error = self.append_ready(&mut ready, &mut next).err();
                    continue;
                }
                let Some(part) = parts.next() else { break };
                if job_tx.send((sent, part)).is_err() {
                    break;
                }
                sent += 1;
            }
            // No more parts: the workers stop once the queue is empty.
            drop(job_tx);
            while received < sent {
                let Ok((i, r)) = done_rx.recv() else { break };
                received += 1;
                if error.is_some() {
                    continue;
                }
                ready.insert(i, r);
                error = self.append_ready(&mut ready, &mut next).err();
            }
            match error {
                Some(e) => Err(e),
                None if next < sent => Err(pq_err(tmp, "a row group was not encoded")),
                None => Ok(()),
            }
        })
    }

    /// Writes the footer, syncs, renames into place; returns the final path.
    fn finish(self) -> Result<PathBuf> {
        // Writes the footer.
        let buf = self.writer.into_inner().map_err(|e| pq_err(&self.tmp, e))?;
        let f = buf
            .into_inner()
            .map_err(|e| Error::io(&self.tmp, e.into_error()))?
            .into_inner();
        f.sync_all()
            .and_then(|()| std::fs::rename(&self.tmp, &self.path))
            .map_err(|e| Error::io(&self.path, e))?;
        self.guard.keep();
        if let Some(d) = self.path.parent().and_then(|d| std::fs::File::open(d).ok()) {
            let _ = d.sync_all();
        }
        Ok(self.path)
    }
}

fn pq_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::invalid(format!("{}: writing Parquet: {e}", path.display()))
}

fn arrow_err(e: arrow_schema::ArrowError) -> Error {
    Error::invalid(format!("building Parquet columns: {e}"))
}

/// The next row group's records and their stored bytes: at most [`GROUP_ROWS`] records and
/// about `group_bytes` of stored values; `None` when the records are exhausted.
fn next_group<'a>(
    it: &mut impl Iterator<Item = RevRecord<'a>>,
    group_bytes: usize,
) -> Option<(Vec<RevRecord<'a>>, usize)> {
    let mut g = Vec::new();
    let mut bytes = 0usize;
    while g.len() < GROUP_ROWS && bytes < group_bytes {
        let Some(r) = it.next() else { break };
        bytes += r.kv.len();
        g.push(r);
    }
    (!g.is_empty()).then_some((g, bytes))
}

/// The stored bytes of the next row group when `remaining` are left for `workers` threads:
/// `full` while there is plenty, then less and less (guided scheduling, down to an eighth),
/// so that the last groups end together instead of one core encoding a whole group while
/// the others wait.
fn group_target(full: usize, remaining: usize, workers: usize) -> usize {
    (remaining / (2 * workers.max(1))).clamp(full / 8, full)
}

/// Row groups held at a time by [`TableFile::stream`] with `workers` threads: one being
/// built on each, one queued for each, and a few encoded ones waiting for a slower earlier
/// one to be appended first.
fn in_flight(workers: usize) -> usize {
    2 * workers + 2
}

// ---------------------------------------------------------------------------------------
// objects

fn owner_fields() -> Fields {
    Fields::from(vec![
        Field::new("api_version", DataType::Utf8, true),
        Field::new("kind", DataType::Utf8, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("uid", DataType::Utf8, true),
        Field::new("controller", DataType::Boolean, true),
    ])
}

/// The columns of `objects.parquet`, in order, as builders.
struct ObjectColumns {
    key: StringBuilder,
    resource: StringBuilder,
    api_group: StringBuilder,
    api_version: StringBuilder,
    kind: StringBuilder,
    namespace: StringBuilder,
    name: StringBuilder,
    uid: StringBuilder,
    labels: MapBuilder<StringBuilder, StringBuilder>,
    annotations: MapBuilder<StringBuilder, StringBuilder>,
    owner_references: ListBuilder<StructBuilder>,
    creation_timestamp: TimestampMillisecondBuilder,
    create_revision: Int64Builder,
    mod_revision: Int64Builder,
    version: Int64Builder,
    lease: Int64Builder,
    encoding: StringBuilder,
    encryption_provider: StringBuilder,
    encryption_key: StringBuilder,
    value_size: Int64Builder,
    images: ListBuilder<StringBuilder>,
    node_name: StringBuilder,
    phase: StringBuilder,
    replicas: Int32Builder,
    decode_error: StringBuilder,
    object_json: StringBuilder,
}

/// Column names of `objects.parquet`, in order (see docs/parquet-schema.md).
const OBJECT_COLUMNS: &[&str] = &[
    "key",
    "resource",
    "api_group",
    "api_version",
    "kind",
    "namespace",
    "name",
    "uid",
    "labels",
    "annotations",
    "owner_references",
    "creation_timestamp",
    "create_revision",
    "mod_revision",
    "version",
    "lease",
    "encoding",
    "encryption_provider",
    "encryption_key",
    "value_size",
    "images",
    "node_name",
    "phase",
    "replicas",
    "decode_error",
    "object_json",
];

impl ObjectColumns {
    fn new() -> ObjectColumns {
        ObjectColumns::with_capacity(&[])
    }

    /// Builders sized for the rows of `group`, so that appending seldom reallocates.
    fn with_capacity(group: &[RevRecord<'_>]) -> ObjectColumns {
        let n = group.len();
        let key_bytes: usize = group.iter().map(|r| r.key.len()).sum();
        let value_bytes: usize = group.iter().map(|r| r.kv.len()).sum();
        let text = |bytes: usize| StringBuilder::with_capacity(n, bytes);
        let int = || Int64Builder::with_capacity(n);
        let map = |entries: usize, bytes: usize| {
            MapBuilder::with_capacity(
                Some(MapFieldNames {
                    entry: "key_value".into(),
                    key: "key".into(),
                    value: "value".into(),
                }),
                StringBuilder::with_capacity(entries, entries * 16),
                StringBuilder::with_capacity(entries, bytes),
                n,
            )
        };
        ObjectColumns {
            key: text(key_bytes),
            resource: text(n * 8),
            api_group: text(n * 4),
            api_version: text(n * 4),
            kind: text(n * 8),
            namespace: text(n * 12),
            // A name is the end of its key.
            name: text(key_bytes / 2),
            uid: text(n * 36),
            labels: map(n * 4, n * 4 * 12),
            // Annotations (kubectl's last applied configuration above all) hold a few percent
            // of what is stored.
            annotations: map(n * 4, value_bytes / 16),
            owner_references: ListBuilder::new(StructBuilder::from_fields(owner_fields(), n))
                .with_field(Field::new(
                    "element",
                    DataType::Struct(owner_fields()),
                    false,
                )),
            creation_timestamp: TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC"),
            create_revision: int(),
            mod_revision: int(),
            version: int(),
            lease: int(),
            encoding: text(n * 8),
            encryption_provider: text(0),
            encryption_key: text(0),
            value_size: int(),
            images: ListBuilder::with_capacity(StringBuilder::new(), n).with_field(Field::new(
                "element",
                DataType::Utf8,
                false,
            )),
            node_name: text(0),
            phase: text(0),
            replicas: Int32Builder::with_capacity(n),
            decode_error: text(0),
            object_json: text(0),
        }
    }

    fn finish(mut self) -> Vec<ArrayRef> {
        use arrow_array::builder::ArrayBuilder;
        let cols: Vec<&mut dyn ArrayBuilder> = vec![
            &mut self.key,
            &mut self.resource,
            &mut self.api_group,
            &mut self.api_version,
            &mut self.kind,
            &mut self.namespace,
            &mut self.name,
            &mut self.uid,
            &mut self.labels,
            &mut self.annotations,
            &mut self.owner_references,
            &mut self.creation_timestamp,
            &mut self.create_revision,
            &mut self.mod_revision,
            &mut self.version,
            &mut self.lease,
            &mut self.encoding,
            &mut self.encryption_provider,
            &mut self.encryption_key,
            &mut self.value_size,
            &mut self.images,
            &mut self.node_name,
            &mut self.phase,
            &mut self.replicas,
            &mut self.decode_error,
            &mut self.object_json,
        ];
        cols.into_iter().map(|b| b.finish()).collect()
    }

    fn map(
        b: &mut MapBuilder<StringBuilder, StringBuilder>,
        m: &std::collections::BTreeMap<std::borrow::Cow<'_, str>, std::borrow::Cow<'_, str>>,
    ) {
        for (k, v) in m {
            b.keys().append_value(k);
            b.values().append_value(v);
        }
        b.append(true)
            .expect("keys and values are appended in pairs");
    }

    fn metadata(&mut self, m: Option<&ObjectMeta<'_>>) {
        let Some(m) = m else {
            self.uid.append_null();
            self.labels.append(false).expect("no entries");
            self.annotations.append(false).expect("no entries");
            self.owner_references.append_null();
            self.creation_timestamp.append_null();
            return;
        };
        self.uid
            .append_option((!m.uid.is_empty()).then_some(m.uid.as_ref()));
        Self::map(&mut self.labels, &m.labels);
        Self::map(&mut self.annotations, &m.annotations);
        let s = self.owner_references.values();
        for r in &m.owner_references {
            let text = |s: &mut StructBuilder, i: usize, v: &str| {
                s.field_builder::<StringBuilder>(i)
                    .expect("owner field types")
                    .append_value(v)
            };
            text(s, 0, &r.api_version);
            text(s, 1, &r.kind);
            text(s, 2, &r.name);
            text(s, 3, &r.uid);
            s.field_builder::<BooleanBuilder>(4)
                .expect("owner field types")
                .append_option(r.controller);
            s.append(true);
        }
        self.owner_references.append(true);
        self.creation_timestamp.append_option(
            m.creation_timestamp
                .as_deref()
                .and_then(parse_time)
                .map(|s| s * 1000),
        );
    }
}

/// The schema of `objects.parquet`.
pub fn object_schema() -> SchemaRef {
    let arrays = ObjectColumns::new().finish();
    Arc::new(Schema::new(
        OBJECT_COLUMNS
            .iter()
            .zip(&arrays)
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), *n != "key"))
            .collect::<Vec<_>>(),
    ))
}

/// Seconds since the epoch of an RFC 3339 time as Kubernetes writes it
/// (`2006-01-02T15:04:05Z`, optionally with fractional seconds or a numeric offset).
pub fn parse_time(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        std::str::from_utf8(b.get(r)?).ok()?.parse().ok()
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        rest = &frac[n..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) => {
            let oh: i64 = rest[1..3].parse().ok()?;
            let om: i64 = rest[4..6].parse().ok()?;
            let o = oh * 3600 + om * 60;
            if rest.starts_with('-') { -o } else { o }
        }
        _ => return None,
    };
    // Days from the civil date (proleptic Gregorian), the inverse of meta::rfc3339.
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + sec - offset)
}

fn nonempty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// Appends one record's row when the filter keeps it; whether it did.
fn object_row(c: &mut ObjectColumns, r: &RevRecord<'_>, o: &Options<'_>) -> bool {
    let kv = r.kv();
    let outer = describe(kv.key, kv.value, &o.k8s_prefix);
    let mut error = None;
    let plain = match (o.dec, &outer.encrypted) {
        (Some(d), Some(_)) => match d.decrypt(kv.key, kv.value) {
            Ok(p) => Some(p),
            Err(e) => {
                error = Some(e.to_string());
                None
            }
        },
        _ => None,
    };
    let inner = plain.as_deref().map(|p| describe(kv.key, p, &o.k8s_prefix));
    let info: &ObjectInfo<'_> = inner.as_ref().unwrap_or(&outer);
    if !o.filter.keeps(info) {
        return false;
    }
    let value = plain.as_deref().unwrap_or(kv.value);
    c.key.append_value(crate::display::printable(kv.key));
    let object = !info.resource.is_empty();
    c.resource.append_option(nonempty(info.resource));
    c.api_group.append_option(object.then_some(info.group));
    c.api_version.append_option(nonempty(&info.api_version));
    c.kind.append_option(nonempty(&info.kind));
    c.namespace.append_option(info.namespace);
    c.name.append_option(object.then_some(info.name));
    c.metadata(info.metadata.as_ref());
    c.create_revision.append_value(kv.create_revision);
    c.mod_revision.append_value(kv.mod_revision);
    c.version.append_value(kv.version);
    c.lease.append_value(kv.lease);
    c.encoding.append_value(outer.encoding);
    let enc = outer.encrypted.as_ref();
    c.encryption_provider.append_option(enc.map(|e| e.provider));
    c.encryption_key.append_option(enc.map(|e| e.key_name));
    c.value_size.append_value(kv.value.len() as i64);
    let encrypted = outer.encrypted.is_some() && plain.is_none();
    let facts = if encrypted || !super::fleet::has_facts(&info.api_version, &info.kind) {
        None
    } else {
        match super::fleet::of_value(value) {
            Ok(f) => f,
            Err(e) => {
                error.get_or_insert(e);
                None
            }
        }
    };
    let f = facts.unwrap_or_default();
    match f.images {
        Some(images) => {
            for i in images {
                c.images.values().append_value(i);
            }
            c.images.append(true);
        }
        None => c.images.append_null(),
    }
    c.node_name.append_option(f.node_name);
    c.phase.append_option(f.phase);
    c.replicas.append_option(f.replicas);
    if let Some(e) = &info.error {
        error.get_or_insert_with(|| e.clone());
    }
    let json = match &o.json {
        Some(j) if object && !encrypted => {
            let secret = info.resource == "secrets" && info.group.is_empty();
            if secret && !j.include_secrets {
                None
            } else {
                let view = View {
                    release: j.release,
                    resource_version: (!j.as_stored).then_some(kv.mod_revision),
                };
                match super::object::decode_object_json(value, &view) {
                    Ok(t) => Some(t),
                    Err(e) => {
                        error.get_or_insert(e);
                        None
                    }
                }
            }
        }
        _ => None,
    };
    c.object_json.append_option(json);
    c.decode_error.append_option(error);
    true
}

/// Writes `objects.parquet` up to its footer; its rows, row groups, the file (to finish),
/// and how many live keys were read (every one under `key_prefix`, kept by the filter or
/// not).
fn write_objects(
    ks: &Keyspace<'_>,
    key_prefix: &[u8],
    at: Option<i64>,
    dir: &Path,
    o: &Options<'_>,
) -> Result<(u64, usize, TableFile, u64)> {
    let schema = object_schema();
    let mut file = TableFile::create(dir, "objects", &o.cluster, schema.clone())?;
    let full = if o.json.is_some() {
        GROUP_BYTES_JSON
    } else {
        GROUP_BYTES
    };
    // The live keys and their stored bytes (a walk of the index only: no value is read).
    let (seen, mut remaining) = ks
        .state(key_prefix, at)?
        .fold((0u64, 0usize), |(n, b), r| (n + 1, b + r.kv.len()));
    let workers = rayon::current_num_threads();
    let mut it = ks.state(key_prefix, at)?;
    let parts = std::iter::from_fn(|| {
        let (g, bytes) = next_group(&mut it, group_target(full, remaining, workers))?;
        remaining = remaining.saturating_sub(bytes);
        Some(g)
    });
    file.stream(parts, |g| {
        let mut c = ObjectColumns::with_capacity(g);
        for r in g {
            object_row(&mut c, r, o);
        }
        RecordBatch::try_new(schema.clone(), c.finish()).map_err(arrow_err)
    })?;
    let (rows, groups) = (file.rows, file.groups);
    Ok((rows, groups, file, seen))
}

// ---------------------------------------------------------------------------------------
// revisions

/// The schema of `revisions.parquet`.
pub fn revision_schema() -> SchemaRef {
    let t = |n: &str| Field::new(n, DataType::Utf8, true);
    let i = |n: &str| Field::new(n, DataType::Int64, false);
    Arc::new(Schema::new(vec![
        Field::new("key", DataType::Utf8, false),
        t("resource"),
        t("namespace"),
        t("name"),
        i("revision"),
        i("sub_revision"),
        Field::new("op", DataType::Utf8, false),
        i("create_revision"),
        i("version"),
        i("lease"),
        i("value_size"),
    ]))
}

fn write_revisions(
    ks: &Keyspace<'_>,
    key_prefix: &[u8],
    at: Option<i64>,
    dir: &Path,
    o: &Options<'_>,
) -> Result<(u64, PathBuf)> {
    let schema = revision_schema();
    let mut file = TableFile::create(dir, "revisions", &o.cluster, schema.clone())?;
    // Revisions are filtered by what their key says (resource, namespace): a label
    // selector applies to objects only (a deletion has no labels).
    let by_key = ObjectFilter {
        selector: None,
        ..o.filter.clone()
    };
    let at = at.unwrap_or(i64::MAX);
    let mut it = ks.all_by_key(key_prefix).filter(|r| r.rev.main <= at);
    file.stream(
        std::iter::from_fn(|| next_group(&mut it, usize::MAX).map(|(g, _)| g)),
        |g| {
            let n = g.len();
            let mut key = StringBuilder::with_capacity(n, n * 48);
            let (mut res, mut ns, mut name) = (
                StringBuilder::new(),
                StringBuilder::new(),
                StringBuilder::new(),
            );
            let mut ints: [Int64Builder; 6] = Default::default();
            let mut op = StringBuilder::new();
            for r in g {
                let kv = r.kv();
                let info = describe(r.key, b"", &o.k8s_prefix);
                if !by_key.keeps(&info) {
                    continue;
                }
                let object = !info.resource.is_empty();
                key.append_value(crate::display::printable(r.key));
                res.append_option(object.then_some(info.resource));
                ns.append_option(info.namespace);
                name.append_option(object.then_some(info.name));
                op.append_value(if r.tombstone { "DELETE" } else { "PUT" });
                let vals = [
                    r.rev.main,
                    r.rev.sub,
                    kv.create_revision,
                    kv.version,
                    kv.lease,
                    kv.value.len() as i64,
                ];
                for (b, v) in ints.iter_mut().zip(vals) {
                    b.append_value(v);
                }
            }
            let [mut rev, mut sub, mut cr, mut ver, mut lease, mut size] = ints;
            let cols: Vec<ArrayRef> = vec![
                Arc::new(key.finish()),
                Arc::new(res.finish()),
                Arc::new(ns.finish()),
                Arc::new(name.finish()),
                Arc::new(rev.finish()),
                Arc::new(sub.finish()),
                Arc::new(op.finish()),
                Arc::new(cr.finish()),
                Arc::new(ver.finish()),
                Arc::new(lease.finish()),
                Arc::new(size.finish()),
            ];
            RecordBatch::try_new(schema.clone(), cols).map_err(arrow_err)
        },
    )?;
    let rows = file.rows;
    Ok((rows, file.finish()?))
}

// ---------------------------------------------------------------------------------------
// cluster

/// The schema of `cluster.parquet`.
pub fn cluster_schema() -> SchemaRef {
    let t = |n: &str, null: bool| Field::new(n, DataType::Utf8, null);
    let i = |n: &str, null: bool| Field::new(n, DataType::Int64, null);
    let list = |n: &str| {
        Field::new(
            n,
            DataType::List(Arc::new(Field::new("element", DataType::Utf8, false))),
            false,
        )
    };
    Arc::new(Schema::new(vec![
        t("cluster_name", false),
        i("revision", false),
        i("compact_revision", false),
        i("exported_revision", false),
        list("member_ids"),
        list("member_names"),
        t("cluster_version", true),
        i("db_size", false),
        i("live_keys", false),
        i("objects", false),
        i("revisions_kept", false),
        i("revisions_exported", true),
        t("source", false),
        t("source_kind", false),
        t("reshift_version", false),
        t("schema_version", false),
    ]))
}

fn write_cluster(
    ks: &Keyspace<'_>,
    at: Option<i64>,
    src: &SourceFacts,
    dir: &Path,
    o: &Options<'_>,
    w: &Written,
    live_keys: u64,
) -> Result<PathBuf> {
    let schema = cluster_schema();
    let mut file = TableFile::create(dir, "cluster", &o.cluster, schema.clone())?;
    let text = |v: &str| -> ArrayRef { Arc::new(arrow_array::StringArray::from(vec![v])) };
    let int = |v: i64| -> ArrayRef { Arc::new(arrow_array::Int64Array::from(vec![v])) };
    let list = |vals: Vec<&str>| -> ArrayRef {
        let mut b = ListBuilder::new(StringBuilder::new()).with_field(Field::new(
            "element",
            DataType::Utf8,
            false,
        ));
        for v in vals {
            b.values().append_value(v);
        }
        b.append(true);
        Arc::new(b.finish())
    };
    let members = &src.cluster.members;
    let cols: Vec<ArrayRef> = vec![
        text(&o.cluster),
        int(ks.revision),
        int(ks.compact_revision),
        int(at.unwrap_or(ks.revision)),
        list(members.iter().map(|m| m.id.as_str()).collect()),
        list(members.iter().map(|m| m.name.as_str()).collect()),
        Arc::new(arrow_array::StringArray::from(vec![
            src.cluster.cluster_version.clone(),
        ])),
        int(src.db_size as i64),
        int(live_keys as i64),
        int(w.objects as i64),
        int(ks.total_revisions() as i64),
        Arc::new(arrow_array::Int64Array::from(vec![
            w.revisions.map(|n| n as i64),
        ])),
        text(&src.source),
        text(&src.source_kind),
        text(env!("CARGO_PKG_VERSION")),
        text(SCHEMA_VERSION),
    ];
    let batch = RecordBatch::try_new(schema.clone(), cols).map_err(arrow_err)?;
    file.stream(std::iter::once(batch), |b| Ok(b.clone()))?;
    file.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip() {
        for secs in [0, 1_199_149_261, 951_782_400, -1, 4_102_444_800] {
            assert_eq!(parse_time(&super::super::meta::rfc3339(secs)), Some(secs));
        }
        assert_eq!(
            parse_time("2024-05-06T07:08:09.123+02:00"),
            parse_time("2024-05-06T05:08:09Z")
        );
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn cluster_names() {
        assert!(check_cluster_name("prod-eu.1_a").is_ok());
        for bad in ["", ".x", "a/b", "a=b", "é"] {
            assert!(check_cluster_name(bad).is_err(), "{bad}");
        }
        assert_eq!(
            default_cluster_name(Path::new("/no/such/prod eu.db")),
            "prod_eu"
        );
        assert_eq!(default_cluster_name(Path::new("/no/such/member")), "such");
    }

    #[test]
    fn last_groups_get_smaller() {
        let full = 32 << 20;
        // Plenty left: full groups.
        assert_eq!(group_target(full, 1 << 30, 2), full);
        // Near the end each group takes a quarter of what is left on two cores, then an
        // eighth of a full group at least.
        assert_eq!(group_target(full, 64 << 20, 2), 16 << 20);
        assert_eq!(group_target(full, 8 << 20, 2), 4 << 20);
        assert_eq!(group_target(full, 0, 2), 4 << 20);
        assert_eq!(group_target(full, 64 << 20, 0), full);
        // The sizes a 640 MB keyspace is cut into: never above full, shrinking at the
        // end, and the last group is small.
        let (mut remaining, mut sizes) = (640usize << 20, Vec::new());
        while remaining > 0 {
            let g = group_target(full, remaining, 2).min(remaining);
            sizes.push(g);
            remaining -= g;
        }
        assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{sizes:?}");
        assert_eq!(sizes[0], full);
        assert!(*sizes.last().unwrap() <= full / 8, "{sizes:?}");
        assert!(sizes.len() < 40, "{sizes:?}");
    }

    #[test]
    fn schemas_build() {
        assert_eq!(object_schema().fields().len(), OBJECT_COLUMNS.len());
        assert!(RecordBatch::try_new(object_schema(), ObjectColumns::new().finish()).is_ok());
    }
}
