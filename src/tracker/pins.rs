//! Pins: watched subtrees of the process tree (kmonitor's `monitor_pid`). A [`Pin`] keeps
//! its own set of members, its own event mask and its own bounded event log; headless
//! `watch`, relay rules that match a subtree, and the UI's pins all use it.
//!
//! Membership:
//! - The members are the root, its descendants when the pin is made, and every process a
//!   member forks afterwards: children born later are in it without asking.
//! - A member leaves when it exits ([`Membership::Exited`] says when, so a view can keep
//!   showing it while the model lingers it), or when it is re-parented out of the subtree:
//!   handed to a process outside the pin that is not pid 1, i.e. a subreaper outside it.
//!   Its live descendants leave with it. The root never leaves that way: it is the top of
//!   the subtree whoever its parent is.
//! - An orphan adopted by pid 1 stays a member: so a pin outlives its root (the children
//!   stay watched), and a build's orphaned compilers stay in the watch. An orphan adopted by
//!   a subreaper inside the pin stays too.
//! - The model first gives orphans to pid 1 and corrects that when an event shows a
//!   subreaper ([`Applied::moved`]): the pin follows, so a member whose correction names a
//!   subreaper outside leaves then, and a process corrected to a parent inside joins (the
//!   kernel gives orphans only to ancestors, so it was a descendant all along).
//! - Identity is the [`ProcessKey`]: a pid reused by another process is another process.
//!
//! A pin is a [`Follower`]: it updates from what [`Model::apply`] (or [`Model::reconcile`])
//! reports it changed, never by scanning the tree, so each event costs a few hash lookups
//! whatever the machine's size. The [`Tracker`](super::Tracker), or the relay rule that
//! holds the pin, tells it each change after the model made it.

mod totals;

use std::collections::VecDeque;

use anyhow::{Result, anyhow, bail};

use super::{
    Change, Follower, Outcome,
    model::{Applied, Model},
};
use crate::{
    event::{Event, KeyMap, Kind, KindSet, ProcessKey},
    source::Subtree,
};
use totals::Ended;
pub use totals::{Ending, PinTotals, TotalsJson};

/// Events kept in a pin's log by default; the oldest make room.
pub const DEFAULT_LOG_LEN: usize = 1_000;
/// Bytes a pin's log may hold ([`Event::byte_size`]); the oldest make room: 1,000
/// ordinary events fit, or 80 with argv and file name at their caps.
pub const LOG_BYTES: usize = 1 << 20;
/// Exited members a pin remembers at most (the oldest are forgotten), so that a pin on a
/// build that runs for hours stays small.
pub const EXITED_KEPT: usize = 10_000;

/// How a process belongs to a pin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Membership {
    Alive,
    /// It was a member when it exited, at `ts_ns` (CLOCK_BOOTTIME).
    Exited {
        ts_ns: u64,
    },
}

/// How many processes a pin has held.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PinCounts {
    /// Members alive now.
    pub alive: usize,
    /// Processes that joined after the pin was made (born into it, or moved into it).
    pub joined: u64,
    /// Members that exited (including processes first seen by their exit).
    pub exited: u64,
    /// Members re-parented out of the subtree.
    pub left: u64,
}

/// A watched subtree. See the module documentation for who is a member.
#[derive(Clone, Debug)]
pub struct Pin {
    root: ProcessKey,
    mask: KindSet,
    members: KeyMap<ProcessKey, Membership>,
    /// By pid: the newest member with that pid, to find the parent named by an event that
    /// arrives after its parent's exit (backends other than eBPF can reorder).
    by_pid: KeyMap<u32, ProcessKey>,
    /// Exited members in exit order, to forget the oldest past [`EXITED_KEPT`].
    exited: VecDeque<ProcessKey>,
    counts: PinCounts,
    /// What the members that ended since the pin was made cost.
    ended: Ended,
    log: VecDeque<Event>,
    log_len: usize,
    log_bytes: usize,
    log_omitted: u64,
}

/// The live process with this pid in the model, as a pin's root: `--pin PID`, `watch PID`.
/// An unknown pid is a one-line error naming it.
pub fn live_root(model: &Model, pid: u32) -> Result<ProcessKey> {
    model
        .current(pid)
        .ok_or_else(|| anyhow!("no process with pid {pid}"))
}

