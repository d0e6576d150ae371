//! The model's table by pid: the newest process with each pid still in the tree. A table
//! of one slot per pid is cheapest for one machine, whose pids are dense; a view of
//! several hosts ([`crate::event::host`]) puts each host's pids in a block of their own,
//! far apart, which are kept by pid in a map: a recording that names many hosts with one
//! high pid each costs what its processes do, not a table per host.

use super::arena::{NONE, Slot};
use crate::event::{KeyMap, PID_MAX_LIMIT};

#[derive(Debug, Default)]
pub(super) struct PidTable {
    /// One machine's pids (block 0), a slot each.
    own: Vec<Slot>,
    /// The pids of the hosts of a view of several (blocks 1 and up).
    merged: KeyMap<u32, Slot>,
}

impl PidTable {
    /// The slot of `pid` (`NONE` if none).
    pub(super) fn get(&self, pid: u32) -> Slot {
        if pid < PID_MAX_LIMIT {
            self.own.get(pid as usize).copied().unwrap_or(NONE)
        } else {
            self.merged.get(&pid).copied().unwrap_or(NONE)
        }
    }

    /// Sets the slot of `pid` (`NONE`: none), growing one machine's table to hold it.
    pub(super) fn set(&mut self, pid: u32, slot: Slot) {
        if pid >= PID_MAX_LIMIT {
            if slot == NONE {
                self.merged.remove(&pid);
            } else {
                self.merged.insert(pid, slot);
            }
            return;
        }
        let at = pid as usize;
        if self.own.len() <= at {
            self.own.resize(at + 1, NONE);
        }
        self.own[at] = slot;
    }

    /// Entries held, for the tests of what the model's memory holds.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.own.len() + self.merged.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::host::merged_pid;

    #[test]
    fn one_machines_pids_have_a_table_and_several_hosts_only_what_they_use() {
        let mut table = PidTable::default();
        table.set(300, 1);
        table.set(merged_pid(0, 300), 2);
        table.set(merged_pid(1, 300), 3);
        assert_eq!(table.get(300), 1);
        assert_eq!(table.get(merged_pid(0, 300)), 2);
        assert_eq!(table.get(merged_pid(1, 300)), 3);
        assert_eq!(table.get(merged_pid(2, 300)), NONE);
        assert_eq!(table.get(301), NONE);
        table.set(merged_pid(1022, PID_MAX_LIMIT - 1), 4);
        assert_eq!(table.len(), 301 + 3);
        table.set(merged_pid(1, 300), NONE);
        assert_eq!(table.get(merged_pid(1, 300)), NONE);
        assert_eq!(table.len(), 301 + 2);
    }
}
