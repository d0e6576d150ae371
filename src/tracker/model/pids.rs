//! The model's table by pid: the newest process with each pid still in the tree. A table
//! of one slot per pid is cheapest for one machine, whose pids are dense; a view of
//! several hosts ([`crate::event::host`]) puts each host's pids in a block of their own,
//! far apart, so each block has a table of its own, grown to the highest pid seen in it:
//! two hosts cost what two machines would.

use super::arena::{NONE, Slot};
use crate::event::PID_MAX_LIMIT;

#[derive(Debug, Default)]
pub(super) struct PidTable {
    /// By block of pids (block 0: one machine's own), by pid within the block.
    blocks: Vec<Vec<Slot>>,
}

/// A pid's block and its place in it.
fn place(pid: u32) -> (usize, usize) {
    (
        (pid / PID_MAX_LIMIT) as usize,
        (pid % PID_MAX_LIMIT) as usize,
    )
}

impl PidTable {
    /// The slot of `pid` (`NONE` if none).
    pub(super) fn get(&self, pid: u32) -> Slot {
        let (block, at) = place(pid);
        (self.blocks.get(block).and_then(|b| b.get(at)).copied()).unwrap_or(NONE)
    }

    /// Sets the slot of `pid`, growing its block's table to hold it.
    pub(super) fn set(&mut self, pid: u32, slot: Slot) {
        let (block, at) = place(pid);
        if self.blocks.len() <= block {
            self.blocks.resize_with(block + 1, Vec::new);
        }
        let table = &mut self.blocks[block];
        if table.len() <= at {
            table.resize(at + 1, NONE);
        }
        table[at] = slot;
    }

    /// Entries held, for the tests of what the model's memory holds.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.blocks.iter().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::host::merged_pid;

    #[test]
    fn each_hosts_pids_have_a_table_as_large_as_its_highest_pid() {
        let mut table = PidTable::default();
        table.set(300, 1);
        table.set(merged_pid(0, 300), 2);
        table.set(merged_pid(1, 300), 3);
        assert_eq!(table.get(300), 1);
        assert_eq!(table.get(merged_pid(0, 300)), 2);
        assert_eq!(table.get(merged_pid(1, 300)), 3);
        assert_eq!(table.get(merged_pid(2, 300)), NONE);
        assert_eq!(table.get(301), NONE);
        assert_eq!(table.len(), 3 * 301);
    }
}
