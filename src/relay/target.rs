//! A process that receives relayed signals, held by a pidfd: once it exits, its pid may
//! belong to someone else, but the pidfd still means the process that exited, so a reused
//! pid never gets a signal. Before that, from the moment it is picked, a target is held as
//! its pid and start time ([`Picked`]), and the pidfd is opened for that process only.

use anyhow::{Result, anyhow, bail};

use crate::{
    event::ProcessKey,
    pidfd::PidFd,
    proc::{
        snapshot::{self, ProcessInfo},
        status, task,
    },
    tracker::rules::{Delivery, Picked, RtSignal},
};

/// The live process with this pid now, as /proc shows it.
pub fn pick(pid: u32) -> Result<Picked> {
    match snapshot::read_process(pid) {
        Some(process) if !has_exited(&process) => Ok(Picked {
            key: ProcessKey::new(pid, process.start_ns),
            comm: process.comm,
        }),
        _ => bail!("no process with pid {pid}"),
    }
}

/// The picked process as /proc shows it now, if it is still the one picked; else why not.
pub(super) fn still_there(picked: &Picked) -> Result<ProcessInfo> {
    let process = snapshot::read_process(picked.key.pid);
    match process {
        Some(p) if ProcessKey::new(p.pid, p.start_ns) == picked.key && !has_exited(&p) => Ok(p),
        _ => Err(picked.gone(process.map(|p| (ProcessKey::new(p.pid, p.start_ns), p.comm)))),
    }
}

/// Whether /proc shows the process as exited and not yet reaped (a zombie).
fn has_exited(process: &ProcessInfo) -> bool {
    matches!(process.state, 'Z' | 'X')
}

/// A target's pidfd, opened: the process it was opened for, as /proc showed it then.
pub(super) struct Open {
    pub pidfd: PidFd,
    pub process: ProcessInfo,
}

/// Opens the picked process as a target: refused if it has exited since or its pid names
/// another process now. Refuses pid 1, kernel threads, threads that are not a process's
/// main thread, this process itself and processes it may not signal. Must run inside a
/// tokio runtime.
pub(super) fn open(picked: Picked) -> Result<Open> {
    let pid = picked.key.pid;
    if pid == std::process::id() {
        bail!("pid {pid} is forkwatch itself: it cannot be a relay target");
    }
    if pid == 1 {
        bail!("pid 1 is init: it cannot be a relay target");
    }
    let pidfd = PidFd::open(pid).map_err(|e| still_there(&picked).err().unwrap_or(e))?;
    // Read after the pidfd was opened, and while it shows no exit (below): the pidfd's
    // process is the one read, and so the one picked.
    let process = still_there(&picked)?;
    if pidfd.has_exited() {
        return Err(picked.gone(None));
    }
    if process.kernel_thread {
        bail!(
            "pid {pid} ({}) is a kernel thread: it cannot be a relay target",
            process.comm
        );
    }
    // Signal 0 checks permission, and that the process is still there.
    pidfd.send_signal(0, None).map_err(|e| match e.raw_os_error() {
        Some(libc::EPERM) => anyhow!(
            "not allowed to signal pid {pid} ({}, uid {}): relay to your own processes, or run as root",
            process.comm,
            process.creds.uid
        ),
        Some(libc::ESRCH) => picked.gone(None),
        _ => anyhow!("cannot signal pid {pid}: {e}"),
    })?;
    Ok(Open { pidfd, process })
}

/// Queues a relayed signal through the target's pidfd. Never blocks: a signal that cannot
/// be queued is undelivered.
pub(super) fn send(pidfd: &PidFd, pid: u32, info: &libc::siginfo_t) -> Delivery {
    match pidfd.send_signal(info.si_signo, Some(info)) {
        Ok(()) => Delivery::Sent,
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Delivery::Gone,
        Err(e) => {
            if e.raw_os_error() != Some(libc::EAGAIN) {
                tracing::warn!(pid, "relayed signal not sent: {e}");
            }
            Delivery::Undelivered
        }
    }
}

/// Whether `signal` cannot kill process `pid`: it ignores or catches it, or each of its
/// threads blocks it or waits for it in sigwaitinfo (which unblocks what it waits for, so
/// /proc shows such a thread as not blocking it). Unknown counts as prepared.
pub(super) fn is_prepared_for(pid: u32, signal: RtSignal) -> bool {
    let bit = 1u64 << (signal.number() - 1);
    if status::read(pid)
        .is_some_and(|s| (s.ignored.unwrap_or(0) | s.caught.unwrap_or(0)) & bit != 0)
    {
        return true;
    }
    let Some(tids) = task::thread_ids(pid) else {
        return true;
    };
    tids.into_iter().all(|tid| {
        let blocks = status::read_thread(pid, tid)
            .and_then(|s| s.blocked)
            .is_none_or(|blocked| blocked & bit != 0);
        let waits =
            task::wait_channel(pid, tid).is_none_or(|wchan| wchan.starts_with("do_sigtimedwait"));
        blocks || waits
    })
}
