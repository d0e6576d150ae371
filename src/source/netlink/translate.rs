//! The proc connector's messages turned into events. The messages carry pids only: what
//! else an event says comes from what the backend knows of each live process (from the
//! start-up snapshot and earlier messages) and from /proc when the message arrives.

use std::collections::HashMap;

use super::wire::{
    Message, PROC_EVENT_COMM, PROC_EVENT_EXEC, PROC_EVENT_EXIT, PROC_EVENT_FORK, PROC_EVENT_GID,
    PROC_EVENT_NONE, PROC_EVENT_UID,
};
use crate::{
    clock,
    event::{Argv, CgroupPath, Comm, Creds, Event, ExitStatus, Kind, PidNamespace, ProcessKey},
    proc::{
        self, place,
        snapshot::{self, ProcessInfo},
    },
};

/// What the backend knows about a live process.
struct Process {
    start_ns: u64,
    ppid: u32,
    comm: Comm,
    creds: Option<Creds>,
    kernel_thread: bool,
    pid_ns: Option<PidNamespace>,
    cgroup: Option<CgroupPath>,
    /// Its live threads, the leader included until it exits: the process has ended when
    /// the last one has.
    threads: Vec<u32>,
}

impl Process {
    fn from_snapshot(info: ProcessInfo) -> Self {
        let threads = if info.threads > 1 {
            proc::task::thread_ids(info.pid)
                .filter(|tids| !tids.is_empty())
                .unwrap_or_else(|| vec![info.pid])
        } else {
            vec![info.pid]
        };
        Self {
            start_ns: info.start_ns,
            ppid: info.ppid,
            comm: info.comm,
            creds: Some(info.creds),
            kernel_thread: info.kernel_thread,
            pid_ns: info.pid_ns,
            cgroup: info.cgroup,
            threads,
        }
    }

    fn event(&self, ts_ns: u64, pid: u32, tid: u32, kind: Kind) -> Event {
        Event {
            ts_ns,
            pid,
            tid,
            ppid: self.ppid,
            start_ns: self.start_ns,
            comm: self.comm,
            creds: self.creds,
            cgroup_id: None,
            pid_ns: self.pid_ns,
            cgroup: self.cgroup.clone(),
            kernel_thread: self.kernel_thread,
            kind,
        }
    }
}

/// The live processes as the backend knows them, kept up to date by the messages.
pub(super) struct Translator {
    processes: HashMap<u32, Process>,
    /// The PID namespace of the /proc we read, where pids are what the messages say.
    own_pid_ns: Option<u32>,
}

impl Translator {
    /// Starts from the processes of a /proc snapshot.
    pub(super) fn new(snapshot: Vec<ProcessInfo>) -> Self {
        let processes = snapshot
            .into_iter()
            .map(|info| (info.pid, Process::from_snapshot(info)))
            .collect();
        Self {
            processes,
            own_pid_ns: place::own_pid_namespace(),
        }
    }

    pub(super) fn translate(&mut self, m: &Message, ts_ns: u64, out: &mut Vec<Event>) {
        match m.what {
            PROC_EVENT_FORK => self.fork(m, ts_ns, out),
            PROC_EVENT_EXEC => self.exec(m, ts_ns, out),
            PROC_EVENT_EXIT => self.exit(m, ts_ns, out),
            PROC_EVENT_UID | PROC_EVENT_GID => self.id_change(m, ts_ns, out),
            PROC_EVENT_COMM => {
                let (tid, tgid) = (m.word(0), m.word(1));
                if tid == tgid
                    && let Some(process) = self.processes.get_mut(&tgid)
                {
                    process.comm = Comm::from_bytes(&m.data[8..]);
                }
            }
            PROC_EVENT_NONE => {}
            other => tracing::trace!(what = other, "proc connector event not reported"),
        }
    }

    fn fork(&mut self, m: &Message, ts_ns: u64, out: &mut Vec<Event>) {
        let (parent_tgid, child, child_tgid) = (m.word(1), m.word(2), m.word(3));
        if child != child_tgid {
            let process = self.known(child_tgid, ts_ns);
            process.threads.push(child);
            let event = process.event(ts_ns, child_tgid, child, Kind::ThreadStart);
            out.push(Event {
                ppid: parent_tgid,
                ..event
            });
            return;
        }
        // The start time the kernel gave the child is what /proc shows, if the child is
        // still there and it is still this child; otherwise the announcement's time, which
        // the kernel takes a few microseconds after the start time (so the same clock tick
        // but when a tick boundary falls in between).
        let stat = proc::stat::read(child)
            .filter(|stat| clock::start_ticks(ts_ns).abs_diff(stat.start_ticks) <= 1);
        let parent = self.processes.get(&parent_tgid);
        let process = Process {
            start_ns: stat.map_or(ts_ns, |s| s.start_ns()),
            ppid: parent_tgid,
            // A fork copies the parent's name and credentials; /proc may already show
            // what a quick exec made of them.
            comm: parent
                .map(|p| p.comm)
                .or(stat.map(|s| s.comm))
                .unwrap_or_default(),
            creds: parent.and_then(|p| p.creds),
            kernel_thread: stat.map_or_else(
                || parent_tgid == 2 || parent.is_some_and(|p| p.kernel_thread),
                |s| s.kernel_thread(),
            ),
            // A child may start a PID namespace of its own, but it starts in its
            // parent's cgroup.
            pid_ns: stat.and_then(|_| place::pid_namespace_of(child, self.own_pid_ns)),
            cgroup: parent.and_then(|p| p.cgroup.clone()),
            threads: vec![child],
        };
        if let Some(old) = self.processes.get(&child)
            && ProcessKey::new(child, old.start_ns) != ProcessKey::new(child, process.start_ns)
        {
            // The pid was reused: the process we knew under it ended and its exit was lost.
            out.push(old.event(ts_ns, child, child, Kind::Exit(ExitStatus::Unknown, None)));
        }
        out.push(process.event(ts_ns, child, child, Kind::Fork));
        self.processes.insert(child, process);
    }

