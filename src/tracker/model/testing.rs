//! Synthetic processes and their events, for the tests of the model and of what is built
//! on it (pins).

use super::{Applied, Model, ProcessKey};
use crate::{
    clock,
    event::{Argv, Comm, Creds, Event, ExitStatus, Kind},
    proc::snapshot::ProcessInfo,
};

pub(crate) const MS: u64 = 1_000_000;

/// A process as the tests describe it: pid, parent, start time, and the name its events
/// carry.
#[derive(Clone, Copy, Debug)]
pub(crate) struct P {
    pub pid: u32,
    pub ppid: u32,
    pub start: u64,
    pub comm: &'static str,
}

pub(crate) fn p(pid: u32, ppid: u32, start_ms: u64) -> P {
    P {
        pid,
        ppid,
        start: start_ms * MS,
        comm: "sh",
    }
}

impl P {
    pub(crate) fn key(self) -> ProcessKey {
        ProcessKey::new(self.pid, self.start)
    }

    /// The same process, reported with another parent.
    pub(crate) fn under(self, ppid: u32) -> P {
        P { ppid, ..self }
    }

    /// The same process, reported under another name (after an exec).
    pub(crate) fn named(self, comm: &'static str) -> P {
        P { comm, ..self }
    }

    pub(crate) fn event(self, ts_ms: u64, kind: Kind) -> Event {
        Event {
            ts_ns: ts_ms * MS,
            pid: self.pid,
            tid: self.pid,
            ppid: self.ppid,
            start_ns: self.start,
            comm: Comm::from(self.comm),
            creds: Some(Creds::default()),
            cgroup_id: Some(1),
            pid_ns: None,
            cgroup: None,
            kernel_thread: false,
            kind,
        }
    }

    pub(crate) fn fork(self) -> Event {
        self.event(self.start / MS, Kind::Fork)
    }

    pub(crate) fn exec(self, ts_ms: u64, argv: &[&str]) -> Event {
        Event {
            comm: Comm::from(argv[0]),
            ..self.event(
                ts_ms,
                Kind::Exec {
                    filename: format!("/bin/{}", argv[0]).into(),
                    argv: Argv::from_args(argv),
                    argv_truncated: false,
                    filename_truncated: false,
                    argv_unreadable: false,
                },
            )
        }
    }

    pub(crate) fn exit(self, ts_ms: u64, code: i32) -> Event {
        self.event(ts_ms, Kind::Exit(ExitStatus::Code(code), None))
    }

    pub(crate) fn thread(self, ts_ms: u64, tid: u32, kind: Kind) -> Event {
        // Other threads have names of their own.
        let comm = Comm::from(if tid == self.pid { self.comm } else { "worker" });
        Event {
            tid,
            comm,
            ..self.event(ts_ms, kind)
        }
    }

    /// As /proc shows it: start time at tick precision.
    pub(crate) fn info(self, comm: &str, argv: &[&str]) -> ProcessInfo {
        ProcessInfo {
            pid: self.pid,
            ppid: self.ppid,
            start_ns: clock::ticks_to_ns(clock::start_ticks(self.start)),
            comm: Comm::from(comm),
            argv: Argv::from_args(argv),
            argv_truncated: false,
            creds: Creds::default(),
            state: 'S',
            kernel_thread: false,
            threads: 1,
            pid_ns: None,
            cgroup: None,
            sampled: None,
        }
    }
}

pub(crate) const INIT: P = P {
    pid: 1,
    ppid: 0,
    start: 10 * MS,
    comm: "init",
};

pub(crate) fn seeded() -> Model {
    let mut model = Model::default();
    model.seed(&[INIT.info("init", &["/sbin/init"])]);
    model
}

pub(crate) fn apply_all(model: &mut Model, events: &[Event]) -> Vec<Applied> {
    events.iter().map(|e| model.apply(e)).collect()
}