impl Pin {
    /// Pins `root`'s subtree as the model holds it now, with every kind in the mask. The
    /// root must be in the model's tree (alive, or exited and still lingering).
    pub fn new(model: &Model, root: ProcessKey) -> Result<Self> {
        if !model.in_tree(root) {
            bail!("process {} is not in the process tree", root.pid);
        }
        let mut pin = Self {
            root,
            mask: KindSet::ALL,
            members: KeyMap::default(),
            by_pid: KeyMap::default(),
            exited: VecDeque::new(),
            counts: PinCounts::default(),
            ended: Ended::default(),
            log: VecDeque::new(),
            log_len: DEFAULT_LOG_LEN,
            log_bytes: 0,
            log_omitted: 0,
        };
        pin.join_subtree(model, root);
        // Counted from now on: the processes it starts with did not join, nor exit, since.
        pin.counts = PinCounts {
            alive: pin.counts.alive,
            ..PinCounts::default()
        };
        pin.ended = Ended::default();
        Ok(pin)
    }

    pub fn root(&self) -> ProcessKey {
        self.root
    }

    /// The kinds of event the pin logs and reports. Loss reports always pass.
    pub fn mask(&self) -> KindSet {
        self.mask
    }

    pub fn set_mask(&mut self, mask: KindSet) {
        self.mask = mask;
    }

    /// Keeps at most `len` events in the log (0: none, for callers that print them).
    pub fn set_log_len(&mut self, len: usize) {
        self.log_len = len;
        self.trim_log();
    }

    /// The pin's events that passed its mask, oldest first.
    pub fn log(&self) -> impl ExactSizeIterator<Item = &Event> + DoubleEndedIterator {
        self.log.iter()
    }

    /// Events that passed the mask but were dropped from the log to keep it within its
    /// length and [`LOG_BYTES`].
    pub fn log_omitted(&self) -> u64 {
        self.log_omitted
    }

    pub fn counts(&self) -> PinCounts {
        self.counts
    }

    /// What its members cost: those that ended since it was made as they ended, the live
    /// ones as the model's latest samples of them tell.
    pub fn totals(&self, model: &Model) -> PinTotals {
        let alive = self
            .members
            .iter()
            .filter(|(_, m)| **m == Membership::Alive)
            .map(|(&key, _)| key);
        PinTotals::new(&self.ended, model, alive)
    }

    /// Members alive now.
    pub fn alive(&self) -> usize {
        self.counts.alive
    }

    /// No live member is left: nothing more can happen in the subtree.
    pub fn is_empty(&self) -> bool {
        self.counts.alive == 0
    }

    /// Whether and how `key` belongs to the pin; `None` for processes outside it, those
    /// that left it, and exited members forgotten past [`EXITED_KEPT`].
    pub fn membership(&self, key: ProcessKey) -> Option<Membership> {
        self.members.get(&key).copied()
    }

    /// Whether `key` is a live member.
    pub fn contains(&self, key: ProcessKey) -> bool {
        self.membership(key) == Some(Membership::Alive)
    }

