//! forkwatch's kernel probe: process lifetime events into one ring buffer.
//!
//! One ring buffer shared by all CPUs keeps events in the order they were reserved, and a
//! fork is reserved before the child can run, so a child never appears before its fork.
//! Every record that cannot be queued is counted in `LOST`.
//!
//! User space finds the maps, globals and programs by name: each is named as
//! `forkwatch_abi::names` says (the macros take only the item's own identifier, so the
//! names are spelled out here again, and a test of the loader checks them).
#![no_std]
#![no_main]
// The kfunc calls of the in-kernel relay are written in assembly (see `relay`).
#![feature(asm_experimental_arch)]

use core::ptr;

use aya_ebpf::{
    bindings::{BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP},
    helpers::generated::{
        bpf_get_current_cgroup_id, bpf_get_current_task, bpf_ktime_get_boot_ns,
        bpf_probe_read_kernel, bpf_probe_read_kernel_str, bpf_probe_read_user,
    },
    macros::{btf_tracepoint, map, tracepoint},
    maps::{PerCpuArray, RingBuf},
    programs::{BtfTracePointContext, TracePointContext},
};
use forkwatch_abi::{
    ABSENT, ARGS_CAP, COMM_LEN, DEFAULT_RING_BYTES, ExecRecord, ExitRecord, ExitUsage,
    FILENAME_CAP, KernelOffsets, PF_KTHREAD, RawEvent, USAGE_SPAN_BYTES, flags, kind,
};

#[map]
static EVENTS: RingBuf = RingBuf::with_byte_size(DEFAULT_RING_BYTES, 0);

/// Records that could not be queued because the ring buffer was full.
#[map]
static LOST: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);

#[map]
static EXEC_SCRATCH: PerCpuArray<ExecRecord> = PerCpuArray::with_max_entries(1, 0);

const SPAN_WORDS: usize = USAGE_SPAN_BYTES / 8;

/// A span of a kernel structure's accounting, read in one go (too big for the stack).
#[map]
static USAGE_SCRATCH: PerCpuArray<[u64; SPAN_WORDS]> = PerCpuArray::with_max_entries(1, 0);

/// Filled in by user space from the running kernel's BTF before load.
#[unsafe(no_mangle)]
static OFFSETS: KernelOffsets = KernelOffsets::ZERO;

/// A record wakes the reader only if the last wakeup was at least this long ago (set by
/// user space). Each wakeup is an interrupt, a VM exit on virtual machines, and cost more
/// than the rest of the program; user space picks up the records written in between by
/// polling again shortly after each wakeup. 0 wakes the reader for every record.
#[unsafe(no_mangle)]
static WAKEUP_GAP_NS: u64 = 0;

/// When the reader was last woken (CLOCK_BOOTTIME). Shared by all CPUs; a race at worst
/// costs one wakeup more or less, and the user-space re-poll covers a missed one.
#[unsafe(no_mangle)]
static mut LAST_WAKEUP_NS: u64 = 0;

/// `SIGNAL_GROUP_EXIT` from include/linux/sched/signal.h.
const SIGNAL_GROUP_EXIT: u32 = 0x0000_0004;

macro_rules! offset {
    ($field:ident) => {
        // SAFETY: a read of a global the loader filled in; volatile so the compiler does not
        // fold the zero it was compiled with.
        unsafe { core::ptr::read_volatile(&OFFSETS.$field) as usize }
    };
}

/// Reads a `T` at `base + off` from kernel memory; zero if the read faults.
#[inline(always)]
fn read<T: Copy>(base: *const u8, off: usize) -> T {
    let mut value = core::mem::MaybeUninit::<T>::zeroed();
    // SAFETY: bpf_probe_read_kernel checks the source address and fills `value` or fails.
    unsafe {
        bpf_probe_read_kernel(
            value.as_mut_ptr().cast(),
            size_of::<T>() as u32,
            base.wrapping_add(off).cast(),
        );
        value.assume_init()
    }
}

mod follow;
mod relay;
mod samples;

fn count_lost() {
    if let Some(lost) = LOST.get_ptr_mut(0) {
        // SAFETY: per-CPU slot; programs on one CPU do not nest (the kernel skips nested runs
        // and counts them as recursion misses, which user space adds to the loss).
        unsafe { *lost += 1 };
    }
}

/// The fields every event carries, read from `task` (the task the event concerns).
#[inline(always)]
fn describe(task: *const u8, event_kind: u32) -> RawEvent {
    describe_with_leader(task, read(task, offset!(task_group_leader)), event_kind)
}

