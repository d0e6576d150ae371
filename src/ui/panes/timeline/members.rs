//! The timeline's rows: the processes of one subtree in tree order, each with when it
//! started and how it ended, and when any of them ran. Built from the model only when it
//! changed (its id or generation), never while drawing. Processes that leave the tree
//! (their linger over) stay here where they were, so a build's finished steps remain; at
//! most [`MAX_GONE`] of them, the earliest to exit going first.

use std::{collections::HashSet, hash::BuildHasherDefault};

use crate::{
    event::{KeyHasher, KeyMap, ProcessKey},
    tracker::model::{Exit, Model, Process, Slot},
    ui::panes::tree::command,
};

/// Processes kept after they left the tree, at most: the memory bound.
pub const MAX_GONE: usize = 20_000;
/// What a row keeps of a command line that may be gone from the model.
const LABEL_BYTES: usize = 200;

/// One row: a process of the subtree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub key: ProcessKey,
    /// Below the subtree's root (which is at 0).
    pub depth: u16,
    pub start_ns: u64,
    pub exit: Option<Exit>,
    /// Its command line as the tree shows it (escaped), kept once it left the tree.
    pub gone: Option<String>,
}

impl Member {
    fn of(process: &Process, depth: u16) -> Self {
        Self {
            key: process.key,
            depth,
            start_ns: process.start_ns,
            exit: process.exit,
            gone: None,
        }
    }

    /// It as a process that left the tree: its command line kept.
    fn left(self, process: &Process) -> Self {
        let mut label = command(process);
        label.truncate(label.floor_char_boundary(LABEL_BYTES));
        Self {
            exit: process.exit,
            gone: Some(label),
            ..self
        }
    }

    /// When it stopped running; `None`: it runs.
    pub fn end_ns(&self) -> Option<u64> {
        self.exit.map(|e| e.ts_ns.max(self.start_ns))
    }
}

/// The rows of one subtree, and when any of them ran.
#[derive(Debug, Default)]
pub struct Members {
    root: Option<ProcessKey>,
    /// The model (id, generation) the rows were built from.
    built: Option<(u64, u64)>,
    rows: Vec<Member>,
    /// When at least one member ran: start, end (`u64::MAX`: still running), sorted and
    /// disjoint.
    busy: Vec<(u64, u64)>,
}

impl Members {
    /// Follows the subtree of `root` from now on, forgetting the one before.
    pub fn follow(&mut self, root: Option<ProcessKey>) {
        *self = Self {
            root,
            ..Self::default()
        };
    }

    pub fn root(&self) -> Option<ProcessKey> {
        self.root
    }

    pub fn rows(&self) -> &[Member] {
        &self.rows
    }

    /// Brings the rows up to date with `model`, if it changed since they were built.
    pub fn refresh(&mut self, model: &Model) {
        let now = (model.id(), model.generation());
        if self.built == Some(now) {
            return;
        }
        // The first time for this model (another one: a replay that went back, and what
        // was kept is of another time), with those that had left the tree already.
        let first = self.built.is_none_or(|(id, _)| id != model.id());
        if first {
            self.rows.clear();
        }
        self.built = Some(now);
        let mut fresh = self.root.map(|root| walk(model, root)).unwrap_or_default();
        if first && let Some(root) = self.root {
            fresh = with_history(model, root, fresh);
        }
        self.rows = merge(std::mem::take(&mut self.rows), fresh, model);
        self.busy = busy(&self.rows);
    }

    /// Whether a member runs at some time in `from..to`.
    pub fn busy_within(&self, from: u64, to: u64) -> bool {
        // The first run that ends after `from`: busy if it starts before `to`.
        let at = self.busy.partition_point(|&(_, end)| end <= from);
        self.busy.get(at).is_some_and(|&(start, _)| start < to)
    }

    /// The earliest start among the rows.
    pub fn first_start(&self) -> Option<u64> {
        self.busy.first().map(|&(start, _)| start)
    }
}

/// The subtree of `root` in the model's tree, in display order, with depths: read by
/// slot, without a lookup per process.
fn walk(model: &Model, root: ProcessKey) -> Vec<Member> {
    let mut rows = Vec::new();
    let mut stack: Vec<(Slot, u16)> = slot_of(model, root).map(|s| (s, 0)).into_iter().collect();
    while let Some((slot, depth)) = stack.pop() {
        rows.push(Member::of(model.process_at(slot), depth));
        let children = model.child_slots(slot).iter().rev();
        stack.extend(children.map(|&child| (child, depth.saturating_add(1))));
    }
    rows
}

