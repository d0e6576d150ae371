//! Processes of the subtree that left the tree without the timeline seeing them (before it
//! was opened, or between two frames when many exit at once), found in the model's history
//! by the parent each had, and put in tree order among the rows.

use std::{collections::HashSet, hash::BuildHasherDefault};

use super::members::Member;
use crate::{
    event::{KeyHasher, KeyMap, ProcessKey},
    tracker::model::Model,
};

/// Looks through the history this many times at most: a child met before its parent (the
/// history is looked through newest first) is taken on the next time.
const MAX_PASSES: usize = 8;

/// Adds to `rows` (the subtree of `root`, in tree order) the processes of the model's
/// history that were in it and are not there yet, each under the parent it had.
pub(super) fn add_left(model: &Model, root: ProcessKey, rows: &mut Vec<Member>) {
    let mut known: HashSet<ProcessKey, BuildHasherDefault<KeyHasher>> =
        rows.iter().map(|m| m.key).collect();
    let mut found = Vec::new();
    if rows.is_empty() {
        // The root itself left the tree.
        let Some(process) = model.get(root) else {
            return;
        };
        found.push(Member::of(process, 0, None).left(process));
        known.insert(root);
    }
    for _ in 0..MAX_PASSES {
        let before = found.len();
        for process in model.left_tree().rev() {
            if known.contains(&process.key) {
                continue;
            }
            let Some(parent) = model.parent(process.key).map(|p| p.key) else {
                continue;
            };
            if known.contains(&parent) {
                known.insert(process.key);
                found.push(Member::of(process, 0, Some(parent)).left(process));
            }
        }
        if found.len() == before {
            break;
        }
    }
    if !found.is_empty() {
        rows.extend(found);
        *rows = in_tree_order(std::mem::take(rows));
    }
}

/// `rows` in tree order: each under its parent, among its siblings by start time (then
/// pid). Those whose parent is not among them stay where they were, at their depth.
fn in_tree_order(rows: Vec<Member>) -> Vec<Member> {
    let at: KeyMap<ProcessKey, usize> = rows.iter().enumerate().map(|(i, m)| (m.key, i)).collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); rows.len()];
    let mut tops = Vec::new();
    for (i, member) in rows.iter().enumerate() {
        match member.parent.and_then(|p| at.get(&p)) {
            Some(&parent) if parent != i => children[parent].push(i),
            _ => tops.push(i),
        }
    }
    for kids in &mut children {
        kids.sort_by_key(|&i| (rows[i].start_ns, rows[i].key.pid));
    }
    let mut stack: Vec<(usize, u16)> = tops.iter().rev().map(|&i| (i, rows[i].depth)).collect();
    let mut slots: Vec<Option<Member>> = rows.into_iter().map(Some).collect();
    let mut ordered = Vec::with_capacity(slots.len());
    while let Some((i, depth)) = stack.pop() {
        let Some(member) = slots[i].take() else {
            continue;
        };
        ordered.push(Member { depth, ..member });
        let under = depth.saturating_add(1);
        stack.extend(children[i].iter().rev().map(|&kid| (kid, under)));
    }
    // Parents that name each other (which a kernel cannot make): kept, at the end.
    ordered.extend(slots.into_iter().flatten());
    ordered
}
