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
//!   program keeps at most [`MAX_ARGV_BYTES`](crate::event::MAX_ARGV_BYTES) of argv and
//!   [`MAX_FILENAME_BYTES`](crate::event::MAX_FILENAME_BYTES) of file name, whatever the
//!   source, and a process's log the programs of its execs within
//!   [`LOG_PROGRAM_BYTES`]. Exited processes, in the tree and in the history, hold at
//!   most [`Config::exited_bytes`] together (see `memory`): past it the oldest are
//!   forgotten first, and [`Counts::dropped_for_memory`] says how many.
//! - **Loss.** Loss reports are counted; after a loss, [`Model::reconcile`] with a fresh
//!   /proc snapshot marks processes that are gone as exited with an unknown status and adds
//!   the ones that are missing.
//!
//! By concern: `arena` holds the nodes by slot, `surgery` links them into the tree,
//! `apply` takes in events, `sync` /proc snapshots, `linger` moves exited processes to the
//! history and out of it, `memory` counts what they hold; `program`, `process` (with its
//! event log), `changes` (what an event changed) and `query` (reading) are the parts
//! these share.

mod apply;
mod arena;
mod changes;
mod linger;
mod memory;
mod pids;
mod process;
mod program;
mod query;
mod surgery;
mod sync;

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::atomic::{AtomicU64, Ordering},
};

use crate::event::{KeyMap, ProcessKey};

pub use arena::Slot;
pub use changes::{Applied, Move, Orphans};
pub use memory::{DEFAULT_EXITED_BYTES, LOG_PROGRAM_BYTES};
pub use process::{Exit, History, Process, Resources};
pub use program::Program;

use arena::Node;

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

/// The process tree. See the module documentation for its rules.
#[derive(Debug)]
pub struct Model {
    config: Config,
    /// Tells models apart for views that keep what they built from one.
    id: u64,
    nodes: Vec<Option<Node>>,
    free: Vec<Slot>,
    index: KeyMap<ProcessKey, Slot>,
    /// By pid: the newest process with that pid still in the tree.
    by_pid: pids::PidTable,
    roots: VecDeque<Slot>,
    /// The roots by the pid they name as their parent: a new process with that pid adopts
    /// them. A set: orphans whose reaper is unknown all name pid 1.
    waiting: HashMap<u32, HashSet<Slot>>,
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
            by_pid: pids::PidTable::default(),
            roots: VecDeque::new(),
            waiting: HashMap::new(),
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

    /// Changes whenever the model changes; views rebuild what they show only then.
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

    /// Advances the model's time (events advance it too): exited processes whose linger
    /// is over leave the tree.
    pub fn tick(&mut self, now_ns: u64) {
        if now_ns > self.now_ns {
            self.now_ns = now_ns;
        }
        self.expire();
    }
}

#[cfg(test)]
mod keyframe_tests;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
