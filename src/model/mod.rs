//! The process model: the machine's processes as a tree, kept current by applying events.
//! A plain library type: no terminal, no kernel, no clock of its own.
//!
//! The rules it keeps:
//! - **Identity.** A process is its pid plus its start time in clock ticks ([`ProcessKey`]):
//!   /proc gives start times in ticks, events in nanoseconds, and both map to the same key.
//!   Pids are reused within seconds; keys are not.
//! - **Joining /proc and the stream.** The probe is attached before /proc is read and the
//!   events queued meanwhile are applied after [`Model::seed`], so the two overlap. A fork
//!   for a known key only fills in what is missing, an exec, exit or id change for a seeded
//!   process updates it, and an event for an unknown key creates the process from its own
//!   fields: a process born while /proc is read appears once. Thread counts of seeded
//!   processes can be off by the threads that started or ended during the read.
//! - **Order.** Events may arrive out of order (only the eBPF source is ordered). A fork
//!   that comes late never duplicates a process nor revives an exited one; an exit with a
//!   status replaces an unknown one; a child seen before its parent is adopted when the
//!   parent appears.
//! - **Parents.** When a process exits, its live children move as the kernel moves them:
//!   to the nearest live ancestor known to be a subreaper, else to pid 1. Events cannot say
//!   who is a subreaper, but every event carries the process's current ppid: when it names
//!   another live parent, the link is corrected and that parent is remembered as a
//!   subreaper (only a subreaper or a PID namespace's init receives others' orphans).
//! - **Linger.** An exited process stays in the tree with its exit status for
//!   [`Config::linger_ns`] (5 s by default), then leaves it for the history, where
//!   [`Model::get`] and [`Model::history`] still find it.
//! - **Time** is the newest event timestamp, or what [`Model::tick`] says: the model never
//!   reads a clock, so replays and tests are deterministic.
//! - **Memory** is bounded whatever the churn: at most [`Config::max_lingering`] exited
//!   processes stay in the tree (the oldest leave early), [`Config::history_len`] in the
//!   history (the oldest are forgotten), and each process keeps at most
//!   [`Config::events_per_process`] of its events (the first few and the latest). A
//!   program keeps at most [`MAX_ARGV_BYTES`] of argv and [`MAX_FILENAME_BYTES`] of file
//!   name, whatever the source, and a process's log the programs of its execs within
//!   [`LOG_PROGRAM_BYTES`]. Exited processes, in the tree and in the history, hold at
//!   most [`Config::exited_bytes`] together (see `memory`): past it the oldest are
//!   forgotten first, and [`Counts::dropped_for_memory`] says how many.
//! - **Loss.** Loss reports are counted; after a loss, [`Model::reconcile`] with a fresh
//!   /proc snapshot marks processes that are gone as exited with an unknown status and adds
//!   the ones that are missing.

mod memory;
mod tree;

use std::{
    collections::{HashMap, HashSet, VecDeque},
    hash::BuildHasherDefault,
    sync::{
        Arc, LazyLock,
        atomic::{AtomicU32, AtomicU64, Ordering},
    },
};

use crate::{
    event::{
        Argv, ByteString, Comm, Creds, Event, ExitStatus, KeyHasher, KeyMap, Kind, MAX_ARGV_BYTES,
        MAX_FILENAME_BYTES, ProcessKey,
    },
    proc::snapshot::ProcessInfo,
};

pub use memory::{DEFAULT_EXITED_BYTES, LOG_PROGRAM_BYTES};
pub use tree::{Only, Row, TreeOptions, TreeView};

/// How long an exited process stays in the tree by default.
pub const DEFAULT_LINGER_NS: u64 = 5_000_000_000;
/// Exited processes kept in the tree at most by default, however fast they exit.
pub const DEFAULT_MAX_LINGERING: usize = 10_000;
/// Processes kept in the history by default after they leave the tree.
pub const DEFAULT_HISTORY_LEN: usize = 10_000;
/// Events kept per process by default.
pub const DEFAULT_EVENTS_PER_PROCESS: usize = 16;
/// How many of a process's first events its log always keeps (its fork and first execs);
/// past the cap, the oldest of the rest make room.
pub const EVENT_LOG_HEAD: usize = 4;

