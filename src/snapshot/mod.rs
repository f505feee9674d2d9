//! reshift's snapshot files: compact (zstd, chunked by resource), indexed (a key is found
//! by decompressing one chunk) and verifiable (a checksum on every chunk, the header and
//! the whole file). [`format`] documents the layout; [`writer`] makes them; [`reader`]
//! reads and checks them; [`open`] turns one into a keyspace for the read commands;
//! [`chain`] links incremental snapshots to their bases and reads a chain as one state.

pub mod chain;
pub mod columns;
pub mod extras;
pub mod format;
pub mod fuzz;
pub mod open;
pub mod reader;
pub mod retention;
pub mod spill;
pub mod writer;

pub use reader::{Snapshot, SnapshotCheck, is_snapshot};
pub use writer::{Facts, Options, Written, write_snapshot};
