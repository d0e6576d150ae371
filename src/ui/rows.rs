//! The tree in display order, as the rows the tree pane draws: what is shown (kernel
//! threads, folds, the filter, a restriction to pinned subtrees), with the guide lines of
//! each row. Rebuilt only when the model or the options changed, and then re-matching only
//! the processes that changed since.

use std::{
    collections::{HashSet, VecDeque},
    hash::BuildHasherDefault,
    sync::Arc,
};

use super::{search::Search, sort::Sort};
use crate::{
    event::{KeyHasher, ProcessKey, container::PlaceFilter},
    tracker::model::{Model, Slot},
};

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
    /// Show only this user's processes (by real uid), and their ancestors.
    pub user: Option<u32>,
    /// Show only the processes in this container or cgroup (`--container`, `--cgroup`),
    /// and their ancestors.
    pub place: Option<PlaceFilter>,
    /// A flat list instead of the tree, sorted as siblings are: every process shown,
    /// without the ancestors a filter keeps for context.
    pub flat: bool,
    /// The order of siblings (and of the flat list).
    pub sort: Sort,
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

/// The visible rows, rebuilt only when the model or the options change (the pinned-only
/// view is an option: [`TreeOptions::only`]).
#[derive(Debug, Default)]
pub struct TreeView {
    rows: Vec<Row>,
    /// Model id, model generation and options the rows were built for.
    built_for: Option<(u64, u64, TreeOptions)>,
    /// By slot: [`FOUND`], [`MATCHED`] and [`KEPT`].
    flags: Vec<u8>,
    /// What [`FOUND`] was computed for, and the model's generation then. With the same
    /// filter and place, only processes changed since are matched again.
    matched_for: Option<(Matching, u64)>,
    /// Scratch space kept between rebuilds, so a rebuild does not allocate.
    stack: Vec<Frame>,
    kids: Vec<Slot>,
}

/// What makes a process [`FOUND`]: the filter's text and the place (those there are),
/// in one model, with kernel threads shown or not.
#[derive(Debug)]
struct Matching {
    model: u64,
    filter: Option<String>,
    place: Option<PlaceFilter>,
    kernel_threads: bool,
}

impl Matching {
    fn of(model: &Model, options: &TreeOptions) -> Self {
        Self {
            model: model.id(),
            filter: options.filter.clone(),
            place: options.place.clone(),
            kernel_threads: options.kernel_threads,
        }
    }

    /// Compared without a copy: a rebuild does not allocate.
    fn is_for(&self, model: &Model, options: &TreeOptions) -> bool {
        self.model == model.id()
            && self.filter == options.filter
            && self.place == options.place
            && self.kernel_threads == options.kernel_threads
    }
}

#[derive(Debug)]
struct Frame {
    slot: Slot,
    depth: u16,
    last: bool,
    guides: u64,
}

