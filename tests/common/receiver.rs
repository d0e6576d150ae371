//! Relay targets that read what they get, for tests and benchmarks, and holders at any
//! pid: built on `holder.rs`, which the includer includes beside this module as
//! `holder`. The library's own tests include `holder.rs` alone: it has only what they use.

use std::{fs::File, io::Read, time::Duration};

use crate::holder::{Holder, readable};

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
    /// The high half of the 64-bit si_value (sival_ptr >> 32), where the in-kernel relay
    /// puts the pid the layout puts in si_pid.
    pub value_high: i32,
    /// CLOCK_BOOTTIME when sigwaitinfo returned.
    pub at_ns: u64,
}

/// A forked process that reads one signal with sigwaitinfo and reports each one. Killed
/// and reaped when dropped.
pub struct Receiver {
    holder: Holder,
    reports: File,
}

impl Receiver {
    pub fn spawn(signal: i32) -> Self {
        // SAFETY: in the forked process: only system calls.
        let (holder, reports) = Holder::fork(
            signal,
            None,
            || {},
            |set, report| unsafe { read_signals(set, report) },
        )
        .expect("cannot fork a receiver");
        Self { holder, reports }
    }

    /// A receiver with the pid `pid` (root only); EEXIST if the pid is taken.
    #[allow(dead_code, reason = "for the tests of pid reuse only")]
    pub fn spawn_at(signal: i32, pid: u32) -> std::io::Result<Self> {
        // SAFETY: as spawn.
        let (holder, reports) = Holder::fork(
            signal,
            Some(pid),
            || {},
            |set, report| unsafe { read_signals(set, report) },
        )?;
        Ok(Self { holder, reports })
    }

    pub fn pid(&self) -> u32 {
        self.holder.pid()
    }

    /// The next signal it read, or `None` if none came within `timeout`.
    pub fn next(&mut self, timeout: Duration) -> Option<Received> {
        if !readable(&self.reports, timeout) {
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
}

impl Holder {
    /// A process that leaves the signal pending, at any pid.
    pub fn hold(signal: i32) -> Self {
        Self::fork(signal, None, || {}, |_, _| {})
            .expect("cannot fork a holder")
            .0
    }
}

impl Holder {
    /// A holder, as a user of its own (`uid`) whose signal queue holds only `queue`
    /// signals (RLIMIT_SIGPENDING), so further ones fail with EAGAIN.
    #[allow(dead_code, reason = "for the tests of full queues only")]
    pub fn hold_limited(signal: i32, uid: u32, queue: u64) -> Self {
        let prepare = || {
            let limit = libc::rlimit {
                rlim_cur: queue,
                rlim_max: queue,
            };
            // SAFETY: in the forked process: only system calls.
            unsafe {
                libc::syscall(libc::SYS_setrlimit, libc::RLIMIT_SIGPENDING, &limit);
                if libc::syscall(libc::SYS_setresuid, uid, uid, uid) != 0 {
                    libc::_exit(1);
                }
            }
        };
        Self::fork(signal, None, prepare, |_, _| {})
            .expect("cannot fork a holder")
            .0
    }
}

/// Reads the signals of `set` with sigwaitinfo and writes a [`Received`] for each to
/// `report`; exits when no one reads them any more.
unsafe fn read_signals(set: &libc::sigset_t, report: libc::c_int) -> ! {
    unsafe {
        loop {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            if libc::syscall(
                libc::SYS_rt_sigtimedwait,
                set,
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
                value_high: (value as u64 >> 32) as i32,
                at_ns: now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64,
            };
            // SAFETY: writes the record's bytes; a pipe write this small is atomic.
            let written = libc::write(report, (&raw const record).cast(), size_of::<Received>());
            if written != size_of::<Received>() as isize {
                libc::_exit(0);
            }
        }
    }
}
