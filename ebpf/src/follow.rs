//! Follow-forks: the processes of the subtrees user space follows, kept in the kernel
//! (Tetragon's follow-children), so that with `only_followed` set only their events cross
//! into user space.
//!
//! The membership rule is that of forkwatch's pins (README "Who is in a subtree"):
//! - a process forked (not a thread) by a member joins with its parent's subtrees;
//! - a member leaves when it exits;
//! - at each event of a member, its parent is checked: one that is neither pid 1 nor a
//!   member of a subtree (re-parenting to a subreaper outside) takes that subtree from it,
//!   unless it is that subtree's root. Its descendants leave the same way at their next
//!   event, their parent being gone from the map;
//! - a process is its pid and start time: an entry whose start time is another is stale
//!   (a reused pid) and is removed when met.

use aya_ebpf::{
    bindings::{BPF_ANY, BPF_F_NO_PREALLOC},
    macros::map,
    maps::{Array, HashMap, PerCpuArray},
};
use forkwatch_abi::{FOLLOWED_CAP, FOLLOWED_ROOTS_CAP, FollowSettings, Followed};

/// `PF_EXITING` from include/linux/sched.h: set on a task as its exit begins.
const PF_EXITING: u32 = 0x0000_0004;

use crate::{OFFSETS, count_lost, read};

/// Allocated as entries come (not all at load): most runs follow nothing.
#[map]
static FOLLOWED: HashMap<u32, Followed> =
    HashMap::with_max_entries(FOLLOWED_CAP, BPF_F_NO_PREALLOC);

#[map]
static FOLLOWED_ROOTS: HashMap<u32, Followed> = HashMap::with_max_entries(FOLLOWED_ROOTS_CAP, 0);

#[map]
static FOLLOW_SETTINGS: Array<FollowSettings> = Array::with_max_entries(1, 0);

/// Per CPU, the process whose exit this CPU is handling (pid) and the subtrees it was in:
/// its exit takes it out of the map before the relay's exit program asks.
#[map]
static EXITING: PerCpuArray<[u64; 2]> = PerCpuArray::with_max_entries(1, 0);

/// What user space asked; all zero (nothing followed) until it writes.
#[inline(always)]
fn settings() -> FollowSettings {
    FOLLOW_SETTINGS.get(0).copied().unwrap_or_default()
}

/// Whether an event of a process in `roots` (0: none) is sent to user space. For a
/// process's own event, the subtrees it was in before it: the event that shows it
/// re-parented out is the one that tells user space it left.
#[inline(always)]
pub fn emits(roots: u64) -> bool {
    roots != 0 || settings().only_followed == 0
}

/// Whether start times `a` and `b` (ns) fall in the same clock tick.
#[inline(always)]
fn same_start(a: u64, b: u64, tick_ns: u64) -> bool {
    // A tick of 0 (never written) compares exactly.
    match (a.checked_div(tick_ns), b.checked_div(tick_ns)) {
        (Some(a_tick), Some(b_tick)) => a_tick == b_tick,
        _ => a == b,
    }
}

/// The followed subtrees `pid` (started at `start_ns`) is in, as the map says, without
/// checking its parent; 0 if it is not followed.
#[inline(always)]
fn entry_roots(pid: u32, start_ns: u64, s: &FollowSettings) -> u64 {
    // SAFETY: the value is copied out at once; a concurrent update can at worst give a
    // mix of an old and a new bit mask, which the next event corrects.
    match unsafe { FOLLOWED.get(pid) } {
        Some(entry) if same_start(entry.start_ns, start_ns, s.tick_ns) => {
            entry.roots & s.active_roots
        }
        _ => 0,
    }
}

/// The subtrees `task`'s process is the root of.
#[inline(always)]
fn own_roots(pid: u32, start_ns: u64, s: &FollowSettings) -> u64 {
    // SAFETY: as in entry_roots.
    match unsafe { FOLLOWED_ROOTS.get(pid) } {
        Some(root) if same_start(root.start_ns, start_ns, s.tick_ns) => root.roots,
        _ => 0,
    }
}

/// The pid and start time of `task`'s process.
#[inline(always)]
fn identity(task: *const u8) -> (u32, u64) {
    let leader: *const u8 = read(task, offset!(task_group_leader));
    (
        read(task, offset!(task_tgid)),
        read(leader, offset!(task_start_boottime)),
    )
}

/// The subtrees a process was in before an event of its own (what decides whether the
/// event is sent), and is in after the checks (0: none).
#[derive(Clone, Copy)]
pub struct Roots {
    pub before: u64,
    pub now: u64,
}

