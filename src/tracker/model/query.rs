//! Reading the model: a process by key or pid, its place in the tree, its events.

use super::{
    History, Model, Process, ProcessKey,
    arena::{NONE, Slot},
};

impl Model {
    /// Any process the model still holds: alive, exited in the tree, or in the history.
    pub fn get(&self, key: ProcessKey) -> Option<&Process> {
        self.index.get(&key).map(|&slot| &self.node(slot).process)
    }

    /// The live process with this pid.
    pub fn current(&self, pid: u32) -> Option<ProcessKey> {
        let slot = self.by_pid.get(pid);
        let p = &self.nodes.get(slot as usize)?.as_ref()?.process;
        p.is_alive().then_some(p.key)
    }

    /// Whether the process is in the tree (alive, or exited and lingering).
    pub fn in_tree(&self, key: ProcessKey) -> bool {
        self.slot(key).is_some_and(|slot| self.node(slot).in_tree)
    }

    /// The process's own events, oldest first.
    pub fn history(&self, key: ProcessKey) -> Option<History> {
        self.get(key).map(Process::history)
    }

    /// Its parent in the tree (for a process in the history: the parent it had).
    pub fn parent(&self, key: ProcessKey) -> Option<&Process> {
        let node = self.node(self.slot(key)?);
        if node.in_tree {
            (node.parent != NONE).then(|| &self.node(node.parent).process)
        } else {
            self.get(node.former_parent?)
        }
    }

    /// The parent chain, parent first, up to the top of the tree.
    pub fn ancestry(&self, key: ProcessKey) -> Vec<&Process> {
        let mut chain = Vec::new();
        let mut next = self.parent(key);
        while let Some(p) = next {
            chain.push(p);
            next = self.parent(p.key);
        }
        chain
    }

    /// Its children in the tree, in display order (start time, then pid).
    pub fn children(&self, key: ProcessKey) -> impl Iterator<Item = &Process> {
        let kids = match self.slot(key) {
            Some(slot) if self.node(slot).in_tree => Some(&self.node(slot).children),
            _ => None,
        };
        kids.into_iter().flatten().map(|&s| &self.node(s).process)
    }

    /// The process and all its descendants in the tree, in display order.
    pub fn subtree(&self, key: ProcessKey) -> impl Iterator<Item = &Process> {
        let mut stack: Vec<Slot> = match self.slot(key) {
            Some(slot) if self.node(slot).in_tree => vec![slot],
            _ => Vec::new(),
        };
        std::iter::from_fn(move || {
            let slot = stack.pop()?;
            stack.extend(self.node(slot).children.iter().rev());
            Some(&self.node(slot).process)
        })
    }

    /// Every process the model holds: in the tree (alive or lingering) and in the history,
    /// in no particular order.
    pub fn known(&self) -> impl Iterator<Item = &Process> {
        self.nodes.iter().flatten().map(|n| &n.process)
    }

    /// Every process in the tree, alive or lingering, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Process> {
        self.nodes
            .iter()
            .flatten()
            .filter(|n| n.in_tree)
            .map(|n| &n.process)
    }

    /// The processes that left the tree and are still kept (the history), oldest first;
    /// [`Model::parent`] names the parent each had.
    pub fn left_tree(&self) -> impl DoubleEndedIterator<Item = &Process> {
        self.history.iter().map(|&slot| &self.node(slot).process)
    }
}
