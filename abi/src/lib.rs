//! The event ABI between forkwatch's eBPF probe and user space.
//!
//! Defined once and compiled into both sides, so a record the probe writes is read with
//! exactly the layout it was written with.
#![no_std]

pub mod names;
pub mod relay;

/// Length of `task_struct.comm`, including the terminating NUL.
pub const COMM_LEN: usize = 16;
/// Bytes of the exec'd file name kept, including its NUL.
pub const FILENAME_CAP: usize = 512;
/// Bytes of the NUL-separated argv area kept. A power of two so the probe can bound reads
/// with a mask the verifier understands.
pub const ARGS_CAP: usize = 8192;
/// Default size of the ring buffer (bytes, a power-of-two multiple of the page size).
pub const DEFAULT_RING_BYTES: u32 = 16 << 20;

/// `PF_KTHREAD` from include/linux/sched.h: the task flag of kernel threads. The probe
/// reads it in `task_struct.flags`, user space in the flags field of `/proc/<pid>/stat`.
pub const PF_KTHREAD: u32 = 0x0020_0000;

/// Event kinds, as written in [`RawEvent::kind`].
pub mod kind {
    pub const FORK: u32 = 1;
    pub const THREAD_START: u32 = 2;
    pub const EXEC: u32 = 3;
    pub const EXIT: u32 = 4;
    pub const THREAD_EXIT: u32 = 5;
    pub const UID: u32 = 6;
    pub const GID: u32 = 7;
}

/// Bits of [`RawEvent::flags`].
pub mod flags {
    /// The argv area was longer than [`ARGS_CAP`](super::ARGS_CAP) and was cut.
    pub const ARGS_TRUNCATED: u32 = 1;
    /// The file name was longer than [`FILENAME_CAP`](super::FILENAME_CAP) and was cut.
    pub const FILENAME_TRUNCATED: u32 = 2;
    /// The process is a kernel thread (PF_KTHREAD).
    pub const KERNEL_THREAD: u32 = 4;
    /// The argv could not be read from the process's memory: `args_len` is 0, but the argv
    /// is unknown, not empty.
    pub const ARGS_UNREADABLE: u32 = 8;
    /// Exit only: this kernel keeps no block I/O counts (no `task_struct.ioac`), so the
    /// usage's byte counts are unknown, not zero.
    pub const NO_IO_ACCOUNTING: u32 = 16;
}

/// A [`KernelOffsets`] member this kernel does not have; the probe skips what it locates.
pub const ABSENT: u32 = u32::MAX;

/// The most bytes of one kernel structure the probe reads in one go for an exit's usage:
/// one read of a span costs about what one of a single count does. A power of two, for a
/// mask the verifier understands.
pub const USAGE_SPAN_BYTES: usize = 512;

/// One event as the probe writes it into the ring buffer. An exec record is followed by
/// `filename_len` bytes of file name (NUL included) and `args_len` bytes of argv.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RawEvent {
    /// CLOCK_BOOTTIME of the event, in nanoseconds.
    pub ts_ns: u64,
    /// CLOCK_BOOTTIME at which the process (its thread group leader) started.
    pub start_ns: u64,
    /// cgroup v2 id of the task that ran the event.
    pub cgroup_id: u64,
    pub kind: u32,
    /// Thread group id: the process id users see.
    pub pid: u32,
    /// Id of the thread concerned.
    pub tid: u32,
    /// Process id of the real parent.
    pub ppid: u32,
    pub uid: u32,
    pub euid: u32,
    pub gid: u32,
    pub egid: u32,
    /// Exit only: the raw wait status (as `waitpid` would report it).
    pub exit_status: u32,
    pub flags: u32,
    /// Exec only: bytes of file name that follow the record, NUL included.
    pub filename_len: u16,
    /// Exec only: bytes of argv that follow the file name.
    pub args_len: u16,
    pub comm: [u8; COMM_LEN],
    /// Inode of the process's PID namespace (`ns.inum`); 0 if unknown.
    pub pid_ns: u32,
    /// The process id (tgid) as seen inside that namespace; 0 if unknown.
    pub ns_pid: u32,
    /// Keeps the record a multiple of 8 bytes.
    pub _pad: u32,
}

// Records follow each other in the ring buffer at 8-byte alignment, and an exec's file name
// follows its record directly.
const _: () = assert!(size_of::<RawEvent>().is_multiple_of(8));

/// What the kernel accounted to a whole process when its last thread exits: the sums over
/// the exiting thread, the threads released before it (`signal_struct`) and a zombie
/// group leader. Times are the kernel's raw ones; user space splits the precise run time
/// in the ratio of the tick-sampled user and system times, as `getrusage` does.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExitUsage {
    /// Tick-sampled user time, nanoseconds (`utime`).
    pub utime_ns: u64,
    /// Tick-sampled system time, nanoseconds (`stime`).
    pub stime_ns: u64,
    /// Precise CPU time, nanoseconds (`se.sum_exec_runtime`, `sum_sched_runtime`).
    pub runtime_ns: u64,
    /// Peak resident memory in pages (`signal_struct.maxrss`).
    pub max_rss_pages: u64,
    pub read_bytes: u64,
    pub write_bytes: u64,
    pub voluntary_switches: u64,
    pub involuntary_switches: u64,
}

