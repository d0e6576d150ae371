//! A process that receives relayed signals, held by a pidfd: once it exits, its pid may
//! belong to someone else, but the pidfd still means the process that exited, so a reused
//! pid never gets a signal. Before that, from the moment it is picked, a target is held as
//! its pid and start time ([`Picked`]), and the pidfd is opened for that process only.

use std::task::{Context, Poll};

use anyhow::{Error, Result, anyhow, bail};

use crate::{
    event::{Comm, ProcessKey},
    pidfd::PidFd,
    proc::{
        snapshot::{self, ProcessInfo},
        status, task,
    },
};

use super::signal::RtSignal;

/// A process as it was picked for a rule: its identity, and its name then.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Picked {
    pub key: ProcessKey,
    pub comm: Comm,
}

impl Picked {
    /// The live process with this pid now, as /proc shows it.
    pub fn now(pid: u32) -> Result<Self> {
        match snapshot::read_process(pid) {
            Some(process) if !has_exited(&process) => Ok(Self {
                key: ProcessKey::new(pid, process.start_ns),
                comm: process.comm,
            }),
            _ => bail!("no process with pid {pid}"),
        }
    }

    /// The process as /proc shows it now, if it is still the one picked; else why not.
    pub(super) fn still_there(&self) -> Result<ProcessInfo> {
        let process = snapshot::read_process(self.key.pid);
        match process {
            Some(p) if ProcessKey::new(p.pid, p.start_ns) == self.key && !has_exited(&p) => Ok(p),
            _ => Err(self.gone(process.map(|p| (ProcessKey::new(p.pid, p.start_ns), p.comm)))),
        }
    }

    /// Why the picked process cannot be had, given what has its pid `now`, in one line.
    pub(super) fn gone(&self, now: Option<(ProcessKey, Comm)>) -> Error {
        let (pid, comm) = (self.key.pid, self.comm);
        match now {
            Some((key, other)) if key != self.key => {
                anyhow!("pid {pid} is now another process ({other}): the one picked exited")
            }
            _ => anyhow!("pid {pid} ({comm}) exited since it was picked"),
        }
    }
}

/// Whether /proc shows the process as exited and not yet reaped (a zombie).
fn has_exited(process: &ProcessInfo) -> bool {
    matches!(process.state, 'Z' | 'X')
}

/// The processes a rule names that were picked before it was made (in the UI's relay
/// dialog), each held as it was then. A pid of the rule that is not here is resolved when
/// the rule is made.
#[derive(Clone, Debug, Default)]
pub struct Picks {
    pub targets: Vec<Picked>,
    /// The process whose events, or whose subtree's, the rule matches.
    pub matched: Option<Picked>,
}

impl Picks {
    /// The target picked with this pid, else the live process that has it now.
    pub(super) fn target(&self, pid: u32) -> Result<Picked> {
        match self.targets.iter().find(|p| p.key.pid == pid) {
            Some(&picked) => Ok(picked),
            None => Picked::now(pid),
        }
    }

    /// The process matched, if it was picked with this pid.
    pub(super) fn matched(&self, pid: u32) -> Option<Picked> {
        self.matched.filter(|p| p.key.pid == pid)
    }
}

/// One target of a rule, with what it was sent.
#[derive(Debug)]
pub struct Target {
    pid: u32,
    comm: Comm,
    /// `None` once the process has exited and was dropped from its rule.
    pidfd: Option<PidFd>,
    sent: u64,
    undelivered: u64,
}

/// What became of one signal.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Delivery {
    Sent,
    /// Not queued (full signal queue, or no longer allowed): counted, never waited for.
    Undelivered,
    /// The process has exited (ESRCH); the target is now gone.
    Gone,
}

impl Target {
    /// Opens the picked process as a target: refused if it has exited since or its pid
    /// names another process now. Refuses pid 1, kernel threads, threads that are not a
    /// process's main thread, this process itself and processes it may not signal. Must
    /// run inside a tokio runtime.
    pub fn open(picked: Picked) -> Result<Self> {
        let pid = picked.key.pid;
        if pid == std::process::id() {
            bail!("pid {pid} is forkwatch itself: it cannot be a relay target");
        }
        if pid == 1 {
            bail!("pid 1 is init: it cannot be a relay target");
        }
        let pidfd = PidFd::open(pid).map_err(|e| picked.still_there().err().unwrap_or(e))?;
        // Read after the pidfd was opened, and while it shows no exit (below): the pidfd's
        // process is the one read, and so the one picked.
        let process = picked.still_there()?;
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
        Ok(Self {
            pid,
            comm: process.comm,
            pidfd: Some(pidfd),
            sent: 0,
            undelivered: 0,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Its command name when the rule was made.
    pub fn comm(&self) -> Comm {
        self.comm
    }

    /// Signals the kernel queued for it.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Signals it should have had but were not queued: its signal queue was full
    /// (RLIMIT_SIGPENDING), or it may no longer be signalled.
    pub fn undelivered(&self) -> u64 {
        self.undelivered
    }

    /// It exited and was dropped from its rule.
    pub fn is_gone(&self) -> bool {
        self.pidfd.is_none()
    }

    pub(super) fn send(&mut self, info: &libc::siginfo_t) -> Delivery {
        let Some(pidfd) = &self.pidfd else {
            return Delivery::Gone;
        };
        match pidfd.send_signal(info.si_signo, Some(info)) {
            Ok(()) => {
                self.sent += 1;
                Delivery::Sent
            }
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {
                self.pidfd = None;
                Delivery::Gone
            }
            Err(e) => {
                if e.raw_os_error() != Some(libc::EAGAIN) {
                    tracing::warn!(pid = self.pid, "relayed signal not sent: {e}");
                }
                self.undelivered += 1;
                Delivery::Undelivered
            }
        }
    }

    /// Whether `signal` cannot kill the process: it ignores or catches it, or each of its
    /// threads blocks it or waits for it in sigwaitinfo (which unblocks what it waits for,
    /// so /proc shows such a thread as not blocking it). Unknown counts as prepared.
    pub(super) fn is_prepared_for(&self, signal: RtSignal) -> bool {
        let bit = 1u64 << (signal.number() - 1);
        let pid = self.pid;
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
            let waits = task::wait_channel(pid, tid)
                .is_none_or(|wchan| wchan.starts_with("do_sigtimedwait"));
            blocks || waits
        })
    }

    /// Whether the process has exited (its pidfd is readable), without waiting.
    pub(super) fn has_exited(&self) -> bool {
        self.pidfd.as_ref().is_some_and(PidFd::has_exited)
    }

    /// Drops the pidfd if the process has exited; true if it did.
    pub(super) fn drop_if_exited(&mut self) -> bool {
        let exited = self.has_exited();
        if exited {
            self.pidfd = None;
        }
        exited
    }

    /// Ready once the process has exited; pending forever once it was dropped.
    pub(super) fn poll_exit(&self, cx: &mut Context<'_>) -> Poll<()> {
        match &self.pidfd {
            Some(pidfd) => pidfd.poll_exit(cx),
            None => Poll::Pending,
        }
    }
}
