//! Where the probe finds what it reads: kernel structure members from the running
//! kernel's BTF, and the syscall tracepoints' `ret` from their format files.

use anyhow::{Context, Result, bail};
use forkwatch_abi::{ABSENT, KernelOffsets};

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

/// Offset of the u64 `first` in `strukt`, checked to be followed directly by the u64
/// `second`: the probe reads the two in one go, which halves the cost of its exit reads.
fn pair(btf: &Btf, strukt: &str, first: &str, second: &str) -> Result<u32> {
    let at = btf.member_offset(strukt, first)?;
    if btf.member_offset(strukt, second)? != at + 8 {
        bail!("in this kernel, {strukt}.{second} does not follow {strukt}.{first}");
    }
    Ok(at)
}

/// Offset of the block I/O byte counts (`read_bytes`, then `write_bytes`) in `strukt`;
/// [`ABSENT`] in a kernel built without I/O accounting, where `ioac` is missing.
fn io_bytes(btf: &Btf, strukt: &str) -> Result<u32> {
    let Ok(ioac) = btf.member_offset(strukt, "ioac") else {
        return Ok(ABSENT);
    };
    Ok(ioac + pair(btf, "task_io_accounting", "read_bytes", "write_bytes")?)
}

/// Member offsets of the kernel structures the probe reads.
pub(super) fn kernel_offsets(btf: &Btf) -> Result<KernelOffsets> {
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
        task_utime: pair(btf, "task_struct", "utime", "stime")?,
        task_runtime: task("se")? + btf.member_offset("sched_entity", "sum_exec_runtime")?,
        task_nvcsw: pair(btf, "task_struct", "nvcsw", "nivcsw")?,
        task_read_bytes: io_bytes(btf, "task_struct")?,
        signal_utime: pair(btf, "signal_struct", "utime", "stime")?,
        signal_runtime: signal("sum_sched_runtime")?,
        signal_nvcsw: pair(btf, "signal_struct", "nvcsw", "nivcsw")?,
        signal_maxrss: signal("maxrss")?,
        signal_read_bytes: io_bytes(btf, "signal_struct")?,
        syscall_ret: syscall_ret_offset()?,
    })
}
