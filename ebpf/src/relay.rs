//! The in-kernel relay: for each event, the signals the relay rules in [`RELAYS`] ask for,
//! sent from the event's own tracepoint with `bpf_send_signal_task`. These programs are
//! loaded only when rules are relayed in the kernel, and attached after the event
//! programs, which run first on the same tracepoints.

use core::arch::asm;

use aya_ebpf::{
    macros::{btf_tracepoint, map},
    maps::{Array, PerCpuArray},
    programs::BtfTracePointContext,
};
use forkwatch_abi::{
    kind,
    relay::{KMONITOR_BITS, RELAY_ENTRIES, RelayCounts, RelayEntry, kfunc, layout, matching},
};

use crate::{OFFSETS, follow, read};

/// The rules, one entry per rule and target; written by user space, emptied here when a
/// target exits.
#[map]
static RELAYS: Array<RelayEntry> = Array::with_max_entries(RELAY_ENTRIES, 0);

/// How many entries from the start may be in use: the rest are not looked at, so with
/// no rule an event costs one lookup here.
#[map]
static RELAY_USED: Array<u32> = Array::with_max_entries(1, 0);

/// What became of each entry's signals.
#[map]
static RELAY_COUNTS: PerCpuArray<RelayCounts> = PerCpuArray::with_max_entries(RELAY_ENTRIES, 0);

/// Per CPU, the entry (plus one) whose signal is on its way: the kfunc queues the send as
/// work the kernel runs on this CPU once the tracepoint is done (tracepoints run with
/// preemption off), and returns 0 whatever becomes of it. [`relay_signal`] sees that
/// work's result. One is on its way at a time: the kfunc refuses a second (EBUSY).
#[map]
static RELAY_IN_FLIGHT: PerCpuArray<u32> = PerCpuArray::with_max_entries(1, 0);

/// `PIDTYPE_TGID`: the signal goes to the process, as pidfd_send_signal sends it.
const PIDTYPE_TGID: u64 = 1;
/// `SI_KERNEL`: the si_code of the siginfo the kfunc builds.
const SI_KERNEL: i32 = 0x80;
/// `TRACE_SIGNAL_DELIVERED`: the result signal_generate reports for a queued signal.
const DELIVERED: i32 = 0;

/// What the rules look at in an event.
struct Relayed {
    kind: u32,
    pid: u32,
    ppid: u32,
    start_ns: u64,
    parent_start_ns: u64,
    /// The followed subtrees it is in.
    roots: u64,
}

impl Relayed {
    #[inline(always)]
    fn of(task: *const u8, kind: u32) -> Self {
        let leader: *const u8 = read(task, offset!(task_group_leader));
        let parent: *const u8 = read(task, offset!(task_real_parent));
        let parent_leader: *const u8 = read(parent, offset!(task_group_leader));
        let pid: u32 = read(task, offset!(task_tgid));
        let start_ns: u64 = read(leader, offset!(task_start_boottime));
        Self {
            kind,
            pid,
            ppid: read(parent, offset!(task_tgid)),
            start_ns,
            parent_start_ns: read(parent_leader, offset!(task_start_boottime)),
            roots: follow::roots_after(pid, start_ns, kind == kind::EXIT),
        }
    }
}

/// sched_process_fork: a new process or thread, relayed.
#[btf_tracepoint(function = "sched_process_fork")]
pub fn relay_fork(ctx: BtfTracePointContext) -> i32 {
    if used() == 0 {
        return 0;
    }
    let child: *const u8 = ctx.arg(1);
    let pid: u32 = read(child, offset!(task_tgid));
    let tid: u32 = read(child, offset!(task_pid));
    let event_kind = if pid == tid {
        kind::FORK
    } else {
        kind::THREAD_START
    };
    relay(&Relayed::of(child, event_kind));
    0
}

/// sched_process_exec: relayed.
#[btf_tracepoint(function = "sched_process_exec")]
pub fn relay_exec(ctx: BtfTracePointContext) -> i32 {
    if used() == 0 {
        return 0;
    }
    relay(&Relayed::of(ctx.arg(0), kind::EXEC));
    0
}

