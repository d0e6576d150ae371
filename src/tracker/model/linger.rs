//! How exited processes leave: from the tree to the history once their linger is over (or
//! they are too many, or hold too much), then out of the history, oldest first.

use super::{
    Model,
    arena::{NONE, Slot},
};

impl Model {
    /// Moves exited processes whose linger is over (or that are too many, or hold too
    /// much) to the history.
    pub(super) fn expire(&mut self) {
        // The history is older: it goes first.
        self.forget_old();
        while let Some(&(leaves, slot)) = self.lingering.front() {
            if leaves > self.now_ns
                && self.lingering.len() <= self.config.max_lingering
                && self.exited_bytes <= self.config.exited_bytes
            {
                break;
            }
            self.lingering.pop_front();
            self.leave_tree(slot);
        }
    }

    pub(super) fn leave_tree(&mut self, slot: Slot) {
        self.generation += 1;
        let parent = self.node(slot).parent;
        self.unlink(slot);
        // Children still here exited before it; they stay visible under its parent.
        for child in std::mem::take(&mut self.node_mut(slot).children) {
            self.link(child, parent);
        }
        let former_parent = self.key_of(parent);
        self.touch(slot);
        let node = self.node_mut(slot);
        node.in_tree = false;
        node.former_parent = former_parent;
        let pid = node.process.key.pid;
        if self.by_pid.get(pid) == slot {
            self.by_pid.set(pid, NONE);
        }
        self.history.push_back(slot);
        self.forget_old();
    }

    /// Forgets the oldest processes of the history while there are too many, or the
    /// exited ones hold too much (those the budget pushes out of the tree come at once).
    pub(super) fn forget_old(&mut self) {
        loop {
            let too_many = self.history.len() > self.config.history_len;
            if !too_many && self.exited_bytes <= self.config.exited_bytes {
                break;
            }
            let Some(old) = self.history.pop_front() else {
                break;
            };
            if !too_many {
                self.dropped_for_memory += 1;
            }
            self.release(old);
            let node = self.nodes[old as usize]
                .take()
                .expect("history slots hold a node");
            self.index.remove(&node.process.key);
            self.free.push(old);
        }
    }
}
