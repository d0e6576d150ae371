//! Entries of the probe's in-kernel relay map written by hand, for the tests and benchmarks
//! that drive the map directly.

use forkwatch::{clock, event::ProcessKey, proc::stat};
use forkwatch_abi::relay::{RelayEntry, matching};

/// The running process `pid` as a relay target is named: its pid and start time.
pub fn key_of(pid: u32) -> ProcessKey {
    ProcessKey::new(pid, stat::read(pid).expect("it runs").start_ns())
}

/// Every fork of every process, signalled to `target` with `signal`.
pub fn every_fork_to(target: ProcessKey, signal: i32) -> RelayEntry {
    RelayEntry {
        matching: matching::ANY,
        kinds: 1 << forkwatch_abi::kind::FORK,
        signal: signal as u32,
        target_pid: target.pid,
        target_start_ticks: target.start_ticks,
        tick_ns: clock::ticks_to_ns(1),
        ..RelayEntry::default()
    }
}