/// sched_process_exit: relayed; a process that exits stops being a target.
#[btf_tracepoint(function = "sched_process_exit")]
pub fn relay_exit(ctx: BtfTracePointContext) -> i32 {
    if used() == 0 {
        return 0;
    }
    let task: *const u8 = ctx.arg(0);
    let group_dead: u64 = ctx.arg(1);
    if group_dead & 0xff == 0 {
        relay(&Relayed::of(task, kind::THREAD_EXIT));
        return 0;
    }
    let event = Relayed::of(task, kind::EXIT);
    relay(&event);
    forget_target(&event);
    0
}

#[inline(always)]
fn relay(event: &Relayed) {
    let bit = 1u32 << (event.kind & 7);
    let used = used();
    for at in 0..RELAY_ENTRIES {
        if at >= used {
            return;
        }
        let Some(entry) = RELAYS.get(at) else {
            return;
        };
        if entry.kinds & bit == 0 || !matches(entry, event) {
            continue;
        }
        let (high, low) = match entry.layout {
            layout::KMONITOR => (event.pid, KMONITOR_BITS[(event.kind & 7) as usize]),
            _ => (event.ppid, event.pid),
        };
        let value = (u64::from(high) << 32) | u64::from(low);
        send(at, entry, value);
    }
}

#[inline(always)]
fn used() -> u32 {
    RELAY_USED.get(0).copied().unwrap_or(0)
}

#[inline(always)]
fn matches(entry: &RelayEntry, event: &Relayed) -> bool {
    match entry.matching {
        matching::ANY => true,
        // The process's own events, and the forks it makes (whose event is the child's).
        matching::PROCESS => {
            let own = event.pid == entry.match_pid
                && ticks(event.start_ns, entry.tick_ns) == entry.match_start_ticks;
            let its_fork = event.kind == kind::FORK
                && event.ppid == entry.match_pid
                && ticks(event.parent_start_ns, entry.tick_ns) == entry.match_start_ticks;
            own || its_fork
        }
        // A fork is the child's event: it matches when the child was born into the subtree.
        matching::SUBTREE => {
            let bit = follow::root_bit(entry.match_pid, entry.match_start_ticks);
            bit != 0 && event.roots & bit != 0
        }
        _ => false,
    }
}

#[inline(always)]
fn ticks(ns: u64, tick_ns: u64) -> u64 {
    ns.checked_div(tick_ns).unwrap_or(0)
}

/// Signals the entry's target with `value`, if the task with its pid is the target, and
/// counts what came of it.
#[inline(always)]
fn send(at: u32, entry: &RelayEntry, value: u64) {
    let task = task_from_pid(entry.target_pid);
    if task.is_null() {
        count(at, Outcome::Gone);
        return;
    }
    let start_ns: u64 = read(task, offset!(task_start_boottime));
    if ticks(start_ns, entry.tick_ns) != entry.target_start_ticks {
        count(at, Outcome::Gone);
    } else {
        // Counted before the call: the send's work can run, and `relay_signal` with it,
        // before the call returns.
        count(at, Outcome::Sent);
        let before = set_in_flight(at + 1);
        if send_signal_task(task, entry.signal, value) != 0 {
            set_in_flight(before);
            // EBUSY: another signal of this CPU is still on its way; EPERM: the thread
            // with the target's pid is exiting (a process whose main thread has ended,
            // which the kfunc cannot signal).
            count(at, Outcome::Undelivered);
        }
    }
    task_release(task);
}

/// What came of one signal, for its entry's counts.
#[derive(Clone, Copy)]
enum Outcome {
    Sent,
    /// Counted as sent, then not queued: moved to undelivered.
    Undelivered,
    Gone,
}

#[inline(always)]
fn count(at: u32, outcome: Outcome) {
    let Some(counts) = RELAY_COUNTS.get_ptr_mut(at) else {
        return;
    };
    // SAFETY: this CPU's slot. `relay_signal` may run nested in a relay program (from the
    // send's self-interrupt), but only after the send was counted.
    unsafe {
        match outcome {
            Outcome::Sent => (*counts).sent += 1,
            Outcome::Undelivered => {
                (*counts).sent = (*counts).sent.wrapping_sub(1);
                (*counts).undelivered += 1;
            }
            Outcome::Gone => (*counts).target_gone += 1,
        }
    }
}

