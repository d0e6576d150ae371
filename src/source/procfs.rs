//! The /proc poller: compares what /proc shows at each poll with the previous poll and
//! turns the differences into events. It needs no privileges, but it only sees what is
//! there when it looks: a process shorter than the interval is missed, the time of an
//! event is the time of the poll that noticed it, and how a process ended is unknown
//! (only a parent can wait for another process's status). It reports no thread events and
//! sees no uid/gid change as such: [`super::ids`] infers those an exec shows.

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use anyhow::{Context, Result, bail};
use tokio::time::{Interval, MissedTickBehavior};

use super::ids::CountsLoss;
use crate::{
    clock,
    event::{Argv, CgroupPath, Comm, Creds, Event, ExitStatus, Kind, PidNamespace, ProcessKey},
    proc::{
        self,
        snapshot::{self, ProcessInfo},
        stat::{self, Stat, StatFile},
    },
};

pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(100);

/// File descriptors left for everything else when stat files are kept open.
const FDS_LEFT_FREE: u64 = 512;

/// What the poller remembers about a process between polls.
struct Known {
    start_ticks: u64,
    ppid: u32,
    comm: Comm,
    argv: Argv,
    argv_truncated: bool,
    creds: Creds,
    kernel_thread: bool,
    pid_ns: Option<PidNamespace>,
    cgroup: Option<CgroupPath>,
    exec_marks: (u64, u64),
    /// Seen as a zombie: its exit is reported, /proc keeps it until its parent reaps it.
    exited: bool,
    /// Read in the middle of an exec (its name or code changed while it was read, or it
    /// shows no argv yet): what it runs is not settled.
    settling: bool,
    /// Its stat file kept open, while the file descriptor budget lasts.
    stat_file: Option<StatFile>,
}

impl Known {
    /// Its stat now; `None` if it is gone, even if its pid names another process now.
    fn stat(&self, pid: u32) -> Option<Stat> {
        match &self.stat_file {
            Some(file) => file.read(),
            None => stat::read(pid).filter(|s| s.start_ticks == self.start_ticks),
        }
    }

    fn event(&self, pid: u32, ts_ns: u64, kind: Kind) -> Event {
        Event {
            ts_ns,
            pid,
            tid: pid,
            ppid: self.ppid,
            start_ns: clock::ticks_to_ns(self.start_ticks),
            comm: self.comm,
            creds: Some(self.creds),
            cgroup_id: None,
            pid_ns: self.pid_ns,
            cgroup: self.cgroup.clone(),
            kernel_thread: self.kernel_thread,
            kind,
        }
    }
}

/// Polls /proc every `interval`.
pub struct Procfs {
    interval: Interval,
    known: HashMap<u32, Known>,
    /// How many stat files may be kept open, and how many are.
    file_budget: usize,
    files_kept: usize,
    /// Reused between polls so that a poll allocates nothing for processes it already knows.
    pids: Vec<u32>,
    seen: HashSet<u32>,
    /// Processes caught in the middle of an exec at the last poll: they were left for this
    /// poll, and are taken as they are if they still look unsettled.
    settling: HashSet<ProcessKey>,
    /// The same, gathered during this poll.
    settling_now: HashSet<ProcessKey>,
}

impl Procfs {
    /// Learns the processes running now (they produce no events) and starts the clock.
    /// Must run inside a tokio runtime.
    pub fn open(interval: Duration) -> Result<Self> {
        if interval.is_zero() {
            bail!("the /proc poll interval must be longer than zero");
        }
        let mut poller = Self {
            interval: tokio::time::interval(interval),
            known: HashMap::new(),
            file_budget: stat_file_budget(),
            files_kept: 0,
            pids: Vec::new(),
            seen: HashSet::new(),
            settling: HashSet::new(),
            settling_now: HashSet::new(),
        };
        poller
            .interval
            .set_missed_tick_behavior(MissedTickBehavior::Delay);
        proc::list_pids(&mut poller.pids).context("cannot read /proc (is procfs mounted?)")?;
        for i in 0..poller.pids.len() {
            let pid = poller.pids[i];
            if let Some(known) = poller.read_new(pid, None) {
                poller.remember(pid, known);
            }
        }
        Ok(poller)
    }

    /// Waits for the next poll that finds a change and appends its events to `out`.
    pub async fn next_batch(&mut self, out: &mut Vec<Event>) -> Result<()> {
        let first = out.len();
        while out.len() == first {
            self.interval.tick().await;
            self.poll(out)?;
        }
        Ok(())
    }