    /// Every member it knows of: alive, and exited (the last [`EXITED_KEPT`]), in no
    /// particular order. What a view of the pinned subtree shows.
    pub fn known(&self) -> impl Iterator<Item = ProcessKey> + '_ {
        self.members.keys().copied()
    }

    /// The subtree as a source is asked to follow it ([`Feed::follow_only`]): its root and
    /// live members.
    ///
    /// [`Feed::follow_only`]: crate::source::Feed::follow_only
    pub fn subtree(&self) -> Subtree {
        Subtree {
            root: self.root,
            members: self
                .members
                .iter()
                .filter(|(_, m)| **m == Membership::Alive)
                .map(|(&key, _)| key)
                .collect(),
        }
    }

    /// Updates the members from an event the model has just applied and says whether the
    /// event concerns the pin and passes its mask; if so it is in the log. An event
    /// concerns the pin when its process is a member (a fork's process is the child: a fork
    /// concerns the pin when the child is born into it), and loss reports concern every
    /// pin: they may have hidden its events.
    fn take_in(&mut self, model: &Model, event: &Event, applied: &Applied) -> bool {
        let concerns = match event.kind {
            Kind::Lost { .. } => true,
            _ => {
                self.update(model, applied, Some(event.ppid));
                applied
                    .key
                    .is_some_and(|key| self.members.contains_key(&key))
            }
        };
        let passes =
            matches!(event.kind, Kind::Lost { .. }) || self.mask.contains(event.kind_name());
        if !(concerns && passes) {
            return false;
        }
        if self.log_len > 0 {
            let mut event = event.clone();
            // A replayed exec can carry more than any live source gives.
            event.cap();
            self.log_bytes += event.byte_size();
            self.log.push_back(event);
            self.trim_log();
        } else {
            self.log_omitted += 1;
        }
        true
    }

    /// `reported_ppid`: the parent the event named, which may have exited before the model
    /// saw the child.
    fn update(&mut self, model: &Model, applied: &Applied, reported_ppid: Option<u32>) {
        let Some(key) = applied.key else {
            return;
        };
        if applied.started
            && !self.members.contains_key(&key)
            && self.born_inside(model, key, reported_ppid)
        {
            self.ended.started += 1;
            self.join_subtree(model, key);
        }
        if let Some(moved) = &applied.moved {
            if self.contains(key) {
                if !self.keeps(moved.to) && key != self.root {
                    self.leave_subtree(model, key);
                }
            } else if moved.to.is_some_and(|to| self.contains(to)) {
                self.join_subtree(model, key);
            }
        }
        if applied.exited && self.contains(key) {
            self.mark_exited(model, key);
        }
        if let Some(orphans) = &applied.orphans {
            let kept = self.keeps(orphans.to);
            let inside = orphans.to.is_some_and(|to| self.contains(to));
            for &child in &orphans.children {
                if self.contains(child) {
                    if !kept && child != self.root {
                        self.leave_subtree(model, child);
                    }
                } else if inside {
                    self.join_subtree(model, child);
                }
            }
        }
    }

    /// Whether a member re-parented to `to` stays: `to` is a live member, or pid 1 (`None`:
    /// the top of the tree, where pid 1 is not known).
    fn keeps(&self, to: Option<ProcessKey>) -> bool {
        to.is_none_or(|to| to.pid == 1 || self.contains(to))
    }

    /// Whether a process the model has just learned of was born to a member.
    fn born_inside(&self, model: &Model, key: ProcessKey, reported_ppid: Option<u32>) -> bool {
        match model.parent(key) {
            Some(parent) if self.members.contains_key(&parent.key) => true,
            // Under another process: born there, or handed to a subreaper outside.
            Some(parent) if parent.key.pid != 1 => false,
            // Under pid 1: the parent the event named may be a member that exited before
            // the model saw the child, which the kernel then gave to pid 1.
            _ => reported_ppid.is_some_and(|ppid| {
                ppid != 1
                    && self
                        .by_pid
                        .get(&ppid)
                        .is_some_and(|parent| parent.start_ticks <= key.start_ticks)
            }),
        }
    }

    /// Adds `key` and its descendants in the model.
    fn join_subtree(&mut self, model: &Model, key: ProcessKey) {
        // Usually a process just born, without children: no walk.
        if model.children(key).next().is_none() {
            if !self.members.contains_key(&key) {
                let exit = model.get(key).and_then(|p| p.exit).map(|e| e.ts_ns);
                self.join(model, key, exit);
            }
            return;
        }
        let joining: Vec<(ProcessKey, Option<u64>)> = model
            .subtree(key)
            .filter(|p| !self.members.contains_key(&p.key))
            .map(|p| (p.key, p.exit.map(|e| e.ts_ns)))
            .collect();
        for (key, exit) in joining {
            self.join(model, key, exit);
        }
    }

    /// Adds one process, alive or exited at `exit`.
    fn join(&mut self, model: &Model, key: ProcessKey, exit: Option<u64>) {
        self.counts.joined += 1;
        let newest = self.by_pid.entry(key.pid).or_insert(key);
        if newest.start_ticks <= key.start_ticks {
            *newest = key;
        }
        match exit {
            None => {
                self.members.insert(key, Membership::Alive);
                self.counts.alive += 1;
            }
            Some(ts_ns) => {
                self.counts.exited += 1;
                self.ended.add(model.get(key));
                self.remember_exited(key, ts_ns);
            }
        }
    }

    /// Removes `key` and its live descendants; exited ones stay members that exited.
    fn leave_subtree(&mut self, model: &Model, key: ProcessKey) {
        let leaving: Vec<ProcessKey> = model
            .subtree(key)
            .map(|p| p.key)
            .filter(|&k| self.contains(k))
            .collect();
        for key in leaving {
            self.members.remove(&key);
            self.forget_pid(key);
            self.counts.alive -= 1;
            self.counts.left += 1;
        }
    }

    fn mark_exited(&mut self, model: &Model, key: ProcessKey) {
        let ts_ns = model
            .get(key)
            .and_then(|p| p.exit)
            .map_or(model.now_ns(), |e| e.ts_ns);
        self.counts.alive -= 1;
        self.counts.exited += 1;
        self.ended.add(model.get(key));
        self.remember_exited(key, ts_ns);
    }

    fn remember_exited(&mut self, key: ProcessKey, ts_ns: u64) {
        self.members.insert(key, Membership::Exited { ts_ns });
        self.exited.push_back(key);
        while self.exited.len() > EXITED_KEPT {
            if let Some(old) = self.exited.pop_front() {
                self.members.remove(&old);
                self.forget_pid(old);
            }
        }
    }

    fn forget_pid(&mut self, key: ProcessKey) {
        if self.by_pid.get(&key.pid) == Some(&key) {
            self.by_pid.remove(&key.pid);
        }
    }

    fn trim_log(&mut self) {
        while self.log.len() > self.log_len || self.log_bytes > LOG_BYTES {
            let Some(old) = self.log.pop_front() else {
                break;
            };
            self.log_bytes -= old.byte_size();
            self.log_omitted += 1;
        }
    }
}