/// The model's limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// How long an exited process stays in the tree, in nanoseconds.
    pub linger_ns: u64,
    /// Exited processes kept in the tree at most; the oldest leave early past it.
    pub max_lingering: usize,
    /// Processes kept after they leave the tree; the oldest are forgotten past it.
    pub history_len: usize,
    /// Events kept per process.
    pub events_per_process: usize,
    /// Bytes the exited processes (in the tree and in the history) may hold together; the
    /// oldest are forgotten first past it.
    pub exited_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            linger_ns: DEFAULT_LINGER_NS,
            max_lingering: DEFAULT_MAX_LINGERING,
            history_len: DEFAULT_HISTORY_LEN,
            events_per_process: DEFAULT_EVENTS_PER_PROCESS,
            exited_bytes: DEFAULT_EXITED_BYTES,
        }
    }
}

/// The program a process runs. Shared between a parent and the children it forks until
/// they exec.
#[derive(Debug, Default)]
pub struct Program {
    /// The file exec'd; `None` when the program is known only from /proc or not at all.
    pub filename: Option<ByteString>,
    /// Empty when unknown (kernel threads, or a process first seen by its exit).
    pub argv: Argv,
    /// The argv was cut: by the source, or here at [`MAX_ARGV_BYTES`].
    pub argv_truncated: bool,
    /// The file name was cut here at [`MAX_FILENAME_BYTES`] (an exec's own flag says
    /// whether the source cut it).
    pub filename_truncated: bool,
    /// The argv as the tree shows it ([`Argv::joined`], escaped) and lowercased, for
    /// [`Search`]: what is on the screen is what a search finds; at most
    /// [`MAX_ARGV_BYTES`].
    search: String,
    /// Exited processes that hold it, for the byte budget (see `memory`).
    holders: AtomicU32,
}

impl Program {
    /// A program as a source reported it, cut to what one program may hold.
    fn new(filename: Option<ByteString>, argv: Argv, argv_truncated: bool) -> Self {
        let cut_file = filename.as_ref().and_then(|f| f.cut(MAX_FILENAME_BYTES));
        let filename_truncated = cut_file.is_some();
        let filename = cut_file.or(filename);
        let cut_argv = argv.cut(MAX_ARGV_BYTES);
        let argv_truncated = argv_truncated || cut_argv.is_some();
        let argv = cut_argv.unwrap_or(argv);
        let mut search = argv.joined();
        if search.is_ascii() {
            search.make_ascii_lowercase();
        } else {
            search = search.to_lowercase();
        }
        // Escapes and some lowercase letters take more room than they did.
        if search.len() > MAX_ARGV_BYTES {
            search.truncate(search.floor_char_boundary(MAX_ARGV_BYTES));
            search.shrink_to_fit();
        }
        Self {
            filename,
            argv,
            argv_truncated,
            filename_truncated,
            search,
            holders: AtomicU32::new(0),
        }
    }

    fn unknown() -> Arc<Self> {
        static UNKNOWN: LazyLock<Arc<Program>> = LazyLock::new(Arc::default);
        UNKNOWN.clone()
    }
}

/// How and when a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exit {
    pub ts_ns: u64,
    /// [`ExitStatus::Unknown`] when the source cannot know it (the /proc poller), or the
    /// process was found gone without its exit event (after lost events, or a zombie in
    /// the /proc snapshot).
    pub status: ExitStatus,
}

/// A process's own events, oldest first: the first [`EVENT_LOG_HEAD`] and the latest ones,
/// within [`Config::events_per_process`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    pub events: Vec<Event>,
    /// Events left out between the first ones and the latest ones.
    pub omitted: u64,
}

/// Where a process keeps its events. An exec's program is shared with the process rather
/// than copied.
#[derive(Clone, Debug, Default)]
struct EventLog {
    /// Events with an exec's filename and argv left out: they are in `program`.
    records: Vec<(Event, Option<Arc<Program>>)>,
    omitted: u64,
    /// What the programs of its records hold (see `memory`).
    program_bytes: usize,
}

impl EventLog {
    fn push(&mut self, event: &Event, program: Option<&Arc<Program>>, cap: usize) {
        if cap == 0 {
            self.omitted += 1;
            return;
        }
        let kind = match &event.kind {
            Kind::Exec {
                argv_truncated,
                filename_truncated,
                argv_unreadable,
                ..
            } => Kind::Exec {
                filename: ByteString::default(),
                argv: Argv::default(),
                argv_truncated: *argv_truncated,
                filename_truncated: *filename_truncated,
                argv_unreadable: *argv_unreadable,
            },
            kind => kind.clone(),
        };
        let record = Event { kind, ..*event };
        // Usually an append; a late event goes where its time puts it.
        let at = self
            .records
            .iter()
            .rposition(|(e, _)| e.ts_ns <= event.ts_ns)
            .map_or(0, |i| i + 1);
        self.records.insert(at, (record, program.cloned()));
        // Counted before a record makes room: the one that goes may be this one.
        self.program_bytes += program.map_or(0, |p| p.byte_size());
        if self.records.len() > cap {
            let (_, program) = self.records.remove(EVENT_LOG_HEAD.min(cap - 1));
            self.program_bytes -= program.map_or(0, |p| p.byte_size());
            self.omitted += 1;
        }
        if program.is_some() {
            self.keep_programs_within();
        }
    }

