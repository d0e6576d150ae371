//! The tree in display order, as the rows a renderer draws.

use std::{
    collections::{HashSet, VecDeque},
    hash::BuildHasherDefault,
    sync::Arc,
};

use super::{KeyHasher, Model, NONE, ProcessKey, Search, Slot};

/// What the tree shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TreeOptions {
    /// Show kernel threads. Hidden ones leave their user-space descendants (helpers the
    /// kernel started) in their place.
    pub kernel_threads: bool,
    /// Processes whose children are not shown.
    pub folded: HashSet<ProcessKey>,
    /// Show only processes whose name or argv contains this (ignoring case), and their
    /// ancestors.
    pub filter: Option<String>,
    /// Show only these processes (those that also match the filter, if there is one), and
    /// their ancestors.
    pub only: Option<Only>,
}

/// A set of processes a view is restricted to, e.g. the members of pinned subtrees.
/// Compared by identity, so the rows cache checks it at no cost however large it is: a
/// changed set is a new `Only`.
#[derive(Clone, Debug, Default)]
pub struct Only(Arc<HashSet<ProcessKey, BuildHasherDefault<KeyHasher>>>);

impl Only {
    pub fn new(keys: impl IntoIterator<Item = ProcessKey>) -> Self {
        Self(Arc::new(keys.into_iter().collect()))
    }

    pub fn contains(&self, key: ProcessKey) -> bool {
        self.0.contains(&key)
    }
}

impl PartialEq for Only {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Only {}

/// One line of the tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    pub key: ProcessKey,
    pub depth: u16,
    /// The last of its parent's shown children: `└─` rather than `├─`.
    pub last: bool,
    /// It has children to show (below it, unless folded).
    pub has_children: bool,
    pub folded: bool,
    /// It matches the filter and is in the [`Only`] set itself, rather than being shown as
    /// an ancestor of one that does. Always true without either.
    pub matched: bool,
    /// Bit `d`: the ancestor at depth `d` has siblings below, so a guide line passes.
    guides: u64,
}

impl Row {
    /// Whether a guide line (`│`) passes through column `level` of this row, for levels
    /// left of its own connector (`level < depth`). Levels from 64 on have none.
    pub fn guide(&self, level: u16) -> bool {
        level < self.depth && level < 64 && self.guides & (1 << level) != 0
    }
}

/// The visible rows, rebuilt only when the model or the options change. Each view (the
/// main tree, a pinned-only view...) keeps its own.
#[derive(Debug, Default)]
pub struct TreeView {
    rows: Vec<Row>,
    /// Model id, model generation and options the rows were built for.
    built_for: Option<(u64, u64, TreeOptions)>,
    /// By slot: [`FOUND`], [`MATCHED`] and [`KEPT`].
    flags: Vec<u8>,
    /// What [`FOUND`] was computed for: model id, filter, kernel threads shown, generation.
    /// With the same filter, only processes changed since are matched again.
    matched_for: Option<(u64, String, bool, u64)>,
    /// Scratch space kept between rebuilds, so a rebuild does not allocate.
    stack: Vec<Frame>,
    kids: Vec<Slot>,
}

#[derive(Debug)]
struct Frame {
    slot: Slot,
    depth: u16,
    last: bool,
    guides: u64,
}

/// It matches the filter.
const FOUND: u8 = 1;
/// It matches the filter and the [`Only`] set (those there are).
const MATCHED: u8 = 2;
/// It is shown: matched, or an ancestor of a process that is.
const KEPT: u8 = 4;

impl TreeView {
    pub fn new() -> Self {
        Self::default()
    }

    /// The rows of `model`'s tree as `options` shows it, in display order: parents before
    /// children, siblings by start time, then pid.
    pub fn rows(&mut self, model: &Model, options: &TreeOptions) -> &[Row] {
        let current = self
            .built_for
            .as_ref()
            .is_some_and(|(id, generation, built)| {
                *id == model.id && *generation == model.generation && built == options
            });
        if !current {
            self.rebuild(model, options);
            self.built_for = Some((model.id, model.generation, options.clone()));
        }
        &self.rows
    }

    /// The rows last built by [`TreeView::rows`].
    pub fn current(&self) -> &[Row] {
        &self.rows
    }

    /// Where a process is among the rows last built.
    pub fn position(&self, key: ProcessKey) -> Option<usize> {
        self.rows.iter().position(|r| r.key == key)
    }

