//! Who started whom, as the OpenTelemetry records (`--schema otel`) name it: each record
//! carries the process's ancestors at its birth, so that a store without recursive queries
//! (ClickHouse 18.16 has none) finds a whole subtree with one `has()` on that array.
//!
//! Memory is bounded: at most [`MAX_ANCESTORS`] (the nearest) per process, and at most
//! [`MAX_PROCESSES`] processes held per host (16 bytes an ancestor and about 50 a
//! process: under 72 MiB at worst, about 1 MiB for 5,000 processes 8 deep); past it the
//! host's lineage is forgotten and starts again from the processes seen next (an exit lost
//! in a storm leaves its process behind, so only a bound can keep it from growing).

use std::{collections::HashMap, sync::Arc};

use crate::clock;

/// The nearest ancestors kept for a process.
pub const MAX_ANCESTORS: usize = 32;
/// The processes a host's lineage holds at most.
pub const MAX_PROCESSES: usize = 131_072;

/// A process: its pid and when it started (CLOCK_BOOTTIME nanoseconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Born {
    pub pid: u32,
    pub start_ns: u64,
}

impl Born {
    /// The same process: /proc gives start times in clock ticks, events in nanoseconds.
    fn is(&self, start_ns: u64) -> bool {
        clock::start_ticks(self.start_ns) == clock::start_ticks(start_ns)
    }
}

/// A process alive (as far as the lineage knows) and its ancestors, root first.
struct Entry {
    start_ns: u64,
    ancestors: Arc<[Born]>,
}

/// The processes of one host and their ancestors.
#[derive(Default)]
pub struct Lineage {
    live: HashMap<u32, Entry>,
}

impl Lineage {
    /// Takes in the processes alive at the start, `(pid, ppid, start_ns)` each (a
    /// recording's snapshot, or /proc), parents before children whatever their order.
    pub fn seed(&mut self, processes: impl IntoIterator<Item = (u32, u32, u64)>) {
        let mut all: Vec<_> = processes.into_iter().collect();
        all.sort_by_key(|&(_, _, start_ns)| start_ns);
        for (pid, ppid, start_ns) in all {
            self.born(pid, ppid, start_ns);
        }
    }

    /// The process `pid` started at `start_ns` by `ppid`: its ancestors.
    pub fn born(&mut self, pid: u32, ppid: u32, start_ns: u64) -> Arc<[Born]> {
        let ancestors: Arc<[Born]> = match self.live.get(&ppid) {
            Some(parent) if ppid != pid && parent.start_ns <= start_ns => {
                let parent_born = Born {
                    pid: ppid,
                    start_ns: parent.start_ns,
                };
                let line = parent.ancestors.iter().copied().chain([parent_born]);
                let skip = (parent.ancestors.len() + 1).saturating_sub(MAX_ANCESTORS);
                line.skip(skip).collect()
            }
            _ => Arc::new([]),
        };
        self.insert(pid, start_ns, ancestors.clone());
        ancestors
    }

    /// The ancestors of the process `pid` that started at `start_ns`. One not seen being
    /// born (it was there before, and nothing seeded it) is taken in as a child of `ppid`,
    /// its parent now, so that its children know it.
    pub fn ancestors(&mut self, pid: u32, ppid: u32, start_ns: u64) -> Arc<[Born]> {
        match self.live.get(&pid) {
            Some(entry) if Born { pid, start_ns }.is(entry.start_ns) => entry.ancestors.clone(),
            _ => self.born(pid, ppid, start_ns),
        }
    }

    /// The process `pid` that started at `start_ns` exited.
    pub fn ended(&mut self, pid: u32, start_ns: u64) {
        if self
            .live
            .get(&pid)
            .is_some_and(|entry| Born { pid, start_ns }.is(entry.start_ns))
        {
            self.live.remove(&pid);
        }
    }

    fn insert(&mut self, pid: u32, start_ns: u64, ancestors: Arc<[Born]>) {
        if self.live.len() >= MAX_PROCESSES && !self.live.contains_key(&pid) {
            self.live.clear();
        }
        self.live.insert(
            pid,
            Entry {
                start_ns,
                ancestors,
            },
        );
    }
}

/// The lineages of every host whose events one writer prints.
#[derive(Default)]
pub struct Lineages {
    hosts: HashMap<Box<str>, Lineage>,
}

impl Lineages {
    /// The lineage of `host`.
    pub fn of(&mut self, host: &str) -> &mut Lineage {
        if !self.hosts.contains_key(host) {
            self.hosts.insert(host.into(), Lineage::default());
        }
        self.hosts.get_mut(host).expect("inserted above")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pids(line: &[Born]) -> Vec<u32> {
        line.iter().map(|b| b.pid).collect()
    }

    #[test]
    fn children_know_their_ancestors_from_a_seed_in_any_order() {
        let tick = clock::ticks_to_ns(1);
        let mut lineage = Lineage::default();
        lineage.seed([(20, 10, 3 * tick), (10, 1, 2 * tick), (1, 0, tick)]);
        // Events stamp start times in nanoseconds, /proc in ticks: the same process.
        let exact = 3 * tick + 12_345;
        assert_eq!(pids(&lineage.ancestors(20, 10, exact)), [1, 10]);
        assert_eq!(pids(&lineage.born(30, 20, 4 * tick)), [1, 10, 20]);
        lineage.ended(20, exact);
        assert_eq!(pids(&lineage.ancestors(30, 1, 4 * tick)), [1, 10, 20]);
        // pid 20 again, another process: a child of pid 1 now.
        assert_eq!(pids(&lineage.ancestors(20, 1, 5 * tick)), [1]);
    }

    #[test]
    fn a_parent_younger_than_its_child_is_another_process() {
        let mut lineage = Lineage::default();
        lineage.born(7, 1, 1_000_000_000);
        assert!(lineage.born(8, 7, 5).is_empty());
    }

    #[test]
    fn only_the_nearest_ancestors_are_kept() {
        let mut lineage = Lineage::default();
        let depth = MAX_ANCESTORS as u32 + 10;
        for pid in 1..=depth {
            lineage.born(pid, pid - 1, u64::from(pid) * 1_000_000_000);
        }
        let line = lineage.ancestors(depth, depth - 1, u64::from(depth) * 1_000_000_000);
        assert_eq!(line.len(), MAX_ANCESTORS);
        assert_eq!(line.last().unwrap().pid, depth - 1);
        assert_eq!(line[0].pid, depth - MAX_ANCESTORS as u32);
    }

    #[test]
    fn a_full_lineage_starts_again() {
        let mut lineage = Lineage::default();
        for pid in 0..MAX_PROCESSES as u32 {
            lineage.born(pid + 1, 0, 1);
        }
        assert_eq!(lineage.live.len(), MAX_PROCESSES);
        lineage.born(MAX_PROCESSES as u32 + 1, 1, 2);
        assert_eq!(lineage.live.len(), 1);
    }
}