/// [`describe`], for a caller that has read the task's group leader already.
#[inline(always)]
fn describe_with_leader(task: *const u8, leader: *const u8, event_kind: u32) -> RawEvent {
    let parent: *const u8 = read(task, offset!(task_real_parent));
    let cred: *const u8 = read(task, offset!(task_real_cred));
    let task_flags: u32 = read(task, offset!(task_flags));
    let (pid_ns, ns_pid) = namespace_pid(leader);
    RawEvent {
        // SAFETY: helpers without arguments.
        ts_ns: unsafe { bpf_ktime_get_boot_ns() },
        start_ns: read(leader, offset!(task_start_boottime)),
        cgroup_id: unsafe { bpf_get_current_cgroup_id() },
        kind: event_kind,
        pid: read(task, offset!(task_tgid)),
        tid: read(task, offset!(task_pid)),
        ppid: read(parent, offset!(task_tgid)),
        uid: read(cred, offset!(cred_uid)),
        euid: read(cred, offset!(cred_euid)),
        gid: read(cred, offset!(cred_gid)),
        egid: read(cred, offset!(cred_egid)),
        exit_status: 0,
        flags: if task_flags & PF_KTHREAD != 0 {
            flags::KERNEL_THREAD
        } else {
            0
        },
        filename_len: 0,
        args_len: 0,
        comm: read::<[u8; COMM_LEN]>(task, offset!(task_comm)),
        pid_ns,
        ns_pid,
        _pad: 0,
    }
}

/// The PID namespace of `leader` (its inode) and the process's id in it: the last of the
/// ids its `struct pid` holds, one per namespace level. Zeros if a read faults.
#[inline(always)]
fn namespace_pid(leader: *const u8) -> (u32, u32) {
    let pid: *const u8 = read(leader, offset!(task_thread_pid));
    // The kernel nests at most 32 levels (MAX_PID_NS_LEVEL); the mask keeps a bad read
    // from pointing far away.
    let level: u32 = read(pid, offset!(pid_level));
    let upid = offset!(pid_numbers) + (level & 31) as usize * offset!(upid_size);
    let nr: u32 = read(pid, upid + offset!(upid_nr));
    let ns: *const u8 = read(pid, upid + offset!(upid_ns));
    (read(ns, offset!(pid_ns_inum)), nr)
}

/// Ring-buffer flags for a record written at `now`: a forced wakeup at most once per
/// WAKEUP_GAP_NS, none otherwise. Forced, not the kernel's adaptive wakeup: that one skips
/// the wakeup when the reader has not caught up, assuming it is busy reading, but a reader
/// can be idle and behind, waiting for the records that were written without a wakeup.
#[inline(always)]
fn wakeup_flags(now: u64) -> u64 {
    // SAFETY: volatile accesses to globals; see LAST_WAKEUP_NS on races.
    unsafe {
        let gap = ptr::read_volatile(&WAKEUP_GAP_NS);
        let last = ptr::addr_of_mut!(LAST_WAKEUP_NS);
        if now.wrapping_sub(ptr::read_volatile(last)) >= gap {
            ptr::write_volatile(last, now);
            BPF_RB_FORCE_WAKEUP as u64
        } else {
            BPF_RB_NO_WAKEUP as u64
        }
    }
}

#[inline(always)]
fn emit(event: &RawEvent) {
    if EVENTS
        .output::<RawEvent>(event, wakeup_flags(event.ts_ns))
        .is_err()
    {
        count_lost();
    }
}

/// What the whole process cost, as `getrusage` will tell its parent: the exiting thread,
/// the threads released before it (the kernel moved their counts into `signal`) and the
/// group leader when another thread exits last (a zombie leader's counts are in neither).
#[inline(always)]
fn exit_usage(task: *const u8, leader: *const u8, signal: *const u8) -> ExitUsage {
    let mut usage = ExitUsage::default();
    if let Some(span) = read_span(signal, offset!(signal_span), offset!(signal_span_len)) {
        usage.utime_ns = word(span, offset!(signal_utime));
        usage.stime_ns = word(span, offset!(signal_stime));
        usage.runtime_ns = word(span, offset!(signal_runtime));
        usage.voluntary_switches = word(span, offset!(signal_nvcsw));
        usage.involuntary_switches = word(span, offset!(signal_nivcsw));
        // do_exit raised it to the memory's high-water mark before this tracepoint.
        usage.max_rss_pages = word(span, offset!(signal_maxrss));
        if offset!(signal_read_bytes) != ABSENT as usize {
            usage.read_bytes = word(span, offset!(signal_read_bytes));
            usage.write_bytes = word(span, offset!(signal_write_bytes));
        }
    }
    add_task_counts(&mut usage, task);
    if leader != task {
        add_task_counts(&mut usage, leader);
    }
    usage
}

