//! The timeline's rows: the processes of one subtree in tree order, each with when it
//! started and how it ended, and when any of them ran. Built from the model only when it
//! changed (its id or generation), never while drawing. Processes that leave the tree
//! (their linger over) stay here where they were, so a build's finished steps remain; at
//! most [`MAX_GONE`] of them, the earliest to exit going first. Those that left unseen
//! are looked for in the model's history when it has new ones (see `order`).

use std::{collections::HashSet, hash::BuildHasherDefault};

use crate::{
    event::{KeyHasher, KeyMap, ProcessKey},
    tracker::{
        critical_path::critical_path_among,
        model::{Exit, Model, Process, Slot},
    },
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
    /// Its parent in the subtree (none for the root).
    pub parent: Option<ProcessKey>,
    pub start_ns: u64,
    pub exit: Option<Exit>,
    /// Its command line as the tree shows it (escaped), kept once it left the tree.
    pub gone: Option<String>,
}

impl Member {
    pub(super) fn of(process: &Process, depth: u16, parent: Option<ProcessKey>) -> Self {
        Self {
            key: process.key,
            depth,
            parent,
            start_ns: process.start_ns,
            exit: process.exit,
            gone: None,
        }
    }

    /// It as a process that left the tree: its command line kept.
    pub(super) fn left(self, process: &Process) -> Self {
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
    /// The newest process of the model's history when they were: the history was looked
    /// through up to it.
    newest_left: Option<ProcessKey>,
    rows: Vec<Member>,
    /// When at least one member ran: start, end (`u64::MAX`: still running), sorted and
    /// disjoint.
    busy: Vec<(u64, u64)>,
    /// The critical path of the subtree, once its root has ended (before, the chain of
    /// what ended so far would only mislead).
    critical: HashSet<ProcessKey>,
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
        // Another model (a replay that went back): what was kept is of another time.
        if self.built.is_some_and(|(id, _)| id != model.id()) {
            self.rows.clear();
            self.newest_left = None;
        }
        self.built = Some(now);
        let fresh = self.root.map(|root| walk(model, root)).unwrap_or_default();
        self.rows = merge(std::mem::take(&mut self.rows), fresh, model);
        // Those that left the tree unseen (before it was opened, or between two frames
        // when many exit at once): found in the model's history.
        let newest_left = model.left_tree().next_back().map(|p| p.key);
        if newest_left != self.newest_left
            && let Some(root) = self.root
        {
            self.newest_left = newest_left;
            super::order::add_left(model, root, &mut self.rows);
        }
        self.busy = busy(&self.rows);
        let ended_root = self
            .root
            .and_then(|root| model.get(root))
            .filter(|r| !r.is_alive());
        self.critical = ended_root
            .map(|root| {
                let members = self.rows.iter().filter_map(|m| model.get(m.key));
                critical_path_among(root, members)
                    .iter()
                    .map(|l| l.key)
                    .collect()
            })
            .unwrap_or_default();
    }

    /// Whether `key` is on the subtree's critical path.
    pub fn is_critical(&self, key: ProcessKey) -> bool {
        self.critical.contains(&key)
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
    let mut stack: Vec<(Slot, u16, Option<ProcessKey>)> = slot_of(model, root)
        .map(|s| (s, 0, None))
        .into_iter()
        .collect();
    while let Some((slot, depth, parent)) = stack.pop() {
        let process = model.process_at(slot);
        rows.push(Member::of(process, depth, parent));
        let children = model.child_slots(slot).iter().rev();
        let under = (depth.saturating_add(1), Some(process.key));
        stack.extend(children.map(|&child| (child, under.0, under.1)));
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
    fn those_that_left_the_tree_between_two_refreshes_are_found_in_the_history() {
        let config = Config {
            linger_ns: 1_000_000_000,
            ..Config::default()
        };
        let mut model = Model::new(config);
        let make = p(100, 1, 1_000);
        let ld = p(105, 100, 9_000);
        for e in [make.fork(), ld.fork()] {
            model.apply(&e);
        }
        let mut members = Members::default();
        members.follow(Some(make.key()));
        members.refresh(&model);
        // Unseen: cc and its child as, started before ld, exited and gone from the tree.
        let cc = p(101, 100, 2_000);
        let r#as = p(102, 101, 2_500);
        let outsider = p(103, 1, 2_600);
        for e in [cc.fork(), r#as.fork(), outsider.fork()] {
            model.apply(&e);
        }
        model.apply(&r#as.exit(3_000, 0));
        model.apply(&cc.exit(3_500, 1));
        model.apply(&outsider.exit(3_600, 0));
        model.tick(12_000_000_000);
        assert!(!model.in_tree(cc.key()) && !model.in_tree(r#as.key()));
        members.refresh(&model);
        assert_eq!(
            keys(&members),
            [
                (100, 0, false),
                (101, 1, true),
                (102, 2, true),
                (105, 1, false)
            ]
        );
    }

    #[test]
    fn idle_gaps_are_where_no_member_runs() {
        let row = |start_ns, end_ns| Member {
            key: ProcessKey::new(1, start_ns),
            depth: 0,
            parent: None,
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
