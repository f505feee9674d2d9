//! Rust types generated at build time from the `.proto` files in `proto/`.
//! Hot paths decode with [`crate::wire`] instead, without allocating.

#![allow(clippy::all, missing_docs)]

pub mod mvccpb {
    include!(concat!(env!("OUT_DIR"), "/mvccpb.rs"));
}
pub mod leasepb {
    include!(concat!(env!("OUT_DIR"), "/leasepb.rs"));
}
pub mod authpb {
    include!(concat!(env!("OUT_DIR"), "/authpb.rs"));
}
pub mod raftpb {
    include!(concat!(env!("OUT_DIR"), "/raftpb.rs"));
}
pub mod walpb {
    include!(concat!(env!("OUT_DIR"), "/walpb.rs"));
}
pub mod snappb {
    include!(concat!(env!("OUT_DIR"), "/snappb.rs"));
}
pub mod etcdserverpb {
    include!(concat!(env!("OUT_DIR"), "/etcdserverpb.rs"));
}