    /// Reads /proc once and appends what changed since the last poll: exits first, then
    /// execs of known processes, then new processes (each parent before its children).
    pub fn poll(&mut self, out: &mut Vec<Event>) -> Result<()> {
        let now = clock::boottime_ns();
        proc::list_pids(&mut self.pids).context("cannot read /proc")?;
        self.seen.clear();
        let mut execs = Vec::new();
        let mut born = Vec::new();
        for i in 0..self.pids.len() {
            let pid = self.pids[i];
            let Some(known) = self.known.get_mut(&pid) else {
                born.push(pid);
                continue;
            };
            let Some(stat) = known.stat(pid) else {
                // It ended, and its pid may already name a new process.
                let old = self.forget(pid);
                if !old.exited {
                    out.push(old.event(pid, now, Kind::Exit(ExitStatus::Unknown, None)));
                }
                born.push(pid);
                continue;
            };
            self.seen.insert(pid);
            if known.exited {
                continue;
            }
            known.ppid = stat.ppid;
            if stat.exited() {
                known.exited = true;
                out.push(known.event(pid, now, Kind::Exit(ExitStatus::Unknown, None)));
            } else if stat.comm != known.comm
                || (stat.exec_marks_known() && stat.exec_marks != known.exec_marks)
            {
                execs.push(pid);
            }
        }
        let vanished: Vec<u32> = self
            .known
            .keys()
            .filter(|pid| !self.seen.contains(pid))
            .copied()
            .collect();
        for pid in vanished {
            let old = self.forget(pid);
            if !old.exited {
                out.push(old.event(pid, now, Kind::Exit(ExitStatus::Unknown, None)));
            }
        }

        for pid in execs {
            self.report_exec(pid, now, out);
        }
        self.report_born(born, now, out);
        std::mem::swap(&mut self.settling, &mut self.settling_now);
        self.settling_now.clear();
        Ok(())
    }

    /// Whether to leave a process caught in the middle of an exec for the next poll: once,
    /// then it is taken as it is (some programs really do clear their argv).
    fn defer(&mut self, pid: u32, known: &Known) -> bool {
        let id = ProcessKey {
            pid,
            start_ticks: known.start_ticks,
        };
        known.settling && !self.settling.contains(&id) && self.settling_now.insert(id)
    }

    /// A known process shows another program: re-read its argv and credentials.
    fn report_exec(&mut self, pid: u32, now: u64, out: &mut Vec<Event>) {
        let mut known = self.forget(pid);
        // The kept file stays valid: an exec keeps the process.
        match self.read_new(pid, known.stat_file.take()) {
            Some(mut fresh) if fresh.start_ticks == known.start_ticks => {
                if self.defer(pid, &fresh) {
                    // Looked at again next poll, as the change is still there.
                    known.stat_file = fresh.stat_file.take();
                } else {
                    out.push(fresh.event(pid, now, exec_kind(pid, &fresh)));
                    known = fresh;
                }
            }
            // Gone since: the next poll reports the exit.
            _ => {}
        }
        self.remember(pid, known);
    }

    /// Reports new processes as forks, and as execs too when they run something other than
    /// their parent, parents first.
    fn report_born(&mut self, born: Vec<u32>, now: u64, out: &mut Vec<Event>) {
        let mut fresh: HashMap<u32, Known> = HashMap::new();
        for pid in born {
            // One caught in the middle of an exec is unknown until the next poll.
            if let Some(known) = self.read_new(pid, None)
                && !self.defer(pid, &known)
            {
                fresh.insert(pid, known);
            }
        }
        let mut order: Vec<u32> = fresh.keys().copied().collect();
        order.sort_unstable_by_key(|pid| (fresh[pid].start_ticks, *pid));
        for pid in order {
            // Walk up to the oldest ancestor that is new too, then report down from it.
            let mut lineage = vec![pid];
            while let Some(ppid) = lineage.last().and_then(|p| fresh.get(p)).map(|k| k.ppid) {
                if !fresh.contains_key(&ppid) || lineage.contains(&ppid) {
                    break;
                }
                lineage.push(ppid);
            }
            for pid in lineage.into_iter().rev() {
                if let Some(child) = fresh.remove(&pid) {
                    self.report_one_born(pid, child, now, out);
                }
            }
        }
    }

    fn report_one_born(&mut self, pid: u32, child: Known, now: u64, out: &mut Vec<Event>) {
        let parent = self.known.get(&child.ppid);
        let execed = parent.is_none_or(|parent| {
            parent.comm != child.comm
                || parent.argv != child.argv
                || (child.exec_marks.0 > 1 && parent.exec_marks != child.exec_marks)
        });
        let mut fork = child.event(pid, now, Kind::Fork);
        if execed && let Some(parent) = parent {
            // The fork itself copied the parent; the exec came after.
            fork.comm = parent.comm;
            fork.creds = Some(parent.creds);
        }
        out.push(fork);
        if execed && !child.kernel_thread {
            out.push(child.event(pid, now, exec_kind(pid, &child)));
        }
        self.remember(pid, child);
    }