/// Adds what the kernel counted on the thread `task` alone.
#[inline(always)]
fn add_task_counts(usage: &mut ExitUsage, task: *const u8) {
    if let Some(span) = read_span(task, offset!(task_span), offset!(task_span_len)) {
        usage.utime_ns = usage.utime_ns.wrapping_add(word(span, offset!(task_utime)));
        usage.stime_ns = usage.stime_ns.wrapping_add(word(span, offset!(task_stime)));
        let voluntary = word(span, offset!(task_nvcsw));
        let involuntary = word(span, offset!(task_nivcsw));
        usage.voluntary_switches = usage.voluntary_switches.wrapping_add(voluntary);
        usage.involuntary_switches = usage.involuntary_switches.wrapping_add(involuntary);
    }
    usage.runtime_ns = usage
        .runtime_ns
        .wrapping_add(read(task, offset!(task_runtime)));
    let io = offset!(task_read_bytes);
    if io != ABSENT as usize {
        let [read_bytes, write_bytes]: [u64; 2] = read(task, io);
        usage.read_bytes = usage.read_bytes.wrapping_add(read_bytes);
        usage.write_bytes = usage.write_bytes.wrapping_add(write_bytes);
    }
}

/// Reads `len` bytes at `base + start` into this CPU's scratch span (zeros if the read
/// faults), for [`word`] to pick counts from.
#[inline(always)]
fn read_span(base: *const u8, start: usize, len: usize) -> Option<&'static [u64; SPAN_WORDS]> {
    let span = USAGE_SCRATCH.get_ptr_mut(0)?;
    // The mask restates the bound the loader checked in a form the verifier tracks.
    let len = len & (2 * USAGE_SPAN_BYTES - 1);
    if len > USAGE_SPAN_BYTES {
        return None;
    }
    // SAFETY: the helper writes at most `len` <= USAGE_SPAN_BYTES bytes into this CPU's
    // slot, which no other program uses, and zeroes them if the read faults.
    unsafe {
        bpf_probe_read_kernel(span.cast(), len as u32, base.wrapping_add(start).cast());
        Some(&*span)
    }
}

/// The count at `place` (in u64s) of a span.
#[inline(always)]
fn word(span: &[u64; SPAN_WORDS], place: usize) -> u64 {
    span[place & (SPAN_WORDS - 1)]
}

fn current_task() -> *const u8 {
    // SAFETY: helper without arguments.
    unsafe { bpf_get_current_task() as *const u8 }
}

/// sched_process_fork(parent, child): a new process, or a new thread of one.
#[btf_tracepoint(function = "sched_process_fork")]
pub fn fork(ctx: BtfTracePointContext) -> i32 {
    let child: *const u8 = ctx.arg(1);
    let mut event = describe(child, kind::FORK);
    if event.tid != event.pid {
        event.kind = kind::THREAD_START;
    }
    let followed = follow::forked(child, event.pid, event.tid, event.start_ns);
    if follow::emits(followed) {
        emit(&event);
    }
    0
}

/// sched_process_exit(task, group_dead): a thread ended; the last one ends the process.
#[btf_tracepoint(function = "sched_process_exit")]
pub fn exit(ctx: BtfTracePointContext) -> i32 {
    let task: *const u8 = ctx.arg(0);
    let group_dead: u64 = ctx.arg(1);
    if !follow::emits(follow::exiting(task, group_dead & 0xff != 0)) {
        return 0;
    }
    if group_dead & 0xff == 0 {
        emit(&describe(task, kind::THREAD_EXIT));
        return 0;
    }
    let leader: *const u8 = read(task, offset!(task_group_leader));
    let mut event = describe_with_leader(task, leader, kind::EXIT);
    // What wait(2) will report: the group's code once a group exit began, else the task's.
    let signal: *const u8 = read(task, offset!(task_signal));
    let signal_flags: u32 = read(signal, offset!(signal_flags));
    event.exit_status = if signal_flags & SIGNAL_GROUP_EXIT != 0 {
        read(signal, offset!(signal_group_exit_code))
    } else {
        read(task, offset!(task_exit_code))
    };
    if offset!(task_read_bytes) == ABSENT as usize {
        event.flags |= flags::NO_IO_ACCOUNTING;
    }
    let record = ExitRecord {
        event,
        usage: exit_usage(task, leader, signal),
    };
    if EVENTS
        .output::<ExitRecord>(&record, wakeup_flags(record.event.ts_ns))
        .is_err()
    {
        count_lost();
    }
    0
}