/// Checks `task`'s process at an event of its own (module documentation): the subtrees it
/// was in and is in now; a process found to have left is removed from the map.
#[inline(always)]
pub fn check(task: *const u8) -> Roots {
    let none = Roots { before: 0, now: 0 };
    let s = settings();
    if s.active_roots == 0 {
        return none;
    }
    let pid: u32 = read(task, offset!(task_tgid));
    // SAFETY: as in entry_roots.
    let Some(entry) = (unsafe { FOLLOWED.get(pid) }).copied() else {
        return none;
    };
    let leader: *const u8 = read(task, offset!(task_group_leader));
    let start_ns: u64 = read(leader, offset!(task_start_boottime));
    if !same_start(entry.start_ns, start_ns, s.tick_ns) {
        // A reused pid: the followed process with it is gone.
        let _ = FOLLOWED.remove(pid);
        return none;
    }
    let before = entry.roots & s.active_roots;
    let mut now = before;
    let parent: *const u8 = read(task, offset!(task_real_parent));
    let (ppid, parent_start) = identity(parent);
    // A parent that is exiting has left the map (at its exit tracepoint) before the kernel
    // hands its children to their new parent (exit_notify, after its memory and files are
    // released): until then its children are not re-parented, whatever the map says.
    let parent_flags: u32 = read(parent, offset!(task_flags));
    if ppid > 1 && parent_flags & PF_EXITING == 0 {
        let kept = entry_roots(ppid, parent_start, &s);
        if now & !kept != 0 {
            now &= kept | own_roots(pid, start_ns, &s);
        }
    }
    if now == 0 {
        let _ = FOLLOWED.remove(pid);
    } else if now != entry.roots {
        let entry = Followed {
            start_ns,
            roots: now,
        };
        let _ = FOLLOWED.insert(pid, entry, BPF_ANY as u64);
    }
    Roots { before, now }
}

/// At a fork or thread start of `child`: the subtrees it is in. A process forked by a
/// member joins its parent's subtrees. The parent is not checked here: user space learns
/// of its re-parenting only from its own next event, and until then counts what it forks
/// in, as this does; both then drop the child with it. A map too full to hold the child
/// counts as lost, so that user space reads /proc again.
#[inline(always)]
pub fn forked(child: *const u8, pid: u32, tid: u32, start_ns: u64) -> u64 {
    if pid != tid {
        return check(child).before;
    }
    let s = settings();
    if s.active_roots == 0 {
        return 0;
    }
    let parent: *const u8 = read(child, offset!(task_real_parent));
    let (ppid, parent_start) = identity(parent);
    let roots = entry_roots(ppid, parent_start, &s);
    if roots != 0 {
        let entry = Followed { start_ns, roots };
        if FOLLOWED.insert(pid, entry, BPF_ANY as u64).is_err() {
            count_lost();
        }
    }
    roots
}

/// At the exit of `task`: the subtrees it was in; the last thread's exit removes it.
#[inline(always)]
pub fn exiting(task: *const u8, group_dead: bool) -> u64 {
    let roots = check(task);
    if group_dead {
        let pid: u32 = read(task, offset!(task_tgid));
        if let Some(exiting) = EXITING.get_ptr_mut(0) {
            // SAFETY: this CPU's slot; the relay's exit program reads it next, on this CPU.
            // Its membership after the check, as for the relay's other events.
            unsafe { *exiting = [u64::from(pid), roots.now] };
        }
        if roots.before != 0 {
            let _ = FOLLOWED.remove(pid);
        }
    }
    roots.before
}

/// The subtrees process `pid` (started at `start_ns`) is in after its event: for the
/// relay, whose programs run after the event programs. At the exit of the process, those
/// it was in after the check its exit made.
#[inline(always)]
pub fn roots_after(pid: u32, start_ns: u64, exited: bool) -> u64 {
    if exited {
        return match EXITING.get(0) {
            Some(&[at, roots]) if at == u64::from(pid) => roots,
            _ => 0,
        };
    }
    let s = settings();
    if s.active_roots == 0 {
        return 0;
    }
    entry_roots(pid, start_ns, &s)
}

/// The bit of the followed subtree whose root is `pid`, started in clock tick
/// `start_ticks`; 0 if that subtree is not followed.
#[inline(always)]
pub fn root_bit(pid: u32, start_ticks: u64) -> u64 {
    let s = settings();
    // SAFETY: as in entry_roots.
    match unsafe { FOLLOWED_ROOTS.get(pid) } {
        Some(root) if root.start_ns.checked_div(s.tick_ns) == Some(start_ticks) => {
            root.roots & s.active_roots
        }
        _ => 0,
    }
}
