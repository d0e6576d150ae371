//! The critical path of a subtree: the chain of processes that determined when its root
//! ended. A pure function over the model, for `watch`'s summary, `replay --critical-path`
//! and the timeline's marks.
//!
//! How it is computed: from the root, take among its children (the processes whose last
//! reported parent is it, started after it) those that exited no later than it did, and
//! follow the one that exited last: the child whose exit the root waited on last. Repeat
//! from that child until a process has no such child. A root still running takes every
//! child that has exited so far.
//!
//! What it cannot know:
//! - It sees exit times, not `wait4` calls: a parent that waited for a child which exited
//!   first, then worked on, shows the child that exited last, and the time after it
//!   counts as the parent's own (the gap to its end says how much).
//! - An orphan re-parented before it exited is no longer its first parent's child (its
//!   last reported parent is its reaper): it left the chain it might have ended, as the
//!   parent could not wait for it either.
//! - Threads are not processes: work done in threads is the process's own time.
//! - A root still running has no end yet: its chain is that of the children ended so far.
//! - Processes the model has forgotten (past its history's length or byte budget) are not
//!   seen; a chain can end early there.

use std::collections::{HashMap, HashSet};

use super::model::{Exit, Model, Process};
use crate::event::{Comm, ProcessKey};

/// One process of a critical path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    pub key: ProcessKey,
    /// Its name when it ended (or now).
    pub comm: Comm,
    pub start_ns: u64,
    /// How and when it ended; `None` while it runs.
    pub exit: Option<Exit>,
}

impl Link {
    fn of(p: &Process) -> Self {
        Self {
            key: p.key,
            comm: p.comm,
            start_ns: p.start_ns,
            exit: p.exit,
        }
    }

    /// How long it ran, or has run by `now_ns`.
    pub fn run_ns(&self, now_ns: u64) -> u64 {
        self.exit
            .map_or(now_ns, |e| e.ts_ns)
            .saturating_sub(self.start_ns)
    }
}

/// The critical path of `root`'s subtree, root first; empty if the model does not know
/// `root`. See the module's documentation for how it is computed.
pub fn critical_path(model: &Model, root: ProcessKey) -> Vec<Link> {
    match model.get(root) {
        Some(root) => critical_path_among(root, model.known()),
        None => Vec::new(),
    }
}

/// [`critical_path`] with only `processes` as the possible links (a subtree's members, as
/// the timeline has them), at a cost in proportion to them rather than to everything the
/// model knows.
pub fn critical_path_among<'a>(
    root: &'a Process,
    processes: impl IntoIterator<Item = &'a Process>,
) -> Vec<Link> {
    let mut ended_children: HashMap<u32, Vec<&Process>> = HashMap::new();
    for p in processes.into_iter().filter(|p| p.exit.is_some()) {
        ended_children.entry(p.ppid).or_default().push(p);
    }
    let mut chain = vec![Link::of(root)];
    // A crafted recording could make two processes each other's parent.
    let mut seen = HashSet::from([root.key]);
    let mut at = root;
    loop {
        let end_ns = at.exit.map_or(u64::MAX, |e| e.ts_ns);
        let waited_last = ended_children
            .get(&at.key.pid)
            .into_iter()
            .flatten()
            .filter(|c| c.start_ns >= at.start_ns && !seen.contains(&c.key))
            .filter_map(|c| Some((c.exit?.ts_ns, c.start_ns, *c)))
            .filter(|&(exit_ns, _, _)| exit_ns <= end_ns)
            .max_by_key(|&(exit_ns, start_ns, c)| (exit_ns, start_ns, c.key.pid));
        let Some((_, _, child)) = waited_last else {
            return chain;
        };
        seen.insert(child.key);
        chain.push(Link::of(child));
        at = child;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracker::model::testing::{INIT, MS, p};

    fn keys(chain: &[Link]) -> Vec<u32> {
        chain.iter().map(|l| l.key.pid).collect()
    }

    #[test]
    fn the_chain_follows_the_child_that_exited_last() {
        let mut model = Model::default();
        model.seed(&[INIT.info("init", &["init"])]);
        let root = p(100, 1, 1_000);
        let quick = p(101, 100, 1_100);
        let slow = p(102, 100, 1_200);
        let slow_child = p(103, 102, 1_300);
        let slow_quick = p(104, 102, 1_400);
        for e in [
            root.fork(),
            quick.fork(),
            slow.fork(),
            slow_child.fork(),
            slow_quick.fork(),
            quick.exit(1_600, 0),
            slow_quick.exit(1_900, 0),
            slow_child.exit(3_300, 0),
            slow.exit(3_310, 0),
            root.exit(3_320, 0),
        ] {
            model.apply(&e);
        }
        let chain = critical_path(&model, root.key());
        assert_eq!(keys(&chain), [100, 102, 103]);
        assert_eq!(chain[2].run_ns(0), 2_000 * MS);
        assert!(critical_path(&model, p(999, 1, 10).key()).is_empty());
    }

    #[test]
    fn orphans_that_outlive_the_parent_and_a_running_root_are_handled() {
        let mut model = Model::default();
        model.seed(&[INIT.info("init", &["init"])]);
        let root = p(200, 1, 1_000);
        let waited = p(201, 200, 1_100);
        let orphan = p(202, 200, 1_200);
        for e in [
            root.fork(),
            waited.fork(),
            orphan.fork(),
            waited.exit(1_500, 0),
        ] {
            model.apply(&e);
        }
        // Running: the children ended so far.
        assert_eq!(keys(&critical_path(&model, root.key())), [200, 201]);
        model.apply(&root.exit(1_600, 0));
        // Outlived its parent, re-parented to init: not waited on.
        model.apply(&orphan.under(1).exit(5_000, 0));
        assert_eq!(keys(&critical_path(&model, root.key())), [200, 201]);
    }
}