    fn rebuild(&mut self, model: &Model, options: &TreeOptions) {
        self.rows.clear();
        let hidden = |slot: Slot| !options.kernel_threads && model.node(slot).process.kernel_thread;
        let restricted = options.filter.is_some() || options.only.is_some();
        if restricted {
            self.mark(model, options, &hidden);
        }
        let flags = &self.flags;
        let shown = |slot: Slot| !restricted || flags[slot as usize] & KEPT != 0;

        self.kids.clear();
        push_visible(model, &model.roots, &shown, &hidden, &mut self.kids);
        push_frames(&mut self.stack, &self.kids, 0, 0);
        while let Some(frame) = self.stack.pop() {
            let node = model.node(frame.slot);
            self.kids.clear();
            push_visible(model, &node.children, &shown, &hidden, &mut self.kids);
            let has_children = !self.kids.is_empty();
            let folded = has_children
                && !options.folded.is_empty()
                && options.folded.contains(&node.process.key);
            self.rows.push(Row {
                key: node.process.key,
                depth: frame.depth,
                last: frame.last,
                has_children,
                folded,
                matched: !restricted || flags[frame.slot as usize] & MATCHED != 0,
                guides: frame.guides,
            });
            if has_children && !folded {
                let mut guides = frame.guides;
                if !frame.last && frame.depth < 64 {
                    guides |= 1 << frame.depth;
                }
                push_frames(
                    &mut self.stack,
                    &self.kids,
                    frame.depth.saturating_add(1),
                    guides,
                );
            }
        }
    }

    /// Flags every process in the tree that matches the filter and is in the `only` set,
    /// and keeps it and its ancestors.
    fn mark(&mut self, model: &Model, options: &TreeOptions, hidden: &impl Fn(Slot) -> bool) {
        self.flags.resize(model.nodes.len(), 0);
        if let Some(text) = &options.filter {
            self.find(model, text, options.kernel_threads, hidden);
        }
        let filter = options.filter.is_some();
        for (slot, node) in model.nodes.iter().enumerate() {
            let flags = &mut self.flags[slot];
            let matched = node.as_ref().is_some_and(|node| {
                node.in_tree
                    && !hidden(slot as Slot)
                    && (!filter || *flags & FOUND != 0)
                    && options
                        .only
                        .as_ref()
                        .is_none_or(|only| only.contains(node.process.key))
            });
            *flags = (*flags & FOUND) | if matched { MATCHED } else { 0 };
        }
        for slot in 0..self.flags.len() {
            if self.flags[slot] & MATCHED == 0 {
                continue;
            }
            let mut up = slot as Slot;
            while up != NONE && self.flags[up as usize] & KEPT == 0 {
                self.flags[up as usize] |= KEPT;
                up = model.node(up).parent;
            }
        }
    }

    /// Flags every process in the tree that matches `text` as [`FOUND`]; with the same
    /// text as last time, only the processes changed since are matched again.
    fn find(
        &mut self,
        model: &Model,
        text: &str,
        kernel_threads: bool,
        hidden: &impl Fn(Slot) -> bool,
    ) {
        let since = match &self.matched_for {
            Some((id, filter, shown, generation))
                if *id == model.id && filter == text && *shown == kernel_threads =>
            {
                Some(*generation)
            }
            _ => None,
        };
        let search = Search::new(text);
        for (slot, node) in model.nodes.iter().enumerate() {
            if since.is_none_or(|since| model.touched[slot] > since) {
                let found = node.as_ref().is_some_and(|node| {
                    node.in_tree && !hidden(slot as Slot) && search.matches(&node.process)
                });
                let flags = &mut self.flags[slot];
                *flags = (*flags & !FOUND) | if found { FOUND } else { 0 };
            }
        }
        match &mut self.matched_for {
            Some((_, _, _, generation)) if since.is_some() => *generation = model.generation,
            _ => {
                self.matched_for =
                    Some((model.id, text.to_owned(), kernel_threads, model.generation))
            }
        }
    }
}

/// Appends the children among `kids` that are shown, putting the shown descendants of
/// hidden ones in their place.
fn push_visible(
    model: &Model,
    kids: &VecDeque<Slot>,
    shown: &impl Fn(Slot) -> bool,
    hidden: &impl Fn(Slot) -> bool,
    out: &mut Vec<Slot>,
) {
    for &kid in kids {
        if !shown(kid) {
            continue;
        }
        if hidden(kid) {
            push_visible(model, &model.node(kid).children, shown, hidden, out);
        } else {
            out.push(kid);
        }
    }
}

/// Pushes `kids` so that the first is popped first.
fn push_frames(stack: &mut Vec<Frame>, kids: &[Slot], depth: u16, guides: u64) {
    for (i, &slot) in kids.iter().enumerate().rev() {
        stack.push(Frame {
            slot,
            depth,
            last: i + 1 == kids.len(),
            guides,
        });
    }
}