    fn history(&self) -> History {
        let events = self
            .records
            .iter()
            .map(|(event, program)| match (&event.kind, program) {
                (
                    Kind::Exec {
                        argv_truncated,
                        filename_truncated,
                        argv_unreadable,
                        ..
                    },
                    Some(program),
                ) => Event {
                    kind: Kind::Exec {
                        filename: program.filename.clone().unwrap_or_default(),
                        argv: program.argv.clone(),
                        argv_truncated: *argv_truncated || program.argv_truncated,
                        filename_truncated: *filename_truncated || program.filename_truncated,
                        argv_unreadable: *argv_unreadable,
                    },
                    ..event.clone()
                },
                _ => event.clone(),
            })
            .collect();
        History {
            events,
            omitted: self.omitted,
        }
    }
}

/// One process as the model knows it.
#[derive(Clone, Debug)]
pub struct Process {
    pub key: ProcessKey,
    /// The parent's pid as last reported (or as the model re-parented it).
    pub ppid: u32,
    /// CLOCK_BOOTTIME nanoseconds; tick precision for processes known only from /proc.
    pub start_ns: u64,
    pub comm: Comm,
    pub program: Arc<Program>,
    pub creds: Option<Creds>,
    pub cgroup_id: Option<u64>,
    pub kernel_thread: bool,
    /// Live threads; 0 once exited.
    pub threads: u32,
    pub exit: Option<Exit>,
    /// Learned from events: it received orphans that were not its own children.
    pub subreaper: bool,
    log: EventLog,
}

impl Process {
    pub fn is_alive(&self) -> bool {
        self.exit.is_none()
    }

    /// Its own events, oldest first.
    pub fn history(&self) -> History {
        self.log.history()
    }

    /// How long it ran, for exited processes.
    pub fn run_ns(&self) -> Option<u64> {
        self.exit.map(|e| e.ts_ns.saturating_sub(self.start_ns))
    }
}

/// A search of process names and argv that ignores case, prepared once for many processes.
#[derive(Clone, Debug)]
pub struct Search {
    finder: memchr::memmem::Finder<'static>,
}

impl Search {
    pub fn new(text: &str) -> Self {
        Self {
            finder: memchr::memmem::Finder::new(text.to_lowercase().as_bytes()).into_owned(),
        }
    }

    /// Whether the text is in the process's name or argv (across arguments too), as the
    /// screen shows them: escaped, so that `\e]52` typed finds the process shown so.
    pub fn matches(&self, process: &Process) -> bool {
        self.matches_comm(&process.comm)
            || self
                .finder
                .find(process.program.search.as_bytes())
                .is_some()
    }

    fn matches_comm(&self, comm: &Comm) -> bool {
        let shown = comm.escaped();
        // 15 bytes escaped take at most 60 (`\xNN` each): no allocation for ASCII.
        let mut lower = [0u8; 64];
        match lower.get_mut(..shown.len()) {
            Some(lower) if shown.is_ascii() => {
                lower.copy_from_slice(shown.as_bytes());
                lower.make_ascii_lowercase();
                self.finder.find(lower).is_some()
            }
            _ => self.finder.find(shown.to_lowercase().as_bytes()).is_some(),
        }
    }
}

/// What an event (or a reconcile) changed, so that sets kept outside the model (pins,
/// watch, relay rules) stay current without scanning it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// The process concerned; `None` for loss reports.
    pub key: Option<ProcessKey>,
    /// The process was not known before.
    pub started: bool,
    /// The process exited (its first exit, not a late duplicate).
    pub exited: bool,
    /// Its parent link changed (other than by its own parent's exit, see `orphans`).
    pub moved: Option<Move>,
    /// On exit: its live children and where they went.
    pub orphans: Option<Orphans>,
}

/// A process moved from one parent to another; `None` is the top of the tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Move {
    pub from: Option<ProcessKey>,
    pub to: Option<ProcessKey>,
}

/// The live children of an exited process and their new parent (`None`: the top of the
/// tree, when pid 1 is not known).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Orphans {
    pub children: Vec<ProcessKey>,
    pub to: Option<ProcessKey>,
}