    /// Reads a process in full (argv, credentials); `None` if it is gone. `stat_file` is
    /// its kept file if it has one; otherwise one is opened while the budget lasts.
    fn read_new(&mut self, pid: u32, stat_file: Option<StatFile>) -> Option<Known> {
        let stat_file = stat_file.or_else(|| {
            (self.files_kept < self.file_budget)
                .then(|| StatFile::open(pid))
                .flatten()
        });
        let read_stat = |file: &Option<StatFile>| match file {
            Some(file) => file.read(),
            None => stat::read(pid),
        };
        // /proc is read file by file: an exec between the reads would pair the old name
        // with the new argv (and report the exec twice), and in the middle of an exec the
        // argv reads empty. Read until the stat is the same on both sides of the rest and
        // a live user process shows an argv.
        let mut attempts = 3;
        let (stat, info, steady) = loop {
            let before = read_stat(&stat_file)?;
            let info: ProcessInfo = snapshot::read_process(pid)?;
            let after = read_stat(&stat_file)?;
            let steady = before.comm == after.comm
                && before.exec_marks == after.exec_marks
                && after.comm == info.comm
                && (!info.argv.is_empty() || info.kernel_thread || after.exited());
            attempts -= 1;
            if steady || attempts == 0 {
                break (after, info, steady);
            }
        };
        // The pid was reused between the reads.
        if clock::start_ticks(info.start_ns) != stat.start_ticks {
            return None;
        }
        Some(Known {
            start_ticks: stat.start_ticks,
            ppid: info.ppid,
            comm: info.comm,
            argv: info.argv,
            argv_truncated: info.argv_truncated,
            creds: info.creds,
            kernel_thread: info.kernel_thread,
            pid_ns: info.pid_ns,
            cgroup: info.cgroup,
            exec_marks: stat.exec_marks,
            exited: stat.exited(),
            settling: !steady,
            stat_file,
        })
    }

    fn remember(&mut self, pid: u32, known: Known) {
        self.files_kept += usize::from(known.stat_file.is_some());
        if let Some(old) = self.known.insert(pid, known) {
            self.files_kept -= usize::from(old.stat_file.is_some());
        }
    }

    fn forget(&mut self, pid: u32) -> Known {
        let known = self.known.remove(&pid).expect("forget a known process");
        self.files_kept -= usize::from(known.stat_file.is_some());
        known
    }
}

/// A poller has no buffer to overflow: it loses nothing it could count (what it misses
/// between polls, it cannot know of).
impl CountsLoss for Procfs {
    fn lost_now(&mut self) -> Option<Event> {
        None
    }
}

/// How many stat files the poller, and the sampler, may each keep open: half of what this
/// process may open, less what is left for everything else.
pub(super) fn stat_file_budget() -> usize {
    (raise_fd_limit().saturating_sub(FDS_LEFT_FREE) / 2) as usize
}

/// Raises this process's soft limit on open files to the hard limit (any process may) and
/// returns it: the poller and the sampler keep a file open per process.
fn raise_fd_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: get/setrlimit on a struct we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            ..limit
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
            limit = raised;
        }
    }
    limit.rlim_cur
}

/// An exec as /proc shows it afterwards, with the argv the process has now. An exec has
/// at least one argument: a user process whose cmdline reads empty could not be read (it
/// ended, or is in the middle of another exec), which is not an empty argv.
fn exec_kind(pid: u32, known: &Known) -> Kind {
    Kind::Exec {
        filename: proc::exe_path(pid),
        argv: known.argv.clone(),
        argv_truncated: known.argv_truncated,
        filename_truncated: false,
        argv_unreadable: known.argv.is_empty() && !known.kernel_thread,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files_open(poller: &Procfs) -> usize {
        poller
            .known
            .values()
            .filter(|k| k.stat_file.is_some())
            .count()
    }

    /// An exec re-reads the process, which may open its stat file then: the count of kept
    /// files, which bounds how many are opened, must follow.
    #[tokio::test]
    async fn kept_stat_files_are_counted_across_an_exec() {
        use std::io::Write;
        let mut poller = Procfs::open(Duration::from_secs(1)).unwrap();
        // Learned while no file may be kept: it has none.
        let budget = poller.file_budget;
        poller.file_budget = 0;
        let mut child = std::process::Command::new("sh")
            .args(["-c", "read line; exec sleep 30"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let mut out = Vec::new();
        while !poller.known.contains_key(&pid) {
            poller.poll(&mut out).unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(poller.known[&pid].stat_file.is_none());
        poller.file_budget = budget;
        child.stdin.take().unwrap().write_all(b"go\n").unwrap();
        while poller.known[&pid].comm.as_str() != "sleep" {
            std::thread::sleep(Duration::from_millis(20));
            poller.poll(&mut out).unwrap();
        }
        assert_eq!(poller.files_kept, files_open(&poller));
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[tokio::test]
    async fn a_zero_interval_is_refused() {
        let err = Procfs::open(Duration::ZERO).err().unwrap();
        assert!(err.to_string().contains("longer than zero"), "{err}");
    }
}
