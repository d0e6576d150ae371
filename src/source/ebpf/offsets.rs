//! Where the probe finds what it reads: kernel structure members from the running
//! kernel's BTF, and the syscall tracepoints' `ret` from their format files.

use anyhow::{Context, Result, bail};
use forkwatch_abi::{ABSENT, KernelOffsets, SampleOffsets, USAGE_SPAN_BYTES};

use super::{Btf, GID_SYSCALLS, TRACEFS, UID_SYSCALLS};

/// Offset of `ret` in the set*id syscall exit tracepoints, from their format files.
fn syscall_ret_offset() -> Result<u32> {
    let mut found = None;
    for syscall in UID_SYSCALLS.iter().chain(&GID_SYSCALLS) {
        let path = format!("{TRACEFS}/events/syscalls/sys_exit_{syscall}/format");
        let format = std::fs::read_to_string(&path).with_context(|| {
            format!("cannot read {path} (a kernel with CONFIG_FTRACE_SYSCALLS is needed)")
        })?;
        let offset = format
            .lines()
            .find(|l| l.contains(" ret;"))
            .and_then(|l| l.split("offset:").nth(1))
            .and_then(|rest| rest.split(';').next())
            .and_then(|n| n.parse::<u32>().ok())
            .with_context(|| format!("no `ret` field in {path}"))?;
        if found.is_some_and(|f| f != offset) {
            bail!("the set*id tracepoints disagree on where `ret` is");
        }
        found = Some(offset);
    }
    found.context("no set*id tracepoints")
}

/// Members of one structure that the probe reads in one go: where the span starts, its
/// length, and each member's place in it in u64s ([`ABSENT`] for a member not there).
struct Span<const N: usize> {
    start: u32,
    len: u32,
    places: [u32; N],
}

impl<const N: usize> Span<N> {
    fn of(strukt: &str, offsets: [Option<u32>; N]) -> Result<Self> {
        let present = || offsets.iter().flatten().copied();
        let start = present().min().context("no members")?;
        let len = present().max().context("no members")? + 8 - start;
        if len as usize > USAGE_SPAN_BYTES {
            bail!(
                "this kernel's {strukt} keeps its accounting in {len} bytes; forkwatch's probe \
                 reads at most {USAGE_SPAN_BYTES}"
            );
        }
        if present().any(|offset| (offset - start) % 8 != 0) {
            bail!("this kernel's {strukt} accounting is not made of aligned 64-bit counts");
        }
        let places = offsets.map(|o| o.map_or(ABSENT, |offset| (offset - start) / 8));
        Ok(Self { start, len, places })
    }
}

/// Offset of the block I/O byte counts `read_bytes` and `write_bytes` in `strukt`; `None`
/// in a kernel built without I/O accounting, where `ioac` is missing.
fn io_bytes(btf: &Btf, strukt: &str) -> Result<Option<(u32, u32)>> {
    let Ok(ioac) = btf.member_offset(strukt, "ioac") else {
        return Ok(None);
    };
    let io = |m| {
        btf.member_offset("task_io_accounting", m)
            .map(|at| ioac + at)
    };
    Ok(Some((io("read_bytes")?, io("write_bytes")?)))
}

/// Where the probe finds what the kernel accounted to a process that exits.
fn usage_offsets(btf: &Btf, offsets: &mut KernelOffsets) -> Result<()> {
    let signal = |m| btf.member_offset("signal_struct", m).map(Some);
    let io = io_bytes(btf, "signal_struct")?;
    let span = Span::of(
        "signal_struct",
        [
            signal("utime")?,
            signal("stime")?,
            signal("sum_sched_runtime")?,
            signal("nvcsw")?,
            signal("nivcsw")?,
            signal("maxrss")?,
            io.map(|(read, _)| read),
            io.map(|(_, write)| write),
        ],
    )?;
    let [utime, stime, runtime, nvcsw, nivcsw, maxrss, read, write] = span.places;
    offsets.signal_span = span.start;
    offsets.signal_span_len = span.len;
    (offsets.signal_utime, offsets.signal_stime) = (utime, stime);
    (offsets.signal_runtime, offsets.signal_maxrss) = (runtime, maxrss);
    (offsets.signal_nvcsw, offsets.signal_nivcsw) = (nvcsw, nivcsw);
    (offsets.signal_read_bytes, offsets.signal_write_bytes) = (read, write);

    let task = |m| btf.member_offset("task_struct", m).map(Some);
    let span = Span::of(
        "task_struct",
        [
            task("utime")?,
            task("stime")?,
            task("nvcsw")?,
            task("nivcsw")?,
        ],
    )?;
    let [utime, stime, nvcsw, nivcsw] = span.places;
    offsets.task_span = span.start;
    offsets.task_span_len = span.len;
    (offsets.task_utime, offsets.task_stime) = (utime, stime);
    (offsets.task_nvcsw, offsets.task_nivcsw) = (nvcsw, nivcsw);
    offsets.task_runtime = btf.member_offset("task_struct", "se")?
        + btf.member_offset("sched_entity", "sum_exec_runtime")?;
    // The probe reads the two at once.
    offsets.task_read_bytes = match io_bytes(btf, "task_struct")? {
        Some((read, write)) if write == read + 8 => read,
        Some(_) => bail!("in this kernel, ioac.write_bytes does not follow ioac.read_bytes"),
        None => ABSENT,
    };
    Ok(())
}

