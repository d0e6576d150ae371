//! The names by which user space finds the probe's maps, globals and programs. The probe's
//! attribute macros take only literal names (a map's and a program's are its identifier),
//! so the probe spells each out again; a test of the loader checks the compiled probe has
//! every one of them.

/// Maps.
pub mod map {
    /// The ring buffer the records go through.
    pub const EVENTS: &str = "EVENTS";
    /// Per CPU, the records that could not be queued.
    pub const LOST: &str = "LOST";
    /// The in-kernel relay's entries ([`RelayEntry`](crate::relay::RelayEntry)).
    pub const RELAYS: &str = "RELAYS";
    /// How many of them, from the start, may be in use.
    pub const RELAY_USED: &str = "RELAY_USED";
    /// Per CPU, what became of each entry's signals.
    pub const RELAY_COUNTS: &str = "RELAY_COUNTS";
    /// The followed processes: pid -> [`Followed`](crate::Followed).
    pub const FOLLOWED: &str = "FOLLOWED";
    /// The roots of the followed subtrees: pid -> [`Followed`](crate::Followed).
    pub const FOLLOWED_ROOTS: &str = "FOLLOWED_ROOTS";
    /// One [`FollowSettings`](crate::FollowSettings), written by user space while it runs.
    pub const FOLLOW_SETTINGS: &str = "FOLLOW_SETTINGS";
}

/// Read-only globals user space fills in before the probe is loaded.
pub mod global {
    /// The kernel's member offsets ([`KernelOffsets`](crate::KernelOffsets)).
    pub const OFFSETS: &str = "OFFSETS";
    /// The least time between two wakeups of the reader, in nanoseconds.
    pub const WAKEUP_GAP_NS: &str = "WAKEUP_GAP_NS";
    /// The task iterator's offsets ([`SampleOffsets`](crate::SampleOffsets)).
    pub const SAMPLE_OFFSETS: &str = "SAMPLE_OFFSETS";
}

/// Programs.
pub mod program {
    /// On `sched_process_fork` (tp_btf).
    pub const FORK: &str = "fork";
    /// On `sched_process_exec` (tp_btf).
    pub const EXEC: &str = "exec";
    /// On `sched_process_exit` (tp_btf).
    pub const EXIT: &str = "exit";
    /// On the exit of setuid, setreuid and setresuid (syscall tracepoints).
    pub const UID_CHANGE: &str = "uid_change";
    /// On the exit of setgid, setregid and setresgid (syscall tracepoints).
    pub const GID_CHANGE: &str = "gid_change";
    /// The task iterator (`iter/task`): one [`TaskSample`](crate::TaskSample) per task.
    pub const TASK_SAMPLES: &str = "task_samples";
    /// The in-kernel relay on `sched_process_fork`, `_exec` and `_exit` (tp_btf).
    pub const RELAY_FORK: &str = "relay_fork";
    pub const RELAY_EXEC: &str = "relay_exec";
    pub const RELAY_EXIT: &str = "relay_exit";
    /// On `signal_generate` (tp_btf): what became of a signal the relay sent.
    pub const RELAY_SIGNAL: &str = "relay_signal";
}
