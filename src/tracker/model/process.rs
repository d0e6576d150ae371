//! One process as the model knows it, how it ended, and the log of its own events.

use std::sync::Arc;

use super::{EVENT_LOG_HEAD, ProcessKey, program::Program};
use crate::event::{
    Argv, ByteString, CgroupPath, Comm, Creds, Event, ExitStatus, Kind, PidNamespace, Sampled,
    Usage,
};

/// How and when a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exit {
    pub ts_ns: u64,
    /// [`ExitStatus::Unknown`] when the source cannot know it (the /proc poller), or the
    /// process was found gone without its exit event (after lost events, or a zombie in
    /// the /proc snapshot).
    pub status: ExitStatus,
}

/// A process's own events, oldest first: the first [`EVENT_LOG_HEAD`] and the latest ones,
/// within [`Config::events_per_process`](super::Config::events_per_process).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    pub events: Vec<Event>,
    /// Events left out between the first ones and the latest ones.
    pub omitted: u64,
}

/// Where a process keeps its events. An exec's program is shared with the process rather
/// than copied.
#[derive(Clone, Debug, Default)]
pub(super) struct EventLog {
    /// Events with an exec's filename and argv left out: they are in `program`.
    pub(super) records: Vec<(Event, Option<Arc<Program>>)>,
    pub(super) omitted: u64,
    /// What the programs of its records hold (see `memory`).
    pub(super) program_bytes: usize,
}

impl EventLog {
    pub(super) fn push(&mut self, event: &Event, program: Option<&Arc<Program>>, cap: usize) {
        if cap == 0 {
            self.omitted += 1;
            return;
        }
        let kind = match &event.kind {
            Kind::Exec {
                argv_truncated,
                filename_truncated,
                argv_unreadable,
                ..
            } => Kind::Exec {
                filename: ByteString::default(),
                argv: Argv::default(),
                argv_truncated: *argv_truncated,
                filename_truncated: *filename_truncated,
                argv_unreadable: *argv_unreadable,
            },
            kind => kind.clone(),
        };
        let record = Event {
            kind,
            cgroup: event.cgroup.clone(),
            ..*event
        };
        // Usually an append; a late event goes where its time puts it.
        let at = self
            .records
            .iter()
            .rposition(|(e, _)| e.ts_ns <= event.ts_ns)
            .map_or(0, |i| i + 1);
        self.records.insert(at, (record, program.cloned()));
        // Counted before a record makes room: the one that goes may be this one.
        self.program_bytes += program.map_or(0, |p| p.byte_size());
        if self.records.len() > cap {
            let (_, program) = self.records.remove(EVENT_LOG_HEAD.min(cap - 1));
            self.program_bytes -= program.map_or(0, |p| p.byte_size());
            self.omitted += 1;
        }
        if program.is_some() {
            self.keep_programs_within();
        }
    }

    fn history(&self) -> History {
        let events = self
            .records
            .iter()
            .map(|(event, program)| match (&event.kind, program) {
                (
                    Kind::Exec {
                        argv_truncated,
                        filename_truncated,
                        argv_unreadable,
                        ..
                    },
                    Some(program),
                ) => Event {
                    kind: Kind::Exec {
                        filename: program.filename.clone().unwrap_or_default(),
                        argv: program.argv.clone(),
                        argv_truncated: *argv_truncated || program.argv_truncated,
                        filename_truncated: *filename_truncated || program.filename_truncated,
                        argv_unreadable: *argv_unreadable,
                    },
                    ..event.clone()
                },
                _ => event.clone(),
            })
            .collect();
        History {
            events,
            omitted: self.omitted,
        }
    }
}

/// One process as the model knows it.
#[derive(Clone, Debug)]
pub struct Process {
    pub key: ProcessKey,
    /// The parent's pid as last reported (or as the model re-parented it).
    pub ppid: u32,
    /// CLOCK_BOOTTIME nanoseconds; tick precision for processes known only from /proc.
    pub start_ns: u64,
    pub comm: Comm,
    pub program: Arc<Program>,
    pub creds: Option<Creds>,
    pub cgroup_id: Option<u64>,
    /// Its PID namespace and its pid there, where a source told.
    pub pid_ns: Option<PidNamespace>,
    /// Its cgroup v2 path, as the latest event that knew it said.
    pub cgroup: Option<CgroupPath>,
    pub kernel_thread: bool,
    /// Live threads; 0 once exited.
    pub threads: u32,
    pub exit: Option<Exit>,
    /// Learned from events: it received orphans that were not its own children.
    pub subreaper: bool,
    /// What it costs: its latest sample, the most memory any sample saw, what the kernel
    /// accounted at its exit.
    pub resources: Resources,
    pub(super) log: EventLog,
}

/// What a process costs, as far as samples and its exit told.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    /// Its latest sample (`--sample-interval`), or the one its /proc snapshot held.
    pub sampled: Option<Sampled>,
    /// The most resident memory any of its samples showed, bytes.
    pub peak_rss_bytes: u64,
    /// What the kernel accounted to it when it ended, where the source knows it.
    pub usage: Option<Usage>,
}

impl Resources {
    /// CPU time it used, nanoseconds: all of it once it ended with its usage known, else
    /// as of its latest sample.
    pub fn cpu_ns(&self) -> Option<u64> {
        match (&self.usage, &self.sampled) {
            (Some(usage), _) => Some(usage.cpu_ns()),
            (None, Some(s)) => Some(s.sample.cpu_ns),
            (None, None) => None,
        }
    }

    /// The most memory it had resident, bytes, as far as its samples and its exit told.
    pub fn peak_rss_bytes(&self) -> u64 {
        let exit = self.usage.map_or(0, |u| u.max_rss_bytes);
        self.peak_rss_bytes.max(exit)
    }

    pub(super) fn take_sample(&mut self, sampled: Sampled) {
        self.peak_rss_bytes = self.peak_rss_bytes.max(sampled.sample.rss_bytes);
        self.sampled = Some(sampled);
    }
}

impl Process {
    pub fn is_alive(&self) -> bool {
        self.exit.is_none()
    }

    /// Its own events, oldest first.
    pub fn history(&self) -> History {
        self.log.history()
    }

    /// How long it ran, for exited processes.
    pub fn run_ns(&self) -> Option<u64> {
        self.exit.map(|e| e.ts_ns.saturating_sub(self.start_ns))
    }
}
