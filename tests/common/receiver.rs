//! Relay targets for tests and benchmarks: separate processes (a signal sent to a process
//! would otherwise reach any thread of the test harness that does not block it), forked
//! from the caller and living only on async-signal-safe system calls.

use std::{
    fs::File,
    io::{self, Read},
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    time::Duration,
};

/// One signal as the receiver read it with sigwaitinfo, through libc's own accessors.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Received {
    pub signo: i32,
    pub code: i32,
    pub pid: i32,
    pub uid: u32,
    /// si_value.sival_int.
    pub value: i32,
    /// CLOCK_BOOTTIME when sigwaitinfo returned.
    pub at_ns: u64,
}

/// What the forked process does with the signal it blocks.
#[derive(Clone, Copy)]
pub enum Mode {
    /// Reads each one with sigwaitinfo and reports it.
    Wait,
    /// Leaves them pending, where /proc/<pid>/status shows them (ShdPnd).
    Hold,
    /// Like `Hold`, as a user of its own (`uid`) whose signal queue holds only `queue`
    /// signals (RLIMIT_SIGPENDING), so further ones fail with EAGAIN.
    HoldLimited { uid: u32, queue: u64 },
}

/// A forked process that blocks one signal. Killed and reaped when dropped.
pub struct Receiver {
    pid: u32,
    reports: File,
}

impl Receiver {
    /// A process that reads `signal` with sigwaitinfo and reports each one.
    pub fn spawn(signal: i32) -> Self {
        Self::start(signal, Mode::Wait, None).expect("cannot fork a receiver")
    }

    pub fn hold(signal: i32, mode: Mode) -> Self {
        Self::start(signal, mode, None).expect("cannot fork a receiver")
    }

    /// A holding process with the given pid (clone3 with set_tid: root only); EEXIST if
    /// the pid is taken.
    pub fn hold_pid(signal: i32, pid: u32) -> io::Result<Self> {
        Self::start(signal, Mode::Hold, Some(pid))
    }

    fn start(signal: i32, mode: Mode, pid: Option<u32>) -> io::Result<Self> {
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
            0 => unsafe { child(signal, mode, write.as_raw_fd()) },
            -1 => return Err(io::Error::last_os_error()),
            _ => {}
        }
        drop(write);
        let mut receiver = Self {
            pid: ret as u32,
            reports: File::from(read),
        };
        // It reports once it has blocked the signal: only then may anything be sent to it.
        let ready = receiver
            .next(Duration::from_secs(10))
            .expect("the receiver did not start");
        assert_eq!(ready.signo, 0);
        Ok(receiver)
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The next signal it read, or `None` if none came within `timeout`.
    pub fn next(&mut self, timeout: Duration) -> Option<Received> {
        let mut pollfd = libc::pollfd {
            fd: self.reports.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut pollfd, 1, timeout.as_millis() as libc::c_int) } != 1 {
            return None;
        }
        let mut record = Received::default();
        // SAFETY: Received is plain integers, valid for any bytes.
        let bytes = unsafe {
            std::slice::from_raw_parts_mut((&raw mut record).cast::<u8>(), size_of::<Received>())
        };
        self.reports.read_exact(bytes).ok()?;
        Some(record)
    }

    /// Whether `signal` is pending for the process (sent to it and not read).
    pub fn pending(&self, signal: i32) -> bool {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap();
        let line = status.lines().find(|l| l.starts_with("ShdPnd:")).unwrap();
        let mask = u64::from_str_radix(line["ShdPnd:".len()..].trim(), 16).unwrap();
        mask & (1 << (signal - 1)) != 0
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        // SAFETY: the pid is our child until it is reaped here.
        unsafe {
            libc::kill(self.pid as libc::pid_t, libc::SIGKILL);
            libc::waitpid(self.pid as libc::pid_t, std::ptr::null_mut(), 0);
        }
    }
}

fn write_record(fd: libc::c_int, record: &Received) -> bool {
    // SAFETY: writes the record's bytes; a pipe write this small is atomic.
    let n = unsafe {
        libc::write(
            fd,
            (record as *const Received).cast(),
            size_of::<Received>(),
        )
    };
    n == size_of::<Received>() as isize
}

/// The forked process. Only raw system calls: the parent may have had other threads
/// holding locks (malloc's, glibc's thread list) at the fork.
unsafe fn child(signal: i32, mode: Mode, report: libc::c_int) -> ! {
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
        if let Mode::HoldLimited { uid, queue } = mode {
            let limit = libc::rlimit {
                rlim_cur: queue,
                rlim_max: queue,
            };
            libc::syscall(libc::SYS_setrlimit, libc::RLIMIT_SIGPENDING, &limit);
            if libc::syscall(libc::SYS_setresuid, uid, uid, uid) != 0 {
                libc::_exit(1);
            }
        }
        write_record(report, &Received::default());
        if !matches!(mode, Mode::Wait) {
            loop {
                libc::pause();
            }
        }
        loop {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            if libc::syscall(
                libc::SYS_rt_sigtimedwait,
                &set,
                &mut info,
                std::ptr::null::<libc::timespec>(),
                size_of::<libc::c_ulong>(),
            ) < 0
            {
                continue;
            }
            let mut now: libc::timespec = std::mem::zeroed();
            libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut now);
            let value = info.si_value().sival_ptr;
            let record = Received {
                signo: info.si_signo,
                code: info.si_code,
                pid: info.si_pid(),
                uid: info.si_uid(),
                value: std::ptr::read((&raw const value).cast::<libc::c_int>()),
                at_ns: now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64,
            };
            if !write_record(report, &record) {
                libc::_exit(0);
            }
        }
    }
}
