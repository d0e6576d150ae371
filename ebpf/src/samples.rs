//! The task iterator: one [`TaskSample`] per task on the machine, written to the reader of
//! an iterator instance (user space makes one per sampling round and reads it to the end).
//! aya-ebpf has no macro for iterators: the section name and the context are spelled here.

use core::{ffi::c_void, ptr};

use aya_ebpf::helpers::generated::bpf_seq_write;
use forkwatch_abi::{COMM_LEN, RSS_COUNTERS, SampleOffsets, TaskSample};

use crate::{OFFSETS, read};

/// Filled in by user space from the running kernel's BTF before load.
#[unsafe(no_mangle)]
static SAMPLE_OFFSETS: SampleOffsets = SampleOffsets::ZERO;

macro_rules! sample_offset {
    ($field:ident) => {
        // SAFETY: as `offset!`: a global the loader filled in, read so it is not folded.
        unsafe { ptr::read_volatile(&SAMPLE_OFFSETS.$field) as usize }
    };
}

/// `struct bpf_iter__task`: the context of a task iterator program.
#[repr(C)]
struct IterTask {
    meta: *const IterMeta,
    /// NULL in the last call, after the last task.
    task: *const u8,
}

/// `struct bpf_iter_meta`.
#[repr(C)]
struct IterMeta {
    seq: *mut c_void,
}

#[unsafe(no_mangle)]
#[unsafe(link_section = "iter/task")]
pub fn task_samples(ctx: *mut c_void) -> i32 {
    // SAFETY: the kernel passes a `bpf_iter__task`; its fields are read directly (not
    // through a helper), so the verifier knows `seq` for what it is.
    let (meta, task) = unsafe {
        let ctx = ctx as *const IterTask;
        ((*ctx).meta, (*ctx).task)
    };
    if task.is_null() {
        return 0;
    }
    let mut record = describe(task);
    // SAFETY: `meta` is the kernel's, valid for this call; the record is on the stack.
    unsafe {
        let seq = (*meta).seq;
        bpf_seq_write(
            seq.cast(),
            ptr::from_mut(&mut record).cast(),
            size_of::<TaskSample>() as u32,
        );
    }
    0
}

#[inline(always)]
fn describe(task: *const u8) -> TaskSample {
    let tgid: u32 = read(task, offset!(task_tgid));
    let tid: u32 = read(task, offset!(task_pid));
    let mut record = TaskSample {
        runtime_ns: read(task, sample_offset!(task_runtime)),
        tgid,
        tid,
        state: read(task, sample_offset!(task_state)),
        exit_state: read(task, sample_offset!(task_exit_state)),
        task_flags: read(task, offset!(task_flags)),
        ..TaskSample::default()
    };
    if tgid != tid {
        return record;
    }
    let parent: *const u8 = read(task, offset!(task_real_parent));
    let signal: *const u8 = read(task, offset!(task_signal));
    record.start_ns = read(task, offset!(task_start_boottime));
    record.ppid = read(parent, offset!(task_tgid));
    record.ended_threads_ns = read(signal, sample_offset!(signal_sum_sched_runtime));
    record.threads = read(signal, sample_offset!(signal_nr_threads));
    record.comm = read::<[u8; COMM_LEN]>(task, offset!(task_comm));
    let mm: *const u8 = read(task, offset!(task_mm));
    if !mm.is_null() {
        let counters = sample_offset!(mm_rss_stat);
        let size = sample_offset!(percpu_counter_size);
        let count = sample_offset!(percpu_counter_count);
        for counter in RSS_COUNTERS {
            // The counter's shared count, as /proc/<pid>/stat reads it: approximate by the
            // per-CPU parts not yet folded into it; a negative one counts as none.
            let pages: i64 = read(mm, counters + counter as usize * size + count);
            record.rss_pages += pages.max(0);
        }
    }
    record
}
