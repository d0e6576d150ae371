//! Processes held by pidfd: once a process exits its pid may be given to another, but its
//! pidfd keeps meaning the process that exited. Signals sent through it never reach a
//! stranger, and it becomes readable when the process exits, child of ours or not.

use std::{
    io,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    task::{Context, Poll},
};

use anyhow::{Result, anyhow};
use tokio::io::{Interest, unix::AsyncFd};

#[derive(Debug)]
pub struct PidFd(AsyncFd<OwnedFd>);

impl PidFd {
    /// Opens process `pid`. Errors say, in one line, why there is no such process. Must
    /// run inside a tokio runtime.
    pub fn open(pid: u32) -> Result<Self> {
        // The syscall reads 0 and pids past pid_t as something else (EINVAL, a thread).
        let Ok(raw @ 1..) = libc::pid_t::try_from(pid) else {
            return Err(anyhow!("no process with pid {pid}"));
        };
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, raw, 0) };
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
        let fd = unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) };
        // SAFETY: the AsyncFd owns the pidfd, which stays open and the same as long as it.
        let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }
            .map_err(|e| anyhow!("cannot watch pid {pid} for its exit: {}", e.into_parts().1))?;
        Ok(Self(fd))
    }

    /// Whether the process has exited, without waiting.
    pub fn has_exited(&self) -> bool {
        let mut pollfd = libc::pollfd {
            fd: self.0.get_ref().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, no waiting.
        let n = unsafe { libc::poll(&mut pollfd, 1, 0) };
        n > 0 && pollfd.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0
    }

    /// Ready once the process has exited. Wake-ups that turn out not to be an exit are
    /// cleared, so a caller never spins.
    pub fn poll_exit(&self, cx: &mut Context<'_>) -> Poll<()> {
        match self.0.poll_read_ready(cx) {
            Poll::Ready(Ok(mut guard)) => {
                if self.has_exited() {
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

    /// pidfd_send_signal with a caller-filled siginfo, or none (signal 0 checks that the
    /// process is there and may be signalled).
    pub fn send_signal(&self, signal: i32, info: Option<&libc::siginfo_t>) -> io::Result<()> {
        let info = info.map_or(std::ptr::null(), |i| i as *const libc::siginfo_t);
        // SAFETY: `info` is null or points to a siginfo that lives through the call.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.0.get_ref().as_raw_fd(),
                signal,
                info,
                0,
            )
        };
        if ret < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pid_0_and_pids_past_pid_t_name_no_process() {
        for pid in [0, 1 << 31, u32::MAX] {
            let err = PidFd::open(pid).unwrap_err();
            assert_eq!(err.to_string(), format!("no process with pid {pid}"));
        }
    }
}