/// How many processes the model holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub alive: usize,
    /// Exited, still in the tree.
    pub exited: usize,
    /// Left the tree, kept in the history.
    pub history: usize,
    /// Events the source reported lost.
    pub lost: u64,
    /// Exited processes forgotten to keep within [`Config::exited_bytes`], details and all:
    /// pushed out of the tree before their linger ended, or taken from the history before
    /// [`Config::history_len`] newer ones came.
    pub dropped_for_memory: u64,
}

/// The highest pid_max a kernel accepts.
pub(crate) const PID_MAX_LIMIT: u32 = 4 << 20;

/// An index into the model's node table.
type Slot = u32;
/// No node: as a parent, the top of the tree.
const NONE: Slot = u32::MAX;

#[derive(Debug)]
struct Node {
    process: Process,
    /// The parent in the tree (`NONE`: a top-level process); meaningless once left.
    parent: Slot,
    /// In display order: start time, then pid. A deque: the oldest leave first, the
    /// newest arrive last.
    children: VecDeque<Slot>,
    /// When the ppid was last learned, so an older report cannot undo a newer one.
    ppid_ns: u64,
    in_tree: bool,
    /// The parent it had when it left the tree, for its ancestry.
    former_parent: Option<ProcessKey>,
    /// Once exited: the bytes of its own counted against [`Config::exited_bytes`].
    held: usize,
}

impl Node {
    fn order(&self) -> (u64, u32) {
        (self.process.start_ns, self.process.key.pid)
    }
}

/// The process tree. See the module documentation for its rules.
#[derive(Debug)]
pub struct Model {
    config: Config,
    /// Tells models apart for [`TreeView`]'s cache.
    id: u64,
    nodes: Vec<Option<Node>>,
    free: Vec<Slot>,
    index: KeyMap<ProcessKey, Slot>,
    /// By pid: the newest process with that pid still in the tree.
    by_pid: Vec<Slot>,
    roots: VecDeque<Slot>,
    /// Exited processes in the tree, in exit order: (when it leaves, slot).
    lingering: VecDeque<(u64, Slot)>,
    /// Processes that left the tree, oldest first.
    history: VecDeque<Slot>,
    /// What the exited processes hold (see `memory`).
    exited_bytes: usize,
    dropped_for_memory: u64,
    now_ns: u64,
    lost: u64,
    alive: usize,
    generation: u64,
    /// By slot: the generation at which what a search looks at (name, program, whether it
    /// is in the tree) last changed, so a filtered view re-matches only those processes.
    touched: Vec<u64>,
}

impl Default for Model {
    fn default() -> Self {
        Self::new(Config::default())
    }
}