/// An exit record: the event, then what the process cost.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExitRecord {
    pub event: RawEvent,
    pub usage: ExitUsage,
}

/// The probe's per-CPU scratch space for assembling an exec record, which is too big for
/// the BPF stack.
#[repr(C)]
pub struct ExecRecord {
    pub event: RawEvent,
    pub data: [u8; FILENAME_CAP + ARGS_CAP],
}

/// One task as the task iterator writes it, one record per task (thread): user space adds
/// up the threads of each process. The fields marked "leader" are read from, and only
/// meaningful in, the record of a thread group's leader.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskSample {
    /// CLOCK_BOOTTIME at which the process (its leader) started.
    pub start_ns: u64,
    /// CPU time of this thread so far (`se.sum_exec_runtime`).
    pub runtime_ns: u64,
    /// Leader: CPU time of the process's ended threads (`signal->sum_sched_runtime`).
    pub ended_threads_ns: u64,
    /// Leader: resident pages, file, anonymous and shared memory together, as VmRSS.
    pub rss_pages: i64,
    pub tgid: u32,
    pub tid: u32,
    /// Leader: the real parent's process id.
    pub ppid: u32,
    /// Leader: live threads (`signal->nr_threads`).
    pub threads: u32,
    /// `__state` and `exit_state`, from which /proc makes its state letter.
    pub state: u32,
    pub exit_state: u32,
    /// `task_struct.flags` (PF_KTHREAD).
    pub task_flags: u32,
    pub comm: [u8; COMM_LEN],
    /// Keeps the record a multiple of 8 bytes.
    pub _pad: u32,
}

const _: () = assert!(size_of::<TaskSample>().is_multiple_of(8));

/// Where the task iterator finds what it reads beyond [`KernelOffsets`], from the running
/// kernel's BTF like those.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SampleOffsets {
    /// `task_struct.se` + `sched_entity.sum_exec_runtime`.
    pub task_runtime: u32,
    pub task_state: u32,
    pub task_exit_state: u32,
    pub signal_sum_sched_runtime: u32,
    pub signal_nr_threads: u32,
    /// `mm_struct.rss_stat`: an array of `percpu_counter`, one per MM_* counter.
    pub mm_rss_stat: u32,
    pub percpu_counter_size: u32,
    pub percpu_counter_count: u32,
}

impl SampleOffsets {
    pub const ZERO: Self = Self {
        task_runtime: 0,
        task_state: 0,
        task_exit_state: 0,
        signal_sum_sched_runtime: 0,
        signal_nr_threads: 0,
        mm_rss_stat: 0,
        percpu_counter_size: 0,
        percpu_counter_count: 0,
    };
}

/// The `mm_struct.rss_stat` counters that make up VmRSS (include/linux/mm_types_task.h):
/// MM_FILEPAGES, MM_ANONPAGES and MM_SHMEMPAGES (MM_SWAPENTS, 2, is not resident).
pub const RSS_COUNTERS: [u32; 3] = [0, 1, 3];

/// Offsets of the kernel structure members the probe reads, looked up in the running
/// kernel's BTF at start-up (Rust eBPF has no CO-RE relocations) and handed to the probe as
/// a read-only global before it is loaded.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelOffsets {
    pub task_pid: u32,
    pub task_tgid: u32,
    pub task_flags: u32,
    pub task_real_parent: u32,
    pub task_group_leader: u32,
    pub task_start_boottime: u32,
    pub task_comm: u32,
    pub task_real_cred: u32,
    pub task_exit_code: u32,
    pub task_signal: u32,
    pub task_mm: u32,
    pub cred_uid: u32,
    pub cred_euid: u32,
    pub cred_gid: u32,
    pub cred_egid: u32,
    pub mm_arg_start: u32,
    pub mm_arg_end: u32,
    pub signal_flags: u32,
    pub signal_group_exit_code: u32,
    pub binprm_filename: u32,
    /// `task_struct.thread_pid`: the `struct pid *` of the task.
    pub task_thread_pid: u32,
    /// `pid.level`: the depth of the task's own PID namespace.
    pub pid_level: u32,
    /// `pid.numbers`: one `struct upid` per namespace level.
    pub pid_numbers: u32,
    /// `sizeof(struct upid)`.
    pub upid_size: u32,
    pub upid_nr: u32,
    pub upid_ns: u32,
    /// `pid_namespace.ns.inum`: the namespace's inode number.
    pub pid_ns_inum: u32,
    /// `signal_struct`'s accounting, which the probe reads in one go: `signal_span_len`
    /// bytes (at most [`USAGE_SPAN_BYTES`]) from offset `signal_span`, and each count's
    /// place in them, in u64s (the I/O counts' [`ABSENT`] without I/O accounting).
    pub signal_span: u32,
    pub signal_span_len: u32,
    pub signal_utime: u32,
    pub signal_stime: u32,
    pub signal_runtime: u32,
    pub signal_nvcsw: u32,
    pub signal_nivcsw: u32,
    pub signal_maxrss: u32,
    pub signal_read_bytes: u32,
    pub signal_write_bytes: u32,
    /// `task_struct`'s times and context switches, read the same way.
    pub task_span: u32,
    pub task_span_len: u32,
    pub task_utime: u32,
    pub task_stime: u32,
    pub task_nvcsw: u32,
    pub task_nivcsw: u32,
    /// Offset of `task_struct.se.sum_exec_runtime`.
    pub task_runtime: u32,
    /// Offset of `task_struct.ioac.read_bytes`, with `write_bytes` right after it;
    /// [`ABSENT`] if the kernel keeps no I/O accounting.
    pub task_read_bytes: u32,
    /// Offset of `ret` in a `syscalls/sys_exit_*` tracepoint record.
    pub syscall_ret: u32,
}

