//! The command-line interface: parses arguments, calls the library, prints. Errors become
//! one line on stderr and a non-zero exit: 1 for bad input or damage, 2 for usage.

mod analyze;
mod bbolt;
mod check;
mod cluster;
mod common;
mod decode;
mod decrypt;
mod diff;
mod dump;
mod export;
mod export_parquet;
mod get;
mod hash;
mod history;
mod inspect;
mod ls;
mod progress;
mod restore;
mod serve;
mod snapshot;
mod wal;

use clap::{CommandFactory, Parser, Subcommand};
use std::io::{BufWriter, Write};

#[derive(Parser)]
#[command(
    name = "reshift",
    version,
    about = "Read an etcd member's files (bbolt db, WAL, snap) offline",
    after_help = "Examples:\n  reshift inspect /var/lib/etcd\n  reshift ls /var/lib/etcd /registry/pods/\n  reshift dump snapshot.db > keys.jsonl"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Summary: revisions, raft position, sizes per bucket and per resource.
    Inspect(inspect::Args),
    /// List live keys with their revisions, version, lease and value size.
    Ls(ls::Args),
    /// Print one key's value.
    Get(get::Args),
    /// Every revision of one key still in the db, deletions included.
    History(history::Args),
    /// The keyspace as JSON Lines (etcdctl's JSON conventions), streamed.
    Dump(dump::Args),
    /// etcd's HashKV of the keyspace (what `etcdctl endpoint hashkv` prints).
    Hash(hash::Args),
    /// What one stored value is: envelope, encoding, encryption, metadata.
    Decode(decode::Args),
    /// Verify the structure of the db; exit 1 if damaged.
    Check(check::Args),
    /// Write a compact, indexed, verifiable zstd snapshot.
    Snapshot(snapshot::Args),
    /// Write a new etcd db from any input (a data dir, db, etcdctl or reshift snapshot).
    Restore(restore::Args),
    /// Clean manifests for `kubectl apply`, server-set fields stripped, in apply order.
    Export(export::Args),
    /// What fills the db: bytes and revisions per resource and namespace, largest keys.
    Analyze(analyze::Args),
    /// What differs between two sources, or one source at two revisions (exit 1 if any).
    Diff(diff::Args),
    /// Every raft entry in the WAL with its decoded request.
    Wal(wal::Args),
    /// Several members of one cluster after quorum loss: each member's raft position, the
    /// newest member, what was committed and what a restart serves.
    Cluster(cluster::Args),
    /// A read-only Kubernetes API over the keyspace, for kubectl against a dead cluster.
    Serve(serve::Args),
    /// The raw bbolt view: buckets, keys, values, dump.
    Bbolt(bbolt::Args),
    /// Print a shell completion script.
    #[command(after_help = "Example:\n  reshift completions bash > /etc/bash_completion.d/reshift")]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    // Outputs are written under temp names: an interrupt removes them before exiting.
    crate::tempout::remove_on_signals();
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let result = match &cli.command {
        Command::Inspect(a) => inspect::run(a, &mut out).map(|_| true),
        Command::Ls(a) => ls::run(a, &mut out).map(|_| true),
        Command::Get(a) => get::run(a, &mut out).map(|_| true),
        Command::History(a) => history::run(a, &mut out).map(|_| true),
        Command::Dump(a) => dump::run(a, &mut out).map(|_| true),
        Command::Hash(a) => hash::run(a, &mut out).map(|_| true),
        Command::Check(a) => check::run(a, &mut out),
        Command::Decode(a) => decode::run(a, &mut out).map(|_| true),
        Command::Snapshot(a) => snapshot::run(a, &mut out).map(|_| true),
        Command::Restore(a) => restore::run(a, &mut out).map(|_| true),
        Command::Diff(a) => diff::run(a, &mut out),
        Command::Export(a) => export::run(a, &mut out).map(|_| true),
        Command::Analyze(a) => analyze::run(a, &mut out).map(|_| true),
        Command::Wal(a) => wal::run(a, &mut out).map(|_| true),
        Command::Cluster(a) => cluster::run(a, &mut out).map(|_| true),
        Command::Serve(a) => serve::run(a, &mut out).map(|_| true),
        Command::Bbolt(a) => bbolt::run(a, &mut out).map(|_| true),
        Command::Completions { shell } => {
            clap_complete::generate(*shell, &mut Cli::command(), "reshift", &mut out);
            Ok(true)
        }
    };
    // An interrupt removes the temp outputs under the command's feet: what it then fails
    // on is the interrupt's doing, and the signal thread exits with its own code.
    crate::tempout::wait_if_interrupted();
    let flushed = out.flush();
    let skipped = crate::etcd::skipped::take();
    for s in &skipped {
        eprintln!("reshift: warning: skipped a damaged record: {s}");
    }
    if !skipped.is_empty() {
        eprintln!(
            "reshift: warning: {} damaged records skipped; everything else was read",
            skipped.len()
        );
    }
    match result {
        Ok(ok) => {
            if let Err(e) = flushed {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    eprintln!("reshift: <stdout>: {e}");
                    return 1;
                }
            }
            i32::from(!ok)
        }
        Err(crate::Error::Io { ref source, .. })
            if source.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            0
        }
        Err(e) => {
            eprintln!("reshift: {}", e.to_string().replace('\n', " "));
            // `diff` keeps 1 for "the inputs differ", as diff(1) does.
            if matches!(cli.command, Command::Diff(_)) {
                2
            } else {
                1
            }
        }
    }
}