impl Follower for Pin {
    /// With its event, see `take_in`; a change without one (a re-sync's) only updates the
    /// members.
    fn follow(&mut self, change: &Change<'_>, _: &mut Outcome) -> bool {
        match change.event {
            Some(event) => self.take_in(change.model, event, change.applied),
            None => {
                self.update(change.model, change.applied, None);
                false
            }
        }
    }
}

/// Every pin, in the order they were made; each is named by its root.
#[derive(Clone, Debug, Default)]
pub struct Pins {
    pins: Vec<Pin>,
}

impl Pins {
    /// Pins `root`'s subtree; if it is pinned already, that pin.
    pub fn add(&mut self, model: &Model, root: ProcessKey) -> Result<&mut Pin> {
        let at = match self.position(root) {
            Some(at) => at,
            None => {
                self.pins.push(Pin::new(model, root)?);
                self.pins.len() - 1
            }
        };
        Ok(&mut self.pins[at])
    }

    /// `--pin PID`: pins the subtree of the live process with this pid. An unknown pid is
    /// a one-line error naming it.
    pub fn add_pid(&mut self, model: &Model, pid: u32) -> Result<&mut Pin> {
        let root = live_root(model, pid).map_err(|e| anyhow!("cannot pin: {e}"))?;
        self.add(model, root)
    }

    pub fn remove(&mut self, root: ProcessKey) -> Option<Pin> {
        self.position(root).map(|at| self.pins.remove(at))
    }

    /// Pins `root`'s subtree, or unpins it if it is pinned; true if it is pinned now.
    pub fn toggle(&mut self, model: &Model, root: ProcessKey) -> Result<bool> {
        if self.remove(root).is_some() {
            return Ok(false);
        }
        self.add(model, root).map(|_| true)
    }

    pub fn get(&self, root: ProcessKey) -> Option<&Pin> {
        self.pins.iter().find(|p| p.root == root)
    }

    pub fn get_mut(&mut self, root: ProcessKey) -> Option<&mut Pin> {
        self.pins.iter_mut().find(|p| p.root == root)
    }

    pub fn list(&self) -> &[Pin] {
        &self.pins
    }

    pub fn len(&self) -> usize {
        self.pins.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pins.is_empty()
    }

    /// Every pin's subtree, as a source is asked to follow them.
    pub fn subtrees(&self) -> Vec<Subtree> {
        self.pins.iter().map(Pin::subtree).collect()
    }

    fn position(&self, root: ProcessKey) -> Option<usize> {
        self.pins.iter().position(|p| p.root == root)
    }
}

/// Every pin follows; true if the event is in any pin's log.
impl Follower for Pins {
    fn follow(&mut self, change: &Change<'_>, out: &mut Outcome) -> bool {
        let mut any = false;
        // Every pin, not only up to the first that takes it: each keeps its own members.
        for pin in &mut self.pins {
            any |= pin.follow(change, out);
        }
        any
    }
}

#[cfg(test)]
mod tests;