impl Model {
    pub fn new(config: Config) -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        Self {
            config,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            nodes: Vec::new(),
            free: Vec::new(),
            index: HashMap::default(),
            by_pid: Vec::new(),
            roots: VecDeque::new(),
            lingering: VecDeque::new(),
            history: VecDeque::new(),
            exited_bytes: 0,
            dropped_for_memory: 0,
            now_ns: 0,
            lost: 0,
            alive: 0,
            generation: 0,
            touched: Vec::new(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The model's time: the newest event timestamp or tick, CLOCK_BOOTTIME nanoseconds.
    pub fn now_ns(&self) -> u64 {
        self.now_ns
    }

    /// Changes whenever the model changes; [`TreeView`] rebuilds its rows only then.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn counts(&self) -> Counts {
        Counts {
            alive: self.alive,
            exited: self.lingering.len(),
            history: self.history.len(),
            lost: self.lost,
            dropped_for_memory: self.dropped_for_memory,
        }
    }

    /// Adds the processes of a /proc snapshot (taken after the event source was started).
    /// Processes already known are updated from it.
    pub fn seed(&mut self, snapshot: &[ProcessInfo]) {
        self.sync(snapshot, false);
    }

    /// Re-syncs with a fresh /proc snapshot after lost events: live processes missing from
    /// it are marked exited with an unknown status, missing ones are added, and parents,
    /// names, argv, credentials and thread counts are taken from it.
    pub fn reconcile(&mut self, snapshot: &[ProcessInfo]) -> Vec<Applied> {
        self.sync(snapshot, true)
    }

    /// Advances the model's time (events advance it too): exited processes whose linger
    /// is over leave the tree.
    pub fn tick(&mut self, now_ns: u64) {
        if now_ns > self.now_ns {
            self.now_ns = now_ns;
        }
        self.expire();
    }

    /// Applies one event and says what it changed.
    pub fn apply(&mut self, event: &Event) -> Applied {
        self.generation += 1;
        self.tick(event.ts_ns);
        if let Kind::Lost { count } = event.kind {
            self.lost = self.lost.saturating_add(count);
            return Applied::default();
        }
        let key = ProcessKey::of(event);
        let mut applied = Applied {
            key: Some(key),
            ..Applied::default()
        };
        let slot = match self.index.get(&key) {
            Some(&slot) => {
                self.refresh(slot, event, &mut applied);
                slot
            }
            None => {
                applied.started = true;
                self.create_from_event(key, event)
            }
        };
        self.recounted(slot, |model| model.take_in(slot, event, &mut applied));
        self.expire();
        applied
    }

    /// Takes in what the event says beyond the fields every event carries; logs it.
    fn take_in(&mut self, slot: Slot, event: &Event, applied: &mut Applied) {
        let alive = self.node(slot).process.is_alive();
        match &event.kind {
            Kind::Fork => {
                // A fork that comes after another event of its child fills in the program,
                // from the parent the fork names: the tree parent may be a reaper, and a
                // process in the history has no tree parent.
                let node = self.node(slot);
                if node.in_tree
                    && node.process.program.argv.is_empty()
                    && let Some(parent) =
                        self.named_parent(event.ppid, node.process.key.start_ticks)
                {
                    let program = self.node(parent).process.program.clone();
                    self.process_mut(slot).program = program;
                    self.touch(slot);
                }
            }
            Kind::ThreadStart if alive => {
                let p = self.process_mut(slot);
                p.threads = p.threads.saturating_add(1);
            }
            Kind::ThreadExit if alive => {
                let p = self.process_mut(slot);
                p.threads = p.threads.saturating_sub(1).max(1);
            }
            Kind::Exec {
                filename,
                argv,
                argv_truncated,
                ..
            } => {
                let program = Program::new(Some(filename.clone()), argv.clone(), *argv_truncated);
                let p = self.process_mut(slot);
                p.program = Arc::new(program);
                p.comm = event.comm;
                p.creds = event.creds.or(p.creds);
                self.touch(slot);
            }
            Kind::Uid { .. } | Kind::Gid { .. } => {
                let p = self.process_mut(slot);
                p.creds = event.creds.or(p.creds);
            }
            Kind::Exit(status) => {
                self.exited(slot, event.ts_ns, *status, applied);
            }
            Kind::ThreadStart | Kind::ThreadExit | Kind::Lost { .. } => {}
        }
        let cap = self.config.events_per_process;
        let p = self.process_mut(slot);
        let program = matches!(event.kind, Kind::Exec { .. }).then_some(&p.program);
        p.log.push(event, program, cap);
    }

    /// Any process the model still holds: alive, exited in the tree, or in the history.
    pub fn get(&self, key: ProcessKey) -> Option<&Process> {
        self.index.get(&key).map(|&slot| &self.node(slot).process)
    }

    /// The live process with this pid.
    pub fn current(&self, pid: u32) -> Option<ProcessKey> {
        let slot = *self.by_pid.get(pid as usize)?;
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

    /// Every process in the tree, alive or lingering, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Process> {
        self.nodes
            .iter()
            .flatten()
            .filter(|n| n.in_tree)
            .map(|n| &n.process)
    }

    fn slot(&self, key: ProcessKey) -> Option<Slot> {
        self.index.get(&key).copied()
    }

    fn touch(&mut self, slot: Slot) {
        self.touched[slot as usize] = self.generation;
    }

    fn node(&self, slot: Slot) -> &Node {
        self.nodes[slot as usize]
            .as_ref()
            .expect("slots in use hold a node")
    }

    fn node_mut(&mut self, slot: Slot) -> &mut Node {
        self.nodes[slot as usize]
            .as_mut()
            .expect("slots in use hold a node")
    }

    fn process_mut(&mut self, slot: Slot) -> &mut Process {
        &mut self.node_mut(slot).process
    }

    fn kids(&self, parent: Slot) -> &VecDeque<Slot> {
        if parent == NONE {
            &self.roots
        } else {
            &self.node(parent).children
        }
    }

    fn kids_mut(&mut self, parent: Slot) -> &mut VecDeque<Slot> {
        if parent == NONE {
            &mut self.roots
        } else {
            &mut self.node_mut(parent).children
        }
    }

    fn key_of(&self, slot: Slot) -> Option<ProcessKey> {
        (slot != NONE).then(|| self.node(slot).process.key)
    }

    /// Whether `slot` is `ancestor` or below it.
    fn descends(&self, mut slot: Slot, ancestor: Slot) -> bool {
        while slot != NONE {
            if slot == ancestor {
                return true;
            }
            slot = self.node(slot).parent;
        }
        false
    }

    /// Puts `slot` among `parent`'s children, in display order.
    fn link(&mut self, slot: Slot, parent: Slot) {
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
    }

    fn unlink(&mut self, slot: Slot) {
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
        }
    }