/// It matches the filter and is in the place (those there are).
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
    /// children, siblings in the order of [`TreeOptions::sort`].
    pub fn rows(&mut self, model: &Model, options: &TreeOptions) -> &[Row] {
        let current = self
            .built_for
            .as_ref()
            .is_some_and(|(id, generation, built)| {
                *id == model.id() && *generation == model.generation() && built == options
            });
        if !current {
            self.rebuild(model, options);
            self.built_for = Some((model.id(), model.generation(), options.clone()));
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
        let hidden = |slot: Slot| !options.kernel_threads && model.process_at(slot).kernel_thread;
        let restricted = options.filter.is_some()
            || options.only.is_some()
            || options.user.is_some()
            || options.place.is_some();
        if restricted {
            self.mark(model, options, &hidden);
        }
        if options.flat {
            return self.flat(model, options.sort, restricted, &hidden);
        }
        let flags = &self.flags;
        let shown = |slot: Slot| !restricted || flags[slot as usize] & KEPT != 0;

        self.kids.clear();
        push_visible(model, model.top_slots(), &shown, &hidden, &mut self.kids);
        sort_slots(model, options.sort, &mut self.kids);
        push_frames(&mut self.stack, &self.kids, 0, 0);
        while let Some(frame) = self.stack.pop() {
            let key = model.process_at(frame.slot).key;
            self.kids.clear();
            push_visible(
                model,
                model.child_slots(frame.slot),
                &shown,
                &hidden,
                &mut self.kids,
            );
            sort_slots(model, options.sort, &mut self.kids);
            let has_children = !self.kids.is_empty();
            let folded =
                has_children && !options.folded.is_empty() && options.folded.contains(&key);
            self.rows.push(Row {
                key,
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

    /// The flat list: every process shown that matches (all without a restriction), in
    /// the order of `sort`, without indentation.
    fn flat(
        &mut self,
        model: &Model,
        sort: Sort,
        restricted: bool,
        hidden: &impl Fn(Slot) -> bool,
    ) {
        self.kids.clear();
        for slot in 0..model.slot_count() as Slot {
            if model.in_tree_at(slot).is_none()
                || hidden(slot)
                || (restricted && self.flags[slot as usize] & MATCHED == 0)
            {
                continue;
            }
            self.kids.push(slot);
        }
        sort_slots(model, sort, &mut self.kids);
        for &slot in &self.kids {
            self.rows.push(Row {
                key: model.process_at(slot).key,
                depth: 0,
                last: false,
                has_children: false,
                folded: false,
                matched: true,
                guides: 0,
            });
        }
    }

    /// Flags every process in the tree that matches the filter, is in the place and the
    /// `only` set and is the user's, and keeps it and its ancestors.
    fn mark(&mut self, model: &Model, options: &TreeOptions, hidden: &impl Fn(Slot) -> bool) {
        self.flags.resize(model.slot_count(), 0);
        let filter = options.filter.is_some() || options.place.is_some();
        if filter {
            self.find(model, options, hidden);
        }
        for (slot, flags) in self.flags.iter_mut().enumerate() {
            let slot = slot as Slot;
            let matched = model.in_tree_at(slot).is_some_and(|process| {
                !hidden(slot)
                    && (!filter || *flags & FOUND != 0)
                    && options
                        .only
                        .as_ref()
                        .is_none_or(|only| only.contains(process.key))
                    && options
                        .user
                        .is_none_or(|uid| process.creds.is_some_and(|c| c.uid == uid))
            });
            *flags = (*flags & FOUND) | if matched { MATCHED } else { 0 };
        }
        for slot in 0..self.flags.len() {
            if self.flags[slot] & MATCHED == 0 {
                continue;
            }
            let mut up = Some(slot as Slot);
            while let Some(at) = up
                && self.flags[at as usize] & KEPT == 0
            {
                self.flags[at as usize] |= KEPT;
                up = model.parent_slot(at);
            }
        }
    }

    /// Flags every process in the tree that matches the filter and is in the place (those
    /// there are) as [`FOUND`]; with the same as last time, only the processes changed
    /// since are matched again: a cgroup path is read once per process and change, not at
    /// each rebuild.
    fn find(&mut self, model: &Model, options: &TreeOptions, hidden: &impl Fn(Slot) -> bool) {
        let since = match &self.matched_for {
            Some((last, generation)) if last.is_for(model, options) => Some(*generation),
            _ => None,
        };
        let search = options.filter.as_deref().map(Search::new);
        let place = options.place.as_ref();
        for (slot, flags) in self.flags.iter_mut().enumerate() {
            let slot = slot as Slot;
            if since.is_none_or(|since| model.changed_at(slot) > since) {
                let found = model.in_tree_at(slot).is_some_and(|process| {
                    !hidden(slot)
                        && search.as_ref().is_none_or(|s| s.matches(process))
                        && place.is_none_or(|place| {
                            place.admits(process.cgroup.as_ref().map(|c| c.as_bytes()))
                        })
                });
                *flags = (*flags & !FOUND) | if found { FOUND } else { 0 };
            }
        }
        let generation = model.generation();
        match &mut self.matched_for {
            Some((_, matched)) if since.is_some() => *matched = generation,
            _ => self.matched_for = Some((Matching::of(model, options), generation)),
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
            push_visible(model, model.child_slots(kid), shown, hidden, out);
        } else {
            out.push(kid);
        }
    }
}

/// Orders siblings (or the flat list) as `sort` says.
fn sort_slots(model: &Model, sort: Sort, slots: &mut [Slot]) {
    slots.sort_unstable_by(|&a, &b| sort.compare(model.process_at(a), model.process_at(b)));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        proc::snapshot::ProcessInfo,
        tracker::model::{
            DEFAULT_LINGER_NS,
            testing::{INIT, MS, P, p},
        },
    };

    /// The processes of [`machine`] the test names.
    struct Named {
        bash: P,
        vim: P,
        make: P,
        cc: P,
        twin: P,
    }

    /// init; kthreadd with a kworker, whose helper is a user process; sshd, bash, vim and
    /// make, which runs two compilers.
    fn machine() -> (Model, Named) {
        let kthreadd = INIT.under(0);
        let kthreadd = P { pid: 2, ..kthreadd };
        let kworker = p(3, 2, 20);
        let helper = p(50, 3, 3000);
        let sshd = p(10, 1, 100);
        let bash = p(11, 10, 200);
        let vim = p(12, 11, 300);
        let make = p(13, 11, 400);
        let cc = p(14, 13, 500);
        let twin = p(9, 13, 500);
        let kernel = |p: P, name: &str| ProcessInfo {
            kernel_thread: true,
            ..p.info(name, &[])
        };
        let mut model = Model::default();
        model.seed(&[
            INIT.info("init", &["/sbin/init"]),
            kernel(kthreadd, "kthreadd"),
            kernel(kworker, "kworker/0:1"),
            helper.info("modprobe", &["/sbin/modprobe", "-q", "fs-ext4"]),
            sshd.info("sshd", &["sshd"]),
            bash.info("bash", &["-bash"]),
            vim.info("vim", &["vim", "notes.txt"]),
            make.info("make", &["make", "-j2"]),
            cc.info("cc", &["cc", "-c", "Main.c"]),
            twin.info("cc", &["cc", "-c", "util.c"]),
        ]);
        let named = Named {
            bash,
            vim,
            make,
            cc,
            twin,
        };
        (model, named)
    }

    fn pids(rows: &[Row]) -> Vec<u32> {
        rows.iter().map(|r| r.key.pid).collect()
    }

    #[test]
    fn the_tree_view_orders_hides_folds_and_filters() {
        let (mut model, named) = machine();
        let mut view = TreeView::new();
        let mut options = TreeOptions::default();
        orders_hides_folds_and_filters(&mut view, &model, &mut options, &named);
        follows_the_model(&mut view, &mut model, &mut options, &named);
    }

    fn orders_hides_folds_and_filters(
        view: &mut TreeView,
        model: &Model,
        options: &mut TreeOptions,
        &Named { bash, .. }: &Named,
    ) {
        let rows = view.rows(model, options).to_vec();
        assert_eq!(pids(&rows), [1, 10, 11, 12, 13, 9, 14, 50]);
        let depths: Vec<_> = rows.iter().map(|r| r.depth).collect();
        assert_eq!(
            depths,
            [0, 1, 2, 3, 3, 4, 4, 0],
            "a hidden kernel thread's helper takes its place"
        );
        let last: Vec<_> = rows.iter().map(|r| r.last).collect();
        assert_eq!(last, [false, true, true, false, true, false, true, true]);
        let twin_row = rows[5];
        assert!(twin_row.guide(0), "init has a sibling below");
        assert!(!twin_row.guide(1) && !twin_row.guide(2) && !twin_row.guide(3));
        assert!(rows[3].guide(0) && !rows[3].guide(1));
        assert!(rows[2].has_children && !rows[3].has_children);

        options.kernel_threads = true;
        assert_eq!(
            pids(view.rows(model, options)),
            [1, 10, 11, 12, 13, 9, 14, 2, 3, 50]
        );
        options.kernel_threads = false;

        options.folded.insert(bash.key());
        let rows = view.rows(model, options).to_vec();
        assert_eq!(pids(&rows), [1, 10, 11, 50]);
        assert!(rows[2].folded && rows[2].has_children);
        options.folded.clear();

        options.filter = Some("MAIN".into());
        let rows = view.rows(model, options).to_vec();
        assert_eq!(pids(&rows), [1, 10, 11, 13, 14]);
        let matched: Vec<_> = rows.iter().map(|r| r.matched).collect();
        assert_eq!(matched, [false, false, false, false, true]);
        options.filter = Some("kworker".into());
        assert!(
            view.rows(model, options).is_empty(),
            "hidden kernel threads do not match"
        );
        options.filter = None;
    }

    fn follows_the_model(
        view: &mut TreeView,
        model: &mut Model,
        options: &mut TreeOptions,
        &Named {
            vim,
            make,
            cc,
            twin,
            ..
        }: &Named,
    ) {
        // The rows follow the model.
        assert_eq!(view.rows(model, options).len(), 8);
        model.apply(&p(15, 11, 4000).fork());
        assert_eq!(view.rows(model, options).len(), 9);
        assert_eq!(view.position(p(15, 11, 4000).key()), Some(7));

        // With the same filter, what changed since is matched again: a process that exec'd,
        // a new one, and one that left the tree.
        options.filter = Some("main".into());
        assert_eq!(pids(view.rows(model, options)), [1, 10, 11, 13, 14]);
        model.apply(&vim.exec(5000, &["vim", "Main.txt"]));
        model.apply(&p(16, 10, 5010).exec(5020, &["cc", "main.c"]));
        model.apply(&cc.named("cc").exit(5030, 0));
        model.tick(5030 * MS + DEFAULT_LINGER_NS);
        let rows = view.rows(model, options).to_vec();
        assert_eq!(pids(&rows), [1, 10, 11, 12, 16]);
        let matched: Vec<_> = rows.iter().map(|r| r.matched).collect();
        assert_eq!(matched, [false, false, false, true, true]);

        // Restricted to a set: its members with their ancestors; with the filter too, the
        // members that match it.
        let main_c = p(16, 10, 5010);
        let only = Only::new([make.key(), twin.key(), main_c.key()]);
        options.filter = None;
        options.only = Some(only.clone());
        let rows = view.rows(model, options).to_vec();
        assert_eq!(pids(&rows), [1, 10, 11, 13, 9, 16]);
        let matched: Vec<_> = rows.iter().map(|r| r.matched).collect();
        assert_eq!(matched, [false, false, false, true, true, true]);
        options.filter = Some("main".into());
        let rows = view.rows(model, options).to_vec();
        assert_eq!(pids(&rows), [1, 10, 16]);
        assert!(rows[2].matched && !rows[1].matched);
        options.filter = None;
        // Sets are told apart by identity: a new set is a new view even with the same members.
        assert_eq!(only.clone(), only);
        assert_ne!(Only::new([make.key()]), Only::new([make.key()]));
        options.only = Some(Only::new([vim.key()]));
        assert_eq!(pids(view.rows(model, options)), [1, 10, 11, 12]);
    }
}
