//! What identifies a process across sources: its pid and its start time. Pids are reused
//! within seconds; the pair is not. /proc gives start times in clock ticks and events in
//! nanoseconds, and both map to the same key.

use std::{
    collections::HashMap,
    hash::{BuildHasherDefault, Hasher},
};

use super::Event;
use crate::clock;

/// The highest pid_max a kernel accepts: no pid is above it, and no machine has more
/// processes.
pub const PID_MAX_LIMIT: u32 = 4 << 20;

/// What identifies a process: its pid and its start time in clock ticks (the precision
/// /proc gives; events map to the same value through [`clock::start_ticks`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProcessKey {
    pub pid: u32,
    pub start_ticks: u64,
}

impl ProcessKey {
    /// The key of process `pid` started at `start_ns` (CLOCK_BOOTTIME nanoseconds).
    pub fn new(pid: u32, start_ns: u64) -> Self {
        Self {
            pid,
            start_ticks: clock::start_ticks(start_ns),
        }
    }

    /// The process an event concerns.
    pub fn of(event: &Event) -> Self {
        Self::new(event.pid, event.start_ns)
    }
}

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