/// Where `key` is in the model's tree: found down its ancestry from the top.
fn slot_of(model: &Model, key: ProcessKey) -> Option<Slot> {
    if !model.in_tree(key) {
        return None;
    }
    let ancestry = model.ancestry(key);
    let line = ancestry.iter().rev().map(|p| p.key).chain([key]);
    let mut kids = model.top_slots();
    let mut found = None;
    for key in line {
        let slot = *kids.iter().find(|&&s| model.process_at(s).key == key)?;
        kids = model.child_slots(slot);
        found = Some(slot);
    }
    found
}

/// `fresh` (the subtree of `root` in the tree) with the processes of the model's history
/// that were in it, each under the parent it had, among its siblings by start time.
fn with_history(model: &Model, root: ProcessKey, fresh: Vec<Member>) -> Vec<Member> {
    let gone: Vec<&Process> = model
        .left_tree()
        .filter(|p| p.key != root && model.ancestry(p.key).iter().any(|a| a.key == root))
        .collect();
    if gone.is_empty() {
        return fresh;
    }
    let mut all: Vec<Member> = fresh;
    // The root first, even when it left the tree too.
    if all.is_empty() {
        let Some(process) = model.get(root) else {
            return all;
        };
        all.push(Member::of(process, 0).left(process));
    }
    all.extend(gone.iter().map(|p| Member::of(p, 0).left(p)));
    // Children by parent, in display order: start time, then pid.
    let mut children: KeyMap<ProcessKey, Vec<usize>> = KeyMap::default();
    for (at, member) in all.iter().enumerate().skip(1) {
        if let Some(parent) = model.parent(member.key) {
            children.entry(parent.key).or_default().push(at);
        }
    }
    for kids in children.values_mut() {
        kids.sort_by_key(|&at| (all[at].start_ns, all[at].key.pid));
    }
    let mut order = Vec::with_capacity(all.len());
    let mut stack = vec![(0, 0u16)];
    while let Some((at, depth)) = stack.pop() {
        order.push((at, depth));
        let kids = children.get(&all[at].key).into_iter().flatten().rev();
        stack.extend(kids.map(|&kid| (kid, depth.saturating_add(1))));
    }
    let mut slots: Vec<Option<Member>> = all.into_iter().map(Some).collect();
    order
        .into_iter()
        .filter_map(|(at, depth)| {
            let member = slots[at].take()?;
            Some(Member { depth, ..member })
        })
        .collect()
}

/// The rows of `fresh` (the tree now), with those of `old` that exited and left the tree
/// kept after the row they followed.
fn merge(old: Vec<Member>, fresh: Vec<Member>, model: &Model) -> Vec<Member> {
    if old.is_empty() {
        return fresh;
    }
    let present: HashSet<ProcessKey, BuildHasherDefault<KeyHasher>> =
        fresh.iter().map(|m| m.key).collect();
    let mut after: KeyMap<Option<ProcessKey>, Vec<Member>> = KeyMap::default();
    let mut anchor = None;
    let mut gone = 0;
    for mut member in old {
        if present.contains(&member.key) {
            anchor = Some(member.key);
            continue;
        }
        if member.gone.is_none() {
            // Alive and moved out of the subtree (reparented), or forgotten unseen.
            let Some(process) = model.get(member.key).filter(|p| p.exit.is_some()) else {
                continue;
            };
            member = member.left(process);
        }
        gone += 1;
        after.entry(anchor).or_default().push(member);
    }
    if gone > MAX_GONE {
        forget_earliest(&mut after, gone - MAX_GONE);
    }
    let mut rows = Vec::with_capacity(fresh.len() + gone.min(MAX_GONE));
    rows.extend(after.remove(&None).unwrap_or_default());
    for member in fresh {
        let key = member.key;
        rows.push(member);
        rows.extend(after.remove(&Some(key)).unwrap_or_default());
    }
    rows
}

/// Forgets the `n` kept rows that exited first.
fn forget_earliest(after: &mut KeyMap<Option<ProcessKey>, Vec<Member>>, n: usize) {
    let mut ends: Vec<u64> = after
        .values()
        .flatten()
        .filter_map(Member::end_ns)
        .collect();
    ends.sort_unstable();
    let Some(&cut) = ends.get(n - 1) else {
        return;
    };
    let mut left = n;
    for rows in after.values_mut() {
        rows.retain(|m| {
            let forget = left > 0 && m.end_ns().is_some_and(|e| e <= cut);
            left -= usize::from(forget);
            !forget
        });
    }
}