    fn move_to(&mut self, slot: Slot, parent: Slot) {
        self.unlink(slot);
        self.link(slot, parent);
    }

    /// The process in the tree (alive or lingering) with pid `ppid` that can be the parent
    /// of a process started at `start_ticks`.
    fn named_parent(&self, ppid: u32, start_ticks: u64) -> Option<Slot> {
        let slot = *self.by_pid.get(ppid as usize)?;
        (slot != NONE && self.node(slot).process.key.start_ticks <= start_ticks).then_some(slot)
    }

    /// The live process with pid `ppid` that can be the parent of a process started at
    /// `start_ticks`.
    fn live_parent(&self, ppid: u32, start_ticks: u64) -> Option<Slot> {
        self.named_parent(ppid, start_ticks)
            .filter(|&slot| self.node(slot).process.is_alive())
    }

    /// Where the kernel sends the live children of `dead`: its nearest live subreaper
    /// ancestor, else pid 1 (`NONE` if pid 1 is not known).
    fn reaper_for(&self, dead: Slot) -> Slot {
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

    fn allocate(&mut self, process: Process, ppid_ns: u64) -> Slot {
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
        // A pid no kernel can give (from a corrupt recording) is not worth a huge table.
        if key.pid <= PID_MAX_LIMIT {
            let pid = key.pid as usize;
            if self.by_pid.len() <= pid {
                self.by_pid.resize(pid + 1, NONE);
            }
            let newest = self.by_pid[pid];
            if newest == NONE || self.node(newest).process.key.start_ticks <= key.start_ticks {
                self.by_pid[pid] = slot;
            }
        }
        self.alive += 1;
        slot
    }

    /// A process first seen through `event`, placed under its parent.
    fn create_from_event(&mut self, key: ProcessKey, event: &Event) -> Slot {
        let named = self.named_parent(event.ppid, key.start_ticks);
        let parent = match named {
            Some(p) if self.node(p).process.is_alive() => p,
            // The parent exited before this (late) event: the kernel has moved the child.
            Some(p) => self.reaper_for(p),
            None => NONE,
        };
        // A fork's child runs the program of the process that forked it, not its reaper's.
        let program = match (&event.kind, named) {
            (Kind::Fork, Some(p)) => self.node(p).process.program.clone(),
            _ => Program::unknown(),
        };
        let process = Process {
            key,
            ppid: match parent {
                NONE => event.ppid,
                p => self.node(p).process.key.pid,
            },
            start_ns: event.start_ns,
            comm: event.comm,
            program,
            creds: event.creds,
            cgroup_id: event.cgroup_id,
            kernel_thread: event.kernel_thread,
            threads: 1,
            exit: None,
            subreaper: false,
            log: EventLog::default(),
        };
        let slot = self.allocate(process, event.ts_ns);
        self.link(slot, parent);
        self.adopt_waiting_children(slot);
        slot
    }

    /// Top-level processes that named this one as their parent before it was known.
    fn adopt_waiting_children(&mut self, slot: Slot) {
        let key = self.node(slot).process.key;
        let waiting: Vec<Slot> = self
            .roots
            .iter()
            .copied()
            .filter(|&s| {
                let p = &self.node(s).process;
                s != slot && p.ppid == key.pid && p.key.start_ticks >= key.start_ticks
            })
            .collect();
        for child in waiting {
            self.move_to(child, slot);
        }
    }

    /// Updates a known process from what every event carries.
    fn refresh(&mut self, slot: Slot, event: &Event, applied: &mut Applied) {
        let node = self.node(slot);
        // Known from /proc at tick precision: take the exact start time.
        if node.process.start_ns != event.start_ns && event.start_ns != 0 {
            let in_tree = node.in_tree;
            if in_tree {
                self.unlink(slot);
            }
            self.process_mut(slot).start_ns = event.start_ns;
            if in_tree {
                let parent = self.node(slot).parent;
                self.link(slot, parent);
            }
        }
        // A fork carries the name inherited from the parent; other threads have their own.
        let main_thread = event.tid == event.pid && !matches!(event.kind, Kind::Fork);
        let p = self.process_mut(slot);
        let renamed = main_thread && p.comm != event.comm;
        let kind_changed = p.kernel_thread != event.kernel_thread;
        if renamed {
            p.comm = event.comm;
        }
        p.cgroup_id = event.cgroup_id.or(p.cgroup_id);
        p.kernel_thread = event.kernel_thread;
        if renamed || kind_changed {
            self.touch(slot);
        }
        self.follow_ppid(slot, event.ppid, event.ts_ns, applied);
    }

    /// Corrects the parent link of a live process from a ppid reported at `ts_ns`.
    fn follow_ppid(&mut self, slot: Slot, ppid: u32, ts_ns: u64, applied: &mut Applied) {
        let node = self.node(slot);
        if !node.in_tree || !node.process.is_alive() || ts_ns < node.ppid_ns {
            return;
        }
        let changed = node.process.ppid != ppid;
        let Some(parent) = self.live_parent(ppid, node.process.key.start_ticks) else {
            return;
        };
        let old = node.parent;
        // A link that would make a loop can only come from a feed that lost events.
        if parent == old || self.descends(parent, slot) {
            self.node_mut(slot).ppid_ns = ts_ns;
            return;
        }
        self.move_to(slot, parent);
        let node = self.node_mut(slot);
        node.ppid_ns = ts_ns;
        node.process.ppid = ppid;
        if changed && ppid != 1 {
            self.process_mut(parent).subreaper = true;
        }
        applied.moved = Some(Move {
            from: self.key_of(old),
            to: self.key_of(parent),
        });
    }

    /// Marks a process exited and moves its live children to their reaper.
    fn exited(&mut self, slot: Slot, ts_ns: u64, status: ExitStatus, applied: &mut Applied) {
        let p = self.process_mut(slot);
        if let Some(exit) = &mut p.exit {
            // Found gone before its exit event came: the event knows better.
            if exit.status == ExitStatus::Unknown && status != ExitStatus::Unknown {
                *exit = Exit { ts_ns, status };
            }
            return;
        }
        p.exit = Some(Exit { ts_ns, status });
        p.threads = 0;
        self.alive -= 1;
        applied.exited = true;

        let orphans: Vec<Slot> = self
            .node(slot)
            .children
            .iter()
            .copied()
            .filter(|&c| self.node(c).process.is_alive())
            .collect();
        if !orphans.is_empty() {
            let reaper = self.reaper_for(slot);
            let reaper_pid = self.key_of(reaper).map_or(1, |k| k.pid);
            for &orphan in &orphans {
                self.move_to(orphan, reaper);
                let node = self.node_mut(orphan);
                node.process.ppid = reaper_pid;
                node.ppid_ns = ts_ns;
            }
            applied.orphans = Some(Orphans {
                children: orphans.iter().map(|&s| self.node(s).process.key).collect(),
                to: self.key_of(reaper),
            });
        }
        // From now, not from `ts_ns`: a late exit is still shown for the whole linger, and
        // the queue stays in the order processes leave.
        let leaves = self.now_ns.saturating_add(self.config.linger_ns);
        self.lingering.push_back((leaves, slot));
    }

    /// Moves exited processes whose linger is over (or that are too many, or hold too
    /// much) to the history.
    fn expire(&mut self) {
        // The history is older: it goes first.
        self.forget_old();
        while let Some(&(leaves, slot)) = self.lingering.front() {
            if leaves > self.now_ns
                && self.lingering.len() <= self.config.max_lingering
                && self.exited_bytes <= self.config.exited_bytes
            {
                break;
            }
            self.lingering.pop_front();
            self.leave_tree(slot);
        }
    }

    fn leave_tree(&mut self, slot: Slot) {
        self.generation += 1;
        let parent = self.node(slot).parent;
        self.unlink(slot);
        // Children still here exited before it; they stay visible under its parent.
        for child in std::mem::take(&mut self.node_mut(slot).children) {
            self.link(child, parent);
        }
        let former_parent = self.key_of(parent);
        self.touch(slot);
        let node = self.node_mut(slot);
        node.in_tree = false;
        node.former_parent = former_parent;
        let pid = node.process.key.pid as usize;
        if self.by_pid.get(pid) == Some(&slot) {
            self.by_pid[pid] = NONE;
        }
        self.history.push_back(slot);
        self.forget_old();
    }

    /// Forgets the oldest processes of the history while there are too many, or the
    /// exited ones hold too much (those the budget pushes out of the tree come at once).
    fn forget_old(&mut self) {
        loop {
            let too_many = self.history.len() > self.config.history_len;
            if !too_many && self.exited_bytes <= self.config.exited_bytes {
                break;
            }
            let Some(old) = self.history.pop_front() else {
                break;
            };
            if !too_many {
                self.dropped_for_memory += 1;
            }
            self.release(old);
            let node = self.nodes[old as usize]
                .take()
                .expect("history slots hold a node");
            self.index.remove(&node.process.key);
            self.free.push(old);
        }
    }

    fn sync(&mut self, snapshot: &[ProcessInfo], mark_missing: bool) -> Vec<Applied> {
        self.generation += 1;
        // The snapshot is no older than its newest process.
        self.tick(snapshot.iter().map(|p| p.start_ns).max().unwrap_or(0));
        let mut changes = Vec::new();
        let mut seen: HashSet<ProcessKey, BuildHasherDefault<KeyHasher>> =
            HashSet::with_capacity_and_hasher(snapshot.len(), Default::default());
        let mut zombies = Vec::new();
        // Every process first, so that parents later in pid order exist when linking.
        let slots: Vec<(Slot, bool)> = snapshot
            .iter()
            .map(|info| {
                let key = ProcessKey::new(info.pid, info.start_ns);
                seen.insert(key);
                let (slot, new) = match self.slot(key) {
                    Some(slot) => {
                        self.update_from_proc(slot, info);
                        (slot, false)
                    }
                    None => (self.create_from_proc(key, info), true),
                };
                // A zombie has exited; a zombie leader with threads left has not.
                if matches!(info.state, 'Z' | 'X') && info.threads <= 1 {
                    zombies.push(slot);
                }
                (slot, new)
            })
            .collect();

        if mark_missing {
            let mut gone: Vec<Slot> = self
                .index
                .iter()
                .filter(|(key, _)| !seen.contains(key))
                .map(|(_, &slot)| slot)
                .filter(|&slot| self.node(slot).process.is_alive())
                .collect();
            // Youngest first, so that a subtree that is gone stays together, whatever the
            // order of the index.
            gone.sort_unstable_by_key(|&slot| std::cmp::Reverse(self.node(slot).process.key));
            for slot in gone {
                changes.push(self.exit_unknown(slot));
            }
        }

        for (info, &(slot, new)) in snapshot.iter().zip(&slots) {
            let key = Some(self.node(slot).process.key);
            if new {
                let parent = self
                    .live_parent(info.ppid, self.node(slot).process.key.start_ticks)
                    .filter(|&parent| !self.descends(parent, slot))
                    .unwrap_or(NONE);
                self.link(slot, parent);
                changes.push(Applied {
                    key,
                    started: true,
                    ..Applied::default()
                });
            } else {
                let mut applied = Applied {
                    key,
                    ..Applied::default()
                };
                self.follow_ppid(slot, info.ppid, self.now_ns, &mut applied);
                if applied.moved.is_some() {
                    changes.push(applied);
                }
            }
        }
        for slot in zombies {
            changes.push(self.exit_unknown(slot));
        }
        changes.retain(|c| c.started || c.exited || c.moved.is_some());
        self.expire();
        changes
    }

    fn exit_unknown(&mut self, slot: Slot) -> Applied {
        let mut applied = Applied {
            key: Some(self.node(slot).process.key),
            ..Applied::default()
        };
        self.exited(slot, self.now_ns, ExitStatus::Unknown, &mut applied);
        if applied.exited {
            self.retain(slot);
        }
        applied
    }

    fn create_from_proc(&mut self, key: ProcessKey, info: &ProcessInfo) -> Slot {
        let process = Process {
            key,
            ppid: info.ppid,
            start_ns: info.start_ns,
            comm: info.comm,
            program: program_from_proc(info),
            creds: Some(info.creds),
            cgroup_id: None,
            kernel_thread: info.kernel_thread,
            threads: info.threads.max(1),
            exit: None,
            subreaper: false,
            log: EventLog::default(),
        };
        // Linked by the caller once every process of the snapshot exists.
        self.allocate(process, 0)
    }

    fn update_from_proc(&mut self, slot: Slot, info: &ProcessInfo) {
        let p = self.process_mut(slot);
        if !p.is_alive() {
            return;
        }
        p.comm = info.comm;
        p.creds = Some(info.creds);
        p.threads = info.threads.max(1);
        // An empty argv says nothing: a zombie's, or one /proc could not read.
        if !info.argv.is_empty() && p.program.argv != info.argv {
            p.program = program_from_proc(info);
        }
        self.touch(slot);
    }
}

fn program_from_proc(info: &ProcessInfo) -> Arc<Program> {
    if info.argv.is_empty() {
        Program::unknown()
    } else {
        Arc::new(Program::new(None, info.argv.clone(), info.argv_truncated))
    }
}

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