/// sched_process_exec(task, old_pid, bprm): the new program, its argv and credentials.
#[btf_tracepoint(function = "sched_process_exec")]
pub fn exec(ctx: BtfTracePointContext) -> i32 {
    let task: *const u8 = ctx.arg(0);
    let bprm: *const u8 = ctx.arg(2);
    if !follow::emits(follow::check(task).before) {
        return 0;
    }
    let Some(record) = EXEC_SCRATCH.get_ptr_mut(0) else {
        return 0;
    };
    // SAFETY: `record` points at this CPU's scratch slot, which no other program uses.
    let record = unsafe { &mut *record };
    record.event = describe(task, kind::EXEC);

    let data = record.data.as_mut_ptr();
    let filename: *const u8 = read(bprm, offset!(binprm_filename));
    // SAFETY: the helper writes at most FILENAME_CAP bytes into the scratch slot.
    let read_len =
        unsafe { bpf_probe_read_kernel_str(data.cast(), FILENAME_CAP as u32, filename.cast()) };
    let mut filename_len = if read_len > 0 { read_len as usize } else { 0 };
    if filename_len >= FILENAME_CAP {
        filename_len = FILENAME_CAP;
        // A name of exactly FILENAME_CAP - 1 bytes fills the buffer too: it was cut only
        // if more than a NUL follows what was kept.
        let next: u8 = read(filename, FILENAME_CAP - 1);
        if next != 0 {
            record.event.flags |= flags::FILENAME_TRUNCATED;
        }
    }

    let mm: *const u8 = read(task, offset!(task_mm));
    let arg_start: u64 = read(mm, offset!(mm_arg_start));
    let arg_end: u64 = read(mm, offset!(mm_arg_end));
    let mut args_len = arg_end.saturating_sub(arg_start) as usize;
    // An exec always has at least one argument (the kernel adds an empty one to an empty
    // argv): an empty area means the bounds could not be read, not an empty argv.
    if args_len == 0 {
        record.event.flags |= flags::ARGS_UNREADABLE;
    }
    if args_len > ARGS_CAP {
        args_len = ARGS_CAP;
        record.event.flags |= flags::ARGS_TRUNCATED;
    }
    // Masks restate the bounds above in a form the verifier tracks.
    let filename_len = filename_len & (2 * FILENAME_CAP - 1);
    let mut args_len = args_len & (2 * ARGS_CAP - 1);
    if filename_len > FILENAME_CAP || args_len > ARGS_CAP {
        return 0;
    }
    // SAFETY: filename_len + args_len <= FILENAME_CAP + ARGS_CAP, the size of `data`.
    let copied = unsafe {
        bpf_probe_read_user(
            data.add(filename_len).cast(),
            args_len as u32,
            arg_start as *const _,
        )
    };
    if copied != 0 {
        args_len = 0;
        record.event.flags &= !flags::ARGS_TRUNCATED;
        record.event.flags |= flags::ARGS_UNREADABLE;
    }
    record.event.filename_len = filename_len as u16;
    record.event.args_len = args_len as u16;

    let size = size_of::<RawEvent>() + filename_len + args_len;
    // SAFETY: `size` is within the scratch slot, bounded as shown above.
    let bytes = unsafe { core::slice::from_raw_parts(ptr::from_ref(record).cast::<u8>(), size) };
    if EVENTS
        .output::<[u8]>(bytes, wakeup_flags(record.event.ts_ns))
        .is_err()
    {
        count_lost();
    }
    0
}

/// A successful setuid, setreuid or setresuid: the new ids.
#[tracepoint]
pub fn uid_change(ctx: TracePointContext) -> u32 {
    credentials_changed(&ctx, kind::UID)
}

/// A successful setgid, setregid or setresgid: the new ids.
#[tracepoint]
pub fn gid_change(ctx: TracePointContext) -> u32 {
    credentials_changed(&ctx, kind::GID)
}

#[inline(always)]
fn credentials_changed(ctx: &TracePointContext, event_kind: u32) -> u32 {
    let ret_offset = offset!(syscall_ret);
    // SAFETY: the offset of `ret` comes from the tracepoint's format file.
    let ret: i64 = unsafe { ctx.read_at(ret_offset) }.unwrap_or(-1);
    if ret == 0 && follow::emits(follow::check(current_task()).before) {
        emit(&describe(current_task(), event_kind));
    }
    0
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