/// When at least one of `rows` ran, as sorted disjoint runs.
fn busy(rows: &[Member]) -> Vec<(u64, u64)> {
    let mut runs: Vec<(u64, u64)> = rows
        .iter()
        .map(|m| (m.start_ns, m.end_ns().unwrap_or(u64::MAX)))
        .collect();
    runs.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::new();
    for (start, end) in runs {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        event::ExitStatus,
        tracker::model::{Config, testing::p},
    };

    fn keys(members: &Members) -> Vec<(u32, u16, bool)> {
        let rows = members.rows().iter();
        rows.map(|m| (m.key.pid, m.depth, m.gone.is_some()))
            .collect()
    }

    #[test]
    fn rows_are_the_subtree_in_tree_order_and_keep_those_that_left_the_tree() {
        let config = Config {
            linger_ns: 1_000_000_000,
            ..Config::default()
        };
        let mut model = Model::new(config);
        let make = p(100, 1, 1_000);
        let cc = p(101, 100, 2_000);
        let cc1 = p(103, 101, 2_100);
        let ld = p(102, 100, 3_000);
        for e in [make.fork(), cc.fork(), cc1.fork(), ld.fork()] {
            model.apply(&e);
        }
        let mut members = Members::default();
        members.follow(Some(make.key()));
        members.refresh(&model);
        assert_eq!(
            keys(&members),
            [
                (100, 0, false),
                (101, 1, false),
                (103, 2, false),
                (102, 1, false)
            ]
        );
        model.apply(&cc1.exit(2_500, 0));
        model.apply(&cc.exit(2_600, 1));
        members.refresh(&model);
        // Idle nowhere: make runs throughout.
        assert!(members.busy_within(4_000_000_000, 5_000_000_000));
        assert!(!members.busy_within(0, 1_000_000_000));
        model.tick(10_000_000_000);
        assert!(!model.in_tree(cc.key()), "its linger is over");
        members.refresh(&model);
        assert_eq!(
            keys(&members),
            [
                (100, 0, false),
                (101, 1, true),
                (103, 2, true),
                (102, 1, false)
            ]
        );
        let cc_row = &members.rows()[1];
        assert_eq!(cc_row.exit.map(|e| e.status), Some(ExitStatus::Code(1)));
        // Another root: what was kept is forgotten.
        members.follow(Some(ld.key()));
        members.refresh(&model);
        assert_eq!(keys(&members), [(102, 0, false)]);
        // Back on make, those that left the tree are found in the history.
        members.follow(Some(make.key()));
        members.refresh(&model);
        assert_eq!(
            keys(&members),
            [
                (100, 0, false),
                (101, 1, true),
                (103, 2, true),
                (102, 1, false)
            ]
        );
        // And when make left too, from the history alone.
        model.apply(&ld.exit(11_000, 0));
        model.apply(&make.exit(11_500, 0));
        model.tick(20_000_000_000);
        members.follow(Some(make.key()));
        members.refresh(&model);
        assert_eq!(
            keys(&members),
            [
                (100, 0, true),
                (101, 1, true),
                (103, 2, true),
                (102, 1, true)
            ]
        );
    }

    #[test]
    fn those_kept_after_leaving_the_tree_are_bounded_the_earliest_forgotten_first() {
        let config = Config {
            linger_ns: 1_000_000_000,
            ..Config::default()
        };
        let mut model = Model::new(config);
        let root = p(100, 1, 1_000);
        model.apply(&root.fork());
        let mut members = Members::default();
        members.follow(Some(root.key()));
        let children = MAX_GONE as u32 + 500;
        // A thousand a batch, seen in the tree, then gone from it by the next.
        for batch in 0..=children / 1_000 {
            let base = 10_000 + u64::from(batch) * 3_000;
            for i in batch * 1_000..((batch + 1) * 1_000).min(children) {
                let start = base + u64::from(i % 1_000);
                let child = p(1_000 + i, 100, start);
                model.apply(&child.fork());
                model.apply(&child.exit(start + 1, 0));
            }
            members.refresh(&model);
            model.tick((base + 2_500) * 1_000_000);
        }
        members.refresh(&model);
        let rows = members.rows();
        assert_eq!(rows.len(), 1 + MAX_GONE, "the root and the latest to exit");
        assert_eq!(rows[1].key.pid, 1_500, "the first 500 forgotten");
        assert_eq!(rows.last().map(|m| m.key.pid), Some(1_000 + children - 1));
        assert!(rows[1..].iter().all(|m| m.gone.is_some()));
    }

    #[test]
    fn idle_gaps_are_where_no_member_runs() {
        let row = |start_ns, end_ns| Member {
            key: ProcessKey::new(1, start_ns),
            depth: 0,
            start_ns,
            exit: Some(Exit {
                ts_ns: end_ns,
                status: ExitStatus::Code(0),
            }),
            gone: None,
        };
        let members = Members {
            busy: busy(&[row(10, 20), row(15, 30), row(50, 60)]),
            ..Members::default()
        };
        assert_eq!(members.busy, [(10, 30), (50, 60)]);
        assert!(members.busy_within(0, 11));
        assert!(!members.busy_within(30, 50));
        assert!(members.busy_within(30, 51));
        assert!(!members.busy_within(60, 100));
        assert_eq!(members.first_start(), Some(10));
    }
}
