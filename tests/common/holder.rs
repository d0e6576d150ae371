//! Relay targets for tests: separate processes (a signal sent to a process would
//! otherwise reach any thread of the test harness that does not block it), forked from
//! the caller and living only on async-signal-safe system calls. A holder blocks one
//! signal and leaves what it gets pending, where /proc/<pid>/status shows it;
//! `receiver.rs` builds readers of the signal on it.

use std::{
    fs::File,
    io::{self, Read},
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    time::Duration,
};

/// A forked process that blocks one signal. Killed and reaped when dropped.
pub struct Holder {
    pid: u32,
}

impl Holder {
    /// A holding process with the given pid (clone3 with set_tid: root only); EEXIST if
    /// the pid is taken.
    pub fn hold_pid(signal: i32, pid: u32) -> io::Result<Self> {
        Self::fork(signal, Some(pid), || {}, |_, _| {}).map(|(holder, _)| holder)
    }

    /// Forks a process (with the pid `pid`, if given) that blocks `signal`, runs
    /// `prepare`, says it is ready, then runs `serve` with the blocked set and the write
    /// end of a pipe, and holds its signals once `serve` returns. Returns once the process
    /// is ready (only then may anything be sent to it), with the read end of the pipe.
    /// Both closures run in the forked process: only system calls, as the parent may have
    /// had other threads holding locks (malloc's, glibc's thread list) at the fork.
    pub fn fork(
        signal: i32,
        pid: Option<u32>,
        prepare: impl FnOnce(),
        serve: impl FnOnce(&libc::sigset_t, libc::c_int),
    ) -> io::Result<(Self, File)> {
        let mut fds = [0; 2];
        // SAFETY: pipe2 fills two fds.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both fds are new and ours.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let set_tid = pid.map_or(0, |p| p as libc::pid_t);
        // SAFETY: clone_args is plain integers; zero is every field's default.
        let mut args: libc::clone_args = unsafe { std::mem::zeroed() };
        args.exit_signal = libc::SIGCHLD as u64;
        if pid.is_some() {
            args.set_tid = &set_tid as *const libc::pid_t as u64;
            args.set_tid_size = 1;
        }
        // SAFETY: a fork (no CLONE_VM): the child gets its own copy of this stack and runs
        // `child`, which never returns.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_clone3,
                &args as *const libc::clone_args,
                size_of::<libc::clone_args>(),
            )
        };
        match ret {
            // SAFETY: in the new process, which runs only async-signal-safe calls.
            0 => unsafe { child(signal, write.as_raw_fd(), prepare, serve) },
            -1 => return Err(io::Error::last_os_error()),
            _ => {}
        }
        drop(write);
        let holder = Self { pid: ret as u32 };
        let mut reports = File::from(read);
        let mut ready = [1];
        assert!(
            readable(&reports, Duration::from_secs(10))
                && reports.read_exact(&mut ready).is_ok()
                && ready == [0],
            "the forked process did not start"
        );
        Ok((holder, reports))
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether `signal` is pending for the process (sent to it and not read).
    pub fn pending(&self, signal: i32) -> bool {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap();
        let line = status.lines().find(|l| l.starts_with("ShdPnd:")).unwrap();
        let mask = u64::from_str_radix(line["ShdPnd:".len()..].trim(), 16).unwrap();
        mask & (1 << (signal - 1)) != 0
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        // SAFETY: the pid is our child until it is reaped here.
        unsafe {
            libc::kill(self.pid as libc::pid_t, libc::SIGKILL);
            libc::waitpid(self.pid as libc::pid_t, std::ptr::null_mut(), 0);
        }
    }
}

/// Whether `file` has something to read within `timeout`.
pub fn readable(file: &File, timeout: Duration) -> bool {
    let mut pollfd = libc::pollfd {
        fd: file.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut pollfd, 1, timeout.as_millis() as libc::c_int) == 1 }
}

/// The forked process.
unsafe fn child(
    signal: i32,
    report: libc::c_int,
    prepare: impl FnOnce(),
    serve: impl FnOnce(&libc::sigset_t, libc::c_int),
) -> ! {
    unsafe {
        // Dies with the thread that forked it, and holds no one else's fds (a pipe end
        // kept open here would keep another test waiting for its EOF).
        libc::syscall(libc::SYS_prctl, libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        libc::syscall(libc::SYS_close_range, 3, report - 1, 0);
        libc::syscall(libc::SYS_close_range, report + 1, u32::MAX, 0);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, signal);
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_BLOCK,
            &set,
            std::ptr::null_mut::<libc::sigset_t>(),
            size_of::<libc::c_ulong>(),
        );
        prepare();
        libc::write(report, [0u8].as_ptr().cast(), 1);
        serve(&set, report);
        loop {
            libc::pause();
        }
    }
}
