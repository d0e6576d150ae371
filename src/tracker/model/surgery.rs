//! Tree surgery: putting a process under a parent in display order, taking it out, moving
//! it, and finding who a parent or a reaper is.

use super::{
    Model,
    arena::{NONE, Slot},
};

impl Model {
    /// Whether `slot` is `ancestor` or below it.
    pub(super) fn descends(&self, mut slot: Slot, ancestor: Slot) -> bool {
        while slot != NONE {
            if slot == ancestor {
                return true;
            }
            slot = self.node(slot).parent;
        }
        false
    }

    /// Puts `slot` among `parent`'s children, in display order.
    pub(super) fn link(&mut self, slot: Slot, parent: Slot) {
        let order = self.node(slot).order();
        let kids = self.kids(parent);
        // Usually the youngest child: no search.
        let at = match kids.back() {
            Some(&last) if self.node(last).order() > order => {
                kids.partition_point(|&s| self.node(s).order() < order)
            }
            _ => kids.len(),
        };
        self.kids_mut(parent).insert(at, slot);
        self.node_mut(slot).parent = parent;
        if parent == NONE {
            let ppid = self.node(slot).process.ppid;
            self.waiting.entry(ppid).or_default().insert(slot);
        }
    }

    pub(super) fn unlink(&mut self, slot: Slot) {
        let parent = self.node(slot).parent;
        let kids = self.kids(parent);
        // Usually among the oldest children (its linger is over) or the youngest: looking
        // there first costs less than a search that reads other nodes.
        let at = if kids.back() == Some(&slot) {
            Some(kids.len() - 1)
        } else if let Some(at) = kids.iter().take(32).position(|&s| s == slot) {
            Some(at)
        } else {
            let order = self.node(slot).order();
            kids.binary_search_by(|&s| self.node(s).order().cmp(&order))
                .ok()
        };
        if let Some(at) = at {
            self.kids_mut(parent).remove(at);
            if parent == NONE {
                let ppid = self.node(slot).process.ppid;
                if let Some(waiting) = self.waiting.get_mut(&ppid) {
                    waiting.remove(&slot);
                    if waiting.is_empty() {
                        self.waiting.remove(&ppid);
                    }
                }
            }
        }
    }

    pub(super) fn move_to(&mut self, slot: Slot, parent: Slot) {
        self.unlink(slot);
        self.link(slot, parent);
    }

    /// The process in the tree (alive or lingering) with pid `ppid` that can be the parent
    /// of a process started at `start_ticks`.
    pub(super) fn named_parent(&self, ppid: u32, start_ticks: u64) -> Option<Slot> {
        let slot = self.by_pid.get(ppid);
        (slot != NONE && self.node(slot).process.key.start_ticks <= start_ticks).then_some(slot)
    }

    /// The live process with pid `ppid` that can be the parent of a process started at
    /// `start_ticks`.
    pub(super) fn live_parent(&self, ppid: u32, start_ticks: u64) -> Option<Slot> {
        self.named_parent(ppid, start_ticks)
            .filter(|&slot| self.node(slot).process.is_alive())
    }

    /// Where the kernel sends the live children of `dead`: its nearest live subreaper
    /// ancestor, else pid 1 (`NONE` if pid 1 is not known).
    pub(super) fn reaper_for(&self, dead: Slot) -> Slot {
        let mut slot = self.node(dead).parent;
        while slot != NONE {
            let p = &self.node(slot).process;
            if p.subreaper && p.is_alive() {
                return slot;
            }
            slot = self.node(slot).parent;
        }
        match self.live_parent(1, u64::MAX) {
            Some(init) if init != dead => init,
            _ => NONE,
        }
    }

    /// Top-level processes that named this one as their parent before it was known.
    pub(super) fn adopt_waiting_children(&mut self, slot: Slot) {
        let key = self.node(slot).process.key;
        // Found by the pid they name, not by a look through the top level, which a stream
        // of processes whose parents were never seen makes long (recording with keyframes
        // fell to 78,000 events/s on such a stream with the look).
        let Some(named) = self.waiting.get(&key.pid) else {
            return;
        };
        // Not one it is below: a crafted stream can name each other as parents, and a
        // loop would leave both out of the tree and make every walk up endless.
        let waiting: Vec<Slot> = (named.iter().copied())
            .filter(|&s| self.node(s).process.key.start_ticks >= key.start_ticks)
            .filter(|&s| !self.descends(slot, s))
            .collect();
        for child in waiting {
            self.move_to(child, slot);
        }
    }
}