/// Sets this CPU's signal on its way; the one set before.
#[inline(always)]
fn set_in_flight(entry: u32) -> u32 {
    match RELAY_IN_FLIGHT.get_ptr_mut(0) {
        // SAFETY: this CPU's slot.
        Some(slot) => unsafe { core::mem::replace(&mut *slot, entry) },
        None => 0,
    }
}

/// signal_generate(sig, info, task, group, result): what became of a signal. For the one
/// this CPU's relay has on its way, a signal not queued (a full queue: the target's
/// RLIMIT_SIGPENDING) moves from sent to undelivered.
#[btf_tracepoint(function = "signal_generate")]
pub fn relay_signal(ctx: BtfTracePointContext) -> i32 {
    let in_flight = set_in_flight(0);
    if in_flight == 0 {
        return 0;
    }
    let at = in_flight - 1;
    let Some(entry) = RELAYS.get(at) else {
        return 0;
    };
    let sig: u64 = ctx.arg(0);
    let info: *const u8 = ctx.arg(1);
    let task: *const u8 = ctx.arg(2);
    let result: u64 = ctx.arg(4);
    let code: i32 = read(info, 8);
    let pid: u32 = read(task, offset!(task_tgid));
    if sig as u32 != entry.signal || code != SI_KERNEL || pid != entry.target_pid {
        // Another signal, raised while ours waits: ours is still on its way.
        set_in_flight(in_flight);
        return 0;
    }
    if result as i32 != DELIVERED {
        // The work runs on the CPU that counted the signal as sent.
        count(at, Outcome::Undelivered);
    }
    0
}

/// Empties the entries whose target is the process that exits.
#[inline(always)]
fn forget_target(event: &Relayed) {
    let used = used();
    for at in 0..RELAY_ENTRIES {
        if at >= used {
            return;
        }
        let Some(entry) = RELAYS.get_ptr_mut(at) else {
            return;
        };
        // SAFETY: an entry of the array map; user space rewrites entries whole, and a race
        // at worst leaves an entry whose target's start time no longer matches any task.
        unsafe {
            if (*entry).matching != matching::NONE
                && (*entry).target_pid == event.pid
                && ticks(event.start_ns, (*entry).tick_ns) == (*entry).target_start_ticks
            {
                (*entry).matching = matching::NONE;
            }
        }
    }
}

/// `bpf_task_from_pid`: the task with this pid, referenced; null if there is none.
#[inline(always)]
fn task_from_pid(pid: u32) -> *const u8 {
    let task: *const u8;
    // SAFETY: a kfunc call (rewritten by the loader) with the BPF calling convention: r1 in,
    // r0 out, r1-r5 clobbered.
    unsafe {
        asm!(
            "call {f}",
            f = const kfunc::TASK_FROM_PID,
            inlateout("r1") u64::from(pid) => _,
            lateout("r0") task,
            lateout("r2") _, lateout("r3") _, lateout("r4") _, lateout("r5") _,
        );
    }
    task
}

/// `bpf_task_release`: drops the reference `task_from_pid` took.
#[inline(always)]
fn task_release(task: *const u8) {
    // SAFETY: as task_from_pid.
    unsafe {
        asm!(
            "call {f}",
            f = const kfunc::TASK_RELEASE,
            inlateout("r1") task => _,
            lateout("r0") _,
            lateout("r2") _, lateout("r3") _, lateout("r4") _, lateout("r5") _,
        );
    }
}

/// `bpf_send_signal_task`: queues `signal` with `value` to the task's process; 0 or a
/// negative errno.
#[inline(always)]
fn send_signal_task(task: *const u8, signal: u32, value: u64) -> i64 {
    let result: i64;
    // SAFETY: as task_from_pid.
    unsafe {
        asm!(
            "call {f}",
            f = const kfunc::SEND_SIGNAL_TASK,
            inlateout("r1") task => _,
            inlateout("r2") u64::from(signal) => _,
            inlateout("r3") PIDTYPE_TGID => _,
            inlateout("r4") value => _,
            lateout("r0") result,
            lateout("r5") _,
        );
    }
    // The kfunc returns an int: its sign is in the low 32 bits.
    i64::from(result as i32)
}
