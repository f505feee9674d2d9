//! A fast, non-cryptographic hasher for in-memory tables keyed by small integers or short
//! runs of them (the snapshot encoder's field paths, the YAML writer's member orders). It
//! must never key anything an input can choose to collide on at scale: it has no seed.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Rotate, xor, multiply: one step per integer written.
#[derive(Default)]
pub struct FastHasher(u64);

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// A `HashMap` hashed with [`FastHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;
