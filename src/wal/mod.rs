//! The write-ahead log and snap files of an etcd member, read from read-only maps.
//!
//! - [`segment`]: segment file names and their order;
//! - [`record`]: framing of records inside a segment;
//! - [`reader`]: records across segments with the CRC-32C chain verified, and how reading
//!   ended (clean, torn tail, damage with file and offset);
//! - [`log`]: the raft log the records describe (entries, hard state, snapshot marks);
//! - [`request`]: what each entry asks etcd to do;
//! - [`snapfile`]: `member/snap/*.snap` files.

pub mod fuzz;
pub mod log;
pub mod reader;
pub mod record;
pub mod request;
pub mod segment;
pub mod snapfile;
pub mod writer;

pub use log::{EntryRef, HardState, RaftLog, read_log};
pub use reader::{Ending, Record, Wal};
pub use request::{Payload, RequestView, decode_payload};