impl KernelOffsets {
    pub const ZERO: Self = Self {
        task_pid: 0,
        task_tgid: 0,
        task_flags: 0,
        task_real_parent: 0,
        task_group_leader: 0,
        task_start_boottime: 0,
        task_comm: 0,
        task_real_cred: 0,
        task_exit_code: 0,
        task_signal: 0,
        task_mm: 0,
        cred_uid: 0,
        cred_euid: 0,
        cred_gid: 0,
        cred_egid: 0,
        mm_arg_start: 0,
        mm_arg_end: 0,
        signal_flags: 0,
        signal_group_exit_code: 0,
        binprm_filename: 0,
        task_thread_pid: 0,
        pid_level: 0,
        pid_numbers: 0,
        upid_size: 0,
        upid_nr: 0,
        upid_ns: 0,
        pid_ns_inum: 0,
        signal_span: 0,
        signal_span_len: 0,
        signal_utime: 0,
        signal_stime: 0,
        signal_runtime: 0,
        signal_nvcsw: 0,
        signal_nivcsw: 0,
        signal_maxrss: 0,
        signal_read_bytes: 0,
        signal_write_bytes: 0,
        task_span: 0,
        task_span_len: 0,
        task_utime: 0,
        task_stime: 0,
        task_nvcsw: 0,
        task_nivcsw: 0,
        task_runtime: 0,
        task_read_bytes: 0,
        syscall_ret: 0,
    };
}

// SAFETY: plain `repr(C)` integers with explicit padding, valid for any bit pattern.
#[cfg(feature = "user")]
unsafe impl aya::Pod for KernelOffsets {}

// SAFETY: as KernelOffsets: plain u32s, no padding.
#[cfg(feature = "user")]
unsafe impl aya::Pod for SampleOffsets {}

/// The most processes the probe follows at once ([`names::map::FOLLOWED`]): more than
/// pid_max allows by default, so only stale entries can fill it.
pub const FOLLOWED_CAP: u32 = 65_536;
/// The most followed subtrees: one bit each in [`Followed::roots`].
pub const FOLLOWED_ROOTS_CAP: u32 = 64;

/// A followed process, by its pid (tgid) in [`names::map::FOLLOWED`]; a followed subtree's
/// root, by its pid in [`names::map::FOLLOWED_ROOTS`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Followed {
    /// CLOCK_BOOTTIME at which the process started; compared in clock ticks
    /// ([`FollowSettings::tick_ns`]), the resolution /proc gives, so that entries seeded
    /// from /proc match.
    pub start_ns: u64,
    /// Which followed subtrees it is in, a bit each (in `FOLLOWED_ROOTS`: the subtrees it is
    /// the root of).
    pub roots: u64,
}

/// What user space asks of the probe's following ([`names::map::FOLLOW_SETTINGS`], one
/// entry). All zero: nothing followed, every event sent.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FollowSettings {
    /// Send only the events of followed processes (and loss reports): 1; else 0.
    pub only_followed: u64,
    /// The subtrees being followed, a bit each; a bit not here is ignored in the map (so
    /// a subtree stops being followed at once, before its bits are swept).
    pub active_roots: u64,
    /// Nanoseconds per clock tick (USER_HZ), the resolution start times are compared in.
    pub tick_ns: u64,
}

// SAFETY: plain `repr(C)` u64s, no padding.
#[cfg(feature = "user")]
unsafe impl aya::Pod for Followed {}

// SAFETY: plain `repr(C)` u64s, no padding.
#[cfg(feature = "user")]
unsafe impl aya::Pod for FollowSettings {}