/// Member offsets of the kernel structures the probe reads.
pub(super) fn kernel_offsets(btf: &Btf) -> Result<KernelOffsets> {
    let mut offsets = base_offsets(btf)?;
    usage_offsets(btf, &mut offsets)?;
    Ok(offsets)
}

/// The offsets every event needs.
fn base_offsets(btf: &Btf) -> Result<KernelOffsets> {
    let task = |m| btf.member_offset("task_struct", m);
    let cred = |m| btf.member_offset("cred", m);
    let mm = |m| btf.member_offset("mm_struct", m);
    let signal = |m| btf.member_offset("signal_struct", m);
    Ok(KernelOffsets {
        task_pid: task("pid")?,
        task_tgid: task("tgid")?,
        task_flags: task("flags")?,
        task_real_parent: task("real_parent")?,
        task_group_leader: task("group_leader")?,
        task_start_boottime: task("start_boottime")?,
        task_comm: task("comm")?,
        task_real_cred: task("real_cred")?,
        task_exit_code: task("exit_code")?,
        task_signal: task("signal")?,
        task_mm: task("mm")?,
        cred_uid: cred("uid")?,
        cred_euid: cred("euid")?,
        cred_gid: cred("gid")?,
        cred_egid: cred("egid")?,
        mm_arg_start: mm("arg_start")?,
        mm_arg_end: mm("arg_end")?,
        signal_flags: signal("flags")?,
        signal_group_exit_code: signal("group_exit_code")?,
        binprm_filename: btf.member_offset("linux_binprm", "filename")?,
        task_thread_pid: task("thread_pid")?,
        pid_level: btf.member_offset("pid", "level")?,
        pid_numbers: btf.member_offset("pid", "numbers")?,
        upid_size: btf.struct_size("upid")?,
        upid_nr: btf.member_offset("upid", "nr")?,
        upid_ns: btf.member_offset("upid", "ns")?,
        pid_ns_inum: btf.member_offset("pid_namespace", "ns")?
            + btf.member_offset("ns_common", "inum")?,
        syscall_ret: syscall_ret_offset()?,
        ..KernelOffsets::ZERO
    })
}

/// Member offsets of what the task iterator reads beyond [`kernel_offsets`].
pub(super) fn sample_offsets(btf: &Btf) -> Result<SampleOffsets> {
    let task = |m| btf.member_offset("task_struct", m);
    let signal = |m| btf.member_offset("signal_struct", m);
    Ok(SampleOffsets {
        task_runtime: task("se")? + btf.member_offset("sched_entity", "sum_exec_runtime")?,
        task_state: task("__state")?,
        task_exit_state: task("exit_state")?,
        signal_sum_sched_runtime: signal("sum_sched_runtime")?,
        signal_nr_threads: signal("nr_threads")?,
        mm_rss_stat: btf.member_offset("mm_struct", "rss_stat")?,
        percpu_counter_size: btf.struct_size("percpu_counter")?,
        percpu_counter_count: btf.member_offset("percpu_counter", "count")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_span_gives_each_member_its_place() {
        let span = Span::of("s", [Some(440), Some(432), None, Some(672)]).unwrap();
        assert_eq!(
            (span.start, span.len, span.places),
            (432, 248, [1, 0, ABSENT, 30])
        );
        let too_long = Span::of("s", [Some(0), Some(512)]).err().unwrap();
        assert_eq!(
            too_long.to_string(),
            "this kernel's s keeps its accounting in 520 bytes; forkwatch's probe reads at most 512"
        );
        assert!(Span::of("s", [Some(0), Some(12)]).is_err(), "not aligned");
    }

    #[test]
    fn the_running_kernel_keeps_its_accounting_in_spans() {
        let btf = Btf::from_sys_fs().expect("this project's machines have kernel BTF");
        let mut offsets = KernelOffsets::ZERO;
        usage_offsets(&btf, &mut offsets).unwrap();
        let utime = btf.member_offset("signal_struct", "utime").unwrap();
        assert_eq!(offsets.signal_span + 8 * offsets.signal_utime, utime);
        // This kernel has CONFIG_TASK_IO_ACCOUNTING.
        assert_ne!(offsets.task_read_bytes, ABSENT);
        assert_ne!(offsets.signal_read_bytes, ABSENT);
        assert!(offsets.task_span_len > 0 && offsets.task_span_len as usize <= USAGE_SPAN_BYTES);
    }
}