    fn exec(&mut self, m: &Message, ts_ns: u64, out: &mut Vec<Event>) {
        let (tid, tgid) = (m.word(0), m.word(1));
        let info = snapshot::read_process(tgid);
        let filename = proc::exe_path(tgid);
        let process = self.known(tgid, ts_ns);
        // An exec ends every other thread; the one that called it goes on as the leader.
        process.threads = vec![tgid];
        // Gone by now (or its pid reused): the argv is unknown, which is not an empty one.
        let (mut argv, mut argv_truncated, mut argv_unreadable) = (Argv::default(), false, true);
        if let Some(info) = info
            && ProcessKey::new(tgid, info.start_ns) == ProcessKey::new(tgid, process.start_ns)
        {
            process.comm = info.comm;
            process.creds = Some(info.creds);
            process.ppid = info.ppid;
            process.pid_ns = info.pid_ns.or(process.pid_ns);
            process.cgroup = info.cgroup.or(process.cgroup.take());
            // An exec has at least one argument: /proc shows none once the process has
            // ended (a zombie has no memory left to read), so none means unknown.
            argv_unreadable = info.argv.is_empty();
            (argv, argv_truncated) = (info.argv, info.argv_truncated);
        }
        let kind = Kind::Exec {
            filename,
            argv,
            argv_truncated,
            filename_truncated: false,
            argv_unreadable,
        };
        out.push(process.event(ts_ns, tgid, tid, kind));
    }

    fn exit(&mut self, m: &Message, ts_ns: u64, out: &mut Vec<Event>) {
        let (tid, tgid, wait_status, parent_tgid) = (m.word(0), m.word(1), m.word(2), m.word(5));
        let process = self.known(tgid, ts_ns);
        if parent_tgid != 0 {
            process.ppid = parent_tgid;
        }
        process.threads.retain(|&t| t != tid);
        if !process.threads.is_empty() {
            out.push(process.event(ts_ns, tgid, tid, Kind::ThreadExit));
            return;
        }
        // The last thread's status is the process's: a group exit gives every thread the
        // same one, and a leader that ended early ended with pthread_exit (status 0).
        let status = ExitStatus::from_wait_status(wait_status);
        out.push(process.event(ts_ns, tgid, tid, Kind::Exit(status, None)));
        self.processes.remove(&tgid);
    }

    fn id_change(&mut self, m: &Message, ts_ns: u64, out: &mut Vec<Event>) {
        let (tid, tgid, real, effective) = (m.word(0), m.word(1), m.word(2), m.word(3));
        let process = self.known(tgid, ts_ns);
        let creds = process
            .creds
            .or_else(|| snapshot::read_process(tgid).map(|info| info.creds))
            .unwrap_or_default();
        let (creds, kind) = if m.what == PROC_EVENT_UID {
            let creds = Creds {
                uid: real,
                euid: effective,
                ..creds
            };
            (creds, Kind::Uid { inferred: false })
        } else {
            let creds = Creds {
                gid: real,
                egid: effective,
                ..creds
            };
            (creds, Kind::Gid { inferred: false })
        };
        process.creds = Some(creds);
        out.push(process.event(ts_ns, tgid, tid, kind));
    }

    /// The process `pid`, learnt from /proc now if the backend missed its fork (lost, or
    /// before the snapshot): its start time then comes from /proc if /proc still shows a
    /// process that started before the event, else it is unknown (0).
    fn known(&mut self, pid: u32, ts_ns: u64) -> &mut Process {
        self.processes.entry(pid).or_insert_with(|| {
            let info = snapshot::read_process(pid)
                .filter(|info| clock::start_ticks(info.start_ns) <= clock::start_ticks(ts_ns));
            match info {
                Some(info) => Process::from_snapshot(info),
                None => Process {
                    start_ns: 0,
                    ppid: 0,
                    comm: Comm::default(),
                    creds: None,
                    kernel_thread: false,
                    pid_ns: None,
                    cgroup: None,
                    threads: vec![pid],
                },
            }
        })
    }
}
