//! The table the processes live in: a node per process, indexed by slot, with its links in
//! the tree; reading and allocating nodes. Views that keep something per process between
//! frames (the UI's rows) read the tree by slot.

use std::collections::VecDeque;

use super::{Model, Process, ProcessKey};

/// A process's place in the model's node table: the same for as long as the model holds
/// the process, then given to another.
pub type Slot = u32;
/// No node: as a parent, the top of the tree.
pub(super) const NONE: Slot = u32::MAX;

#[derive(Debug)]
pub(super) struct Node {
    pub(super) process: Process,
    /// The parent in the tree (`NONE`: a top-level process); meaningless once left.
    pub(super) parent: Slot,
    /// In display order: start time, then pid. A deque: the oldest leave first, the
    /// newest arrive last.
    pub(super) children: VecDeque<Slot>,
    /// When the ppid was last learned, so an older report cannot undo a newer one.
    pub(super) ppid_ns: u64,
    pub(super) in_tree: bool,
    /// The parent it had when it left the tree, for its ancestry.
    pub(super) former_parent: Option<ProcessKey>,
    /// Once exited: the bytes of its own counted against
    /// [`Config::exited_bytes`](super::Config::exited_bytes).
    pub(super) held: usize,
}

impl Node {
    pub(super) fn order(&self) -> (u64, u32) {
        (self.process.start_ns, self.process.key.pid)
    }
}

/// The tree by slot, for views that keep something per process between frames.
impl Model {
    /// Tells models apart, for views that keep what they built from one.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// One past the highest slot: how long a view's table by slot must be.
    pub fn slot_count(&self) -> usize {
        self.nodes.len()
    }

    /// The process in `slot`, if it is in the tree (alive or lingering).
    pub fn in_tree_at(&self, slot: Slot) -> Option<&Process> {
        let node = self.nodes.get(slot as usize)?.as_ref()?;
        node.in_tree.then_some(&node.process)
    }

    /// The process in a slot of the tree ([`Model::top_slots`], [`Model::child_slots`],
    /// [`Model::parent_slot`]).
    pub fn process_at(&self, slot: Slot) -> &Process {
        &self.node(slot).process
    }

    /// The top-level processes, in display order (start time, then pid).
    pub fn top_slots(&self) -> &VecDeque<Slot> {
        &self.roots
    }

    /// The children of the process in a slot of the tree, in display order.
    pub fn child_slots(&self, slot: Slot) -> &VecDeque<Slot> {
        &self.node(slot).children
    }

    /// The parent of the process in a slot of the tree; `None` at the top.
    pub fn parent_slot(&self, slot: Slot) -> Option<Slot> {
        Some(self.node(slot).parent).filter(|&parent| parent != NONE)
    }

    /// The generation at which what a search or a place filter looks at in `slot` last
    /// changed: the name, the program, the cgroup path, whether the process is in the tree.
    pub fn changed_at(&self, slot: Slot) -> u64 {
        self.touched[slot as usize]
    }
}

impl Model {
    pub(super) fn slot(&self, key: ProcessKey) -> Option<Slot> {
        self.index.get(&key).copied()
    }

    pub(super) fn touch(&mut self, slot: Slot) {
        self.touched[slot as usize] = self.generation;
    }

    pub(super) fn node(&self, slot: Slot) -> &Node {
        self.nodes[slot as usize]
            .as_ref()
            .expect("slots in use hold a node")
    }

    pub(super) fn node_mut(&mut self, slot: Slot) -> &mut Node {
        self.nodes[slot as usize]
            .as_mut()
            .expect("slots in use hold a node")
    }

    pub(super) fn process_mut(&mut self, slot: Slot) -> &mut Process {
        &mut self.node_mut(slot).process
    }

    pub(super) fn kids(&self, parent: Slot) -> &VecDeque<Slot> {
        if parent == NONE {
            &self.roots
        } else {
            &self.node(parent).children
        }
    }

    pub(super) fn kids_mut(&mut self, parent: Slot) -> &mut VecDeque<Slot> {
        if parent == NONE {
            &mut self.roots
        } else {
            &mut self.node_mut(parent).children
        }
    }

    pub(super) fn key_of(&self, slot: Slot) -> Option<ProcessKey> {
        (slot != NONE).then(|| self.node(slot).process.key)
    }

    pub(super) fn allocate(&mut self, process: Process, ppid_ns: u64) -> Slot {
        let key = process.key;
        let node = Node {
            process,
            parent: NONE,
            children: VecDeque::new(),
            ppid_ns,
            in_tree: true,
            former_parent: None,
            held: 0,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.nodes[slot as usize] = Some(node);
                self.touched[slot as usize] = self.generation;
                slot
            }
            None => {
                self.nodes.push(Some(node));
                self.touched.push(self.generation);
                (self.nodes.len() - 1) as Slot
            }
        };
        self.index.insert(key, slot);
        // A reader lets no pid through that no host of the recording can give.
        let newest = self.by_pid.get(key.pid);
        if newest == NONE || self.node(newest).process.key.start_ticks <= key.start_ticks {
            self.by_pid.set(key.pid, slot);
        }
        self.alive += 1;
        slot
    }
}
