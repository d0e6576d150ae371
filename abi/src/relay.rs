//! The in-kernel relay: the rules user space writes into the probe's maps, the counts the
//! probe keeps for each, and the kfunc calls it makes.
//!
//! One map entry is one rule's one target: a rule with three targets takes three entries.

/// How many entries the rules map holds: the probe looks at each for every event.
pub const RELAY_ENTRIES: u32 = 32;

/// What an entry's events come from ([`RelayEntry::matching`]).
pub mod matching {
    /// An empty entry.
    pub const NONE: u32 = 0;
    /// Every process.
    pub const ANY: u32 = 1;
    /// One process: [`RelayEntry::match_pid`] with [`RelayEntry::match_start_ticks`].
    pub const PROCESS: u32 = 2;
    /// The subtree of [`RelayEntry::match_pid`] with [`RelayEntry::match_start_ticks`],
    /// which the probe must follow ([`crate::Followed`]).
    pub const SUBTREE: u32 = 3;
}

/// How an event goes into the signal's 64-bit value ([`RelayEntry::layout`]). The kernel
/// builds the siginfo itself (si_code SI_KERNEL, si_pid and si_uid 0): the low 32 bits are
/// the layout's si_int, the high 32 bits the pid the layout puts in si_pid.
pub mod layout {
    /// Low: the process the event concerns; high: its parent.
    pub const RELAY_FORK: u32 = 0;
    /// Low: the event's kmonitor bit; high: the process the event concerns.
    pub const KMONITOR: u32 = 1;
}

/// kmonitor's bit for each probe kind ([`crate::kind`]), indexed by the kind.
pub const KMONITOR_BITS: [u32; 8] = [0, 0x08, 0x01, 0x20, 0x40, 0x04, 0x80, 0x100];

/// One rule's one target. Targets are processes (pid and start time): the probe checks
/// the start time of the task it finds with the pid before it signals, so a reused pid is
/// never signalled, and empties the entry when the target exits.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RelayEntry {
    pub matching: u32,
    /// Bit `1 << kind` for each probe kind relayed.
    pub kinds: u32,
    pub signal: u32,
    pub layout: u32,
    pub match_pid: u32,
    pub target_pid: u32,
    pub match_start_ticks: u64,
    pub target_start_ticks: u64,
    /// Nanoseconds per clock tick: start times are compared in the ticks /proc shows.
    pub tick_ns: u64,
}

/// What became of an entry's signals, counted by the probe per CPU.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RelayCounts {
    /// Queued to the target.
    pub sent: u64,
    /// Not queued: the target's signal queue was full, another signal of the CPU was still
    /// on its way (EBUSY), or the thread with the target's pid was exiting (a process whose
    /// main thread has ended, which the kfunc cannot signal).
    pub undelivered: u64,
    /// The target was gone (exited, or its pid names another process now): the entry was
    /// emptied.
    pub target_gone: u64,
}

/// The immediates the probe's kfunc calls are compiled with. aya cannot link kfunc calls,
/// so the probe calls them as helpers with these numbers and the loader rewrites each call
/// into a kfunc call (`src_reg` BPF_PSEUDO_KFUNC_CALL, `imm` the kfunc's BTF id in the
/// running kernel).
pub mod kfunc {
    pub const TASK_FROM_PID: i32 = 0x7f7e_0001;
    pub const TASK_RELEASE: i32 = 0x7f7e_0002;
    pub const SEND_SIGNAL_TASK: i32 = 0x7f7e_0003;
    /// Each placeholder with the kfunc it stands for.
    pub const ALL: [(i32, &str); 3] = [
        (TASK_FROM_PID, "bpf_task_from_pid"),
        (TASK_RELEASE, "bpf_task_release"),
        (SEND_SIGNAL_TASK, "bpf_send_signal_task"),
    ];
}

// SAFETY: plain `repr(C)` integers without padding: every bit pattern is a valid value.
#[cfg(feature = "user")]
unsafe impl aya::Pod for RelayEntry {}
// SAFETY: as above.
#[cfg(feature = "user")]
unsafe impl aya::Pod for RelayCounts {}
