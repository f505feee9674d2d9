//! `reshift bbolt`: the raw bbolt view, as the `bbolt` CLI gives it — buckets, keys,
//! values and a full dump — for any bbolt file, etcd's or not.

use super::common::{Format, Input, json_line, key_arg, printable, stdout_err};
use crate::bbolt::{Bucket, MAX_DEPTH, bucket_stats};
use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::io::Write;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  reshift bbolt buckets /var/lib/etcd\n  reshift bbolt keys db meta\n  reshift bbolt get db meta consistent_index | xxd\n  reshift bbolt dump db --hash > digest.jsonl"
)]
pub struct Args {
    #[command(subcommand)]
    pub what: What,
}

#[derive(Debug, clap::Subcommand)]
pub enum What {
    /// Every bucket (nested ones indented) with key counts and sizes.
    Buckets {
        #[command(flatten)]
        input: Input,
        #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
        format: Format,
    },
    /// The keys of a bucket (path of nested bucket names).
    Keys {
        #[command(flatten)]
        input: Input,
        #[arg(required = true)]
        bucket: Vec<String>,
        #[arg(short = 'o', long = "output", value_enum, default_value = "table")]
        format: Format,
    },
    /// A value, raw: BUCKET... KEY.
    Get {
        #[command(flatten)]
        input: Input,
        /// The bucket path, then the key (`\xNN` escapes allowed).
        #[arg(required = true, num_args = 2.., value_name = "BUCKET... KEY")]
        names: Vec<String>,
    },
    /// Every key and value of every bucket as JSON Lines, in hex:
    /// {"bucket":"<hex>[.<hex>...]","key":"<hex>","value":"<hex>"}.
    Dump {
        #[command(flatten)]
        input: Input,
        /// Print the sha256 of each value (`value_sha256`) instead of the value.
        #[arg(long)]
        hash: bool,
    },
}

fn hex(out: &mut Vec<u8>, b: &[u8]) {
    const D: &[u8; 16] = b"0123456789abcdef";
    out.reserve(b.len() * 2);
    for &x in b {
        out.push(D[usize::from(x >> 4)]);
        out.push(D[usize::from(x & 15)]);
    }
}

fn open_path<'a>(db: &crate::bbolt::Db<'a>, names: &[String]) -> Result<Bucket<'a>> {
    let path: Vec<Vec<u8>> = names.iter().map(|n| key_arg(n)).collect();
    let refs: Vec<&[u8]> = path.iter().map(Vec::as_slice).collect();
    db.bucket(&refs)?
        .ok_or_else(|| Error::invalid(format!("bucket {} not found", names.join("/"))))
}

pub fn run(a: &Args, out: &mut dyn Write) -> Result<()> {
    match &a.what {
        What::Buckets { input, format } => {
            let src = input.open()?;
            let db = src.db()?;
            let s = bucket_stats(&db.root_bucket(), b"")?;
            if *format == Format::Json {
                return json_line(out, &s.children);
            }
            writeln!(
                out,
                "{:<30} {:>10} {:>8} {:>7} {:>14}",
                "BUCKET", "KEYS", "PAGES", "DEPTH", "USED"
            )
            .map_err(stdout_err)?;
            let mut stack: Vec<(&crate::bbolt::BucketStats, usize)> =
                s.children.iter().rev().map(|c| (c, 0)).collect();
            while let Some((b, lvl)) = stack.pop() {
                let name = format!(
                    "{}{}{}",
                    "  ".repeat(lvl),
                    b.name,
                    if b.inline { " (inline)" } else { "" }
                );
                writeln!(
                    out,
                    "{name:<30} {:>10} {:>8} {:>7} {:>14}",
                    b.keys,
                    b.branch_pages + b.leaf_pages + b.overflow_pages,
                    b.depth,
                    b.bytes_used
                )
                .map_err(stdout_err)?;
                stack.extend(b.children.iter().rev().map(|c| (c, lvl + 1)));
            }
            Ok(())
        }
        What::Keys {
            input,
            bucket,
            format,
        } => {
            let src = input.open()?;
            let db = src.db()?;
            for e in open_path(&db, bucket)?.iter() {
                let e = e?;
                if *format == Format::Json {
                    let mut k = Vec::new();
                    hex(&mut k, e.key);
                    json_line(
                        out,
                        &serde_json::json!({"key": String::from_utf8_lossy(&k), "bucket": e.is_bucket(), "value_size": e.value.len()}),
                    )?;
                    continue;
                }
                writeln!(
                    out,
                    "{}{}",
                    printable(e.key),
                    if e.is_bucket() { "/" } else { "" }
                )
                .map_err(stdout_err)?;
            }
            Ok(())
        }
        What::Get { input, names } => {
            let src = input.open()?;
            let db = src.db()?;
            let Some((key, buckets)) = names.split_last().filter(|(_, b)| !b.is_empty()) else {
                return Err(Error::invalid("bbolt get takes BUCKET... KEY"));
            };
            let v = open_path(&db, buckets)?
                .get(&key_arg(key))?
                .ok_or_else(|| Error::invalid(format!("key {key:?} not found")))?;
            out.write_all(v).map_err(stdout_err)
        }
        What::Dump { input, hash } => {
            let src = input.open()?;
            let db = src.db()?;
            let mut line = Vec::with_capacity(1 << 16);
            dump(&db.root_bucket(), &mut Vec::new(), *hash, &mut line, out)
        }
    }
}

fn dump(
    b: &Bucket<'_>,
    path: &mut Vec<u8>,
    hash: bool,
    line: &mut Vec<u8>,
    out: &mut dyn Write,
) -> Result<()> {
    for e in b.iter() {
        let e = e?;
        if e.is_bucket() {
            if path.len() > MAX_DEPTH * 64 {
                return Err(Error::invalid("buckets nested too deeply"));
            }
            let keep = path.len();
            if !path.is_empty() {
                path.push(b'.');
            }
            hex(path, e.key);
            dump(&Bucket::from_elem(*b.db(), &e)?, path, hash, line, out)?;
            path.truncate(keep);
            continue;
        }
        line.clear();
        line.extend_from_slice(b"{\"bucket\":\"");
        line.extend_from_slice(path);
        line.extend_from_slice(b"\",\"key\":\"");
        hex(line, e.key);
        if hash {
            line.extend_from_slice(b"\",\"value_sha256\":\"");
            hex(line, &Sha256::digest(e.value));
        } else {
            line.extend_from_slice(b"\",\"value\":\"");
            hex(line, e.value);
        }
        line.extend_from_slice(b"\"}\n");
        out.write_all(line).map_err(stdout_err)?;
    }
    Ok(())
}
