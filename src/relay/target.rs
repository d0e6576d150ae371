//! A process that receives relayed signals, held by a pidfd: once it exits, its pid may
//! belong to someone else, but the pidfd still means the process that exited, so a reused
//! pid never gets a signal.

use std::{
    io,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    task::{Context, Poll},
};

use anyhow::{Result, anyhow, bail};
use tokio::io::{Interest, unix::AsyncFd};

use crate::{event::Comm, snapshot};

use super::signal::RtSignal;

/// One target of a rule, with what it was sent.
#[derive(Debug)]
pub struct Target {
    pid: u32,
    comm: Comm,
    /// `None` once the process has exited and was dropped from its rule.
    pidfd: Option<AsyncFd<OwnedFd>>,
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
    /// Opens `pid` as a target. Refuses pid 1, kernel threads, threads that are
    /// not a process's main thread, this process itself and processes it may not signal.
    /// Must run inside a tokio runtime.
    pub fn open(pid: u32) -> Result<Self> {
        if pid == std::process::id() {
            bail!("pid {pid} is forkwatch itself: it cannot be a relay target");
        }
        if pid == 1 {
            bail!("pid 1 is init: it cannot be a relay target");
        }
        let pidfd = pidfd_open(pid)?;
        let Some(process) = snapshot::read_process(pid) else {
            bail!("no process with pid {pid}");
        };
        if process.kernel_thread {
            bail!(
                "pid {pid} ({}) is a kernel thread: it cannot be a relay target",
                process.comm
            );
        }
        // Signal 0 checks permission and that the pidfd's process, the one just read from
        // /proc, is still there.
        send(pidfd.as_raw_fd(), 0, None).map_err(|e| match e.raw_os_error() {
            Some(libc::EPERM) => anyhow!(
                "not allowed to signal pid {pid} ({}, uid {}): relay to your own processes, or run as root",
                process.comm,
                process.creds.uid
            ),
            Some(libc::ESRCH) => anyhow!("no process with pid {pid}"),
            _ => anyhow!("cannot signal pid {pid}: {e}"),
        })?;
        // SAFETY: the AsyncFd owns the pidfd, which stays open and the same as long as it.
        let pidfd = unsafe { AsyncFd::register_with_interest(pidfd, Interest::READABLE) }
            .map_err(|e| anyhow!("cannot watch pid {pid} for its exit: {}", e.into_parts().1))?;
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
        match send(pidfd.get_ref().as_raw_fd(), info.si_signo, Some(info)) {
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
        let Ok(process) = procfs::process::Process::new(self.pid as i32) else {
            return true;
        };
        if process
            .status()
            .is_ok_and(|s| (s.sigign | s.sigcgt) & bit != 0)
        {
            return true;
        }
        let Ok(tasks) = process.tasks() else {
            return true;
        };
        tasks.flatten().all(|task| {
            let blocks = task.status().map_or(true, |s| s.sigblk & bit != 0);
            let waits =
                std::fs::read_to_string(format!("/proc/{}/task/{}/wchan", task.pid, task.tid))
                    .map_or(true, |wchan| wchan.starts_with("do_sigtimedwait"));
            blocks || waits
        })
    }

    /// Whether the process has exited (its pidfd is readable), without waiting.
    pub(super) fn has_exited(&self) -> bool {
        self.pidfd
            .as_ref()
            .is_some_and(|fd| is_readable(fd.get_ref().as_raw_fd()))
    }

    /// Drops the pidfd if the process has exited; true if it did.
    pub(super) fn drop_if_exited(&mut self) -> bool {
        let exited = self.has_exited();
        if exited {
            self.pidfd = None;
        }
        exited
    }

    /// Ready once the process has exited. Wake-ups that turn out not to be an exit are
    /// cleared, so the caller never spins.
    pub(super) fn poll_exit(&self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(fd) = &self.pidfd else {
            return Poll::Pending;
        };
        match fd.poll_read_ready(cx) {
            Poll::Ready(Ok(mut guard)) => {
                if is_readable(fd.get_ref().as_raw_fd()) {
                    Poll::Ready(())
                } else {
                    guard.clear_ready();
                    Poll::Pending
                }
            }
            Poll::Ready(Err(_)) => Poll::Ready(()),
            Poll::Pending => Poll::Pending,
        }
    }
}

fn pidfd_open(pid: u32) -> Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        let e = io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            Some(libc::ESRCH) => anyhow!("no process with pid {pid}"),
            // Only thread-group leaders have a pidfd without PIDFD_THREAD.
            Some(libc::EINVAL) => {
                anyhow!("pid {pid} is a thread, not a process: name its process instead")
            }
            _ => anyhow!("cannot open pid {pid}: {e}"),
        });
    }
    // SAFETY: the fd was just returned by the kernel and is owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}

/// pidfd_send_signal with a caller-filled siginfo (or none, for signal 0).
fn send(pidfd: libc::c_int, signal: libc::c_int, info: Option<&libc::siginfo_t>) -> io::Result<()> {
    let info = info.map_or(std::ptr::null(), |i| i as *const libc::siginfo_t);
    // SAFETY: `info` is null or points to a siginfo that lives through the call.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_send_signal, pidfd, signal, info, 0) };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// A pidfd is readable once its process has exited.
fn is_readable(fd: libc::c_int) -> bool {
    let mut pollfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no waiting.
    let n = unsafe { libc::poll(&mut pollfd, 1, 0) };
    n > 0 && pollfd.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0
}
