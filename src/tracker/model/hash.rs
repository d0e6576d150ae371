//! The hash of the model's tables, and of the sets kept beside it (pins, views).

use std::{
    collections::HashMap,
    hash::{BuildHasherDefault, Hasher},
};

/// Hashes process keys with the multiply-rotate hash of rustc's own tables, far cheaper
/// than the default SipHash on these small keys. Keys come from the kernel (pids and start
/// times), not from input that could be chosen to collide.
#[derive(Default)]
pub(crate) struct KeyHasher(u64);

/// A hash map keyed by process (or pid), with [`KeyHasher`].
pub(crate) type KeyMap<K, V> = HashMap<K, V, BuildHasherDefault<KeyHasher>>;

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b.into());
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(n.into());
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}
