//! Uid and gid changes that no event announced, inferred from the credentials every event
//! carries.
//!
//! The probe sees set*id calls through the syscall exit tracepoints, which never fire for
//! 32-bit system calls on x86_64 (`int $0x80`, syscall 213 `setuid32`): a known way past
//! monitors. The /proc poller sees no set*id call at all. Both give every event the ids of
//! the thread it concerns, so a thread whose event shows other ids than its last one
//! changed them in between: a `uid` or `gid` event marked `inferred`, stamped with the
//! time of the event that showed it, goes before that event.
//!
//! Ids are kept per thread: a thread can change its own with a raw system call (glibc's
//! setuid changes every thread, each with a call of its own). A thread's first event sets
//! its ids, a fork or thread start sets them afresh (a new task, perhaps under a reused
//! id), its exit forgets them, and lost events forget all: memory is bounded by the
//! threads alive, and an event missed is never taken for a change.
//!
//! An exec may change the effective ids (a set-uid or set-gid program) but never the real
//! ones, so an exec shows an inferred change only of real ids. An effective id changed
//! silently just before an exec is thus taken for the exec's doing: the two cannot be told
//! apart from the events.

use crate::{
    event::{Creds, Event, Kind},
    model::KeyMap,
};

/// The ids each thread showed in its last event.
#[derive(Default)]
pub struct IdWatch {
    last: KeyMap<u32, Creds>,
}

/// Which of a thread's ids changed without an event saying so.
#[derive(Clone, Copy, Default)]
struct Silent {
    uid: bool,
    gid: bool,
}

impl IdWatch {
    /// Notes the events from `from` on, and inserts an inferred `uid` and/or `gid` event
    /// before each one that shows ids its thread changed silently. One hash lookup per
    /// event; the events are moved only when something is inserted.
    pub fn infer(&mut self, events: &mut Vec<Event>, from: usize) {
        let mut found = Vec::new();
        for (i, event) in events.iter().enumerate().skip(from) {
            let silent = self.note(event);
            if silent.uid || silent.gid {
                found.push((i, silent));
            }
        }
        if found.is_empty() {
            return;
        }
        let tail = events.split_off(from);
        events.reserve(tail.len() + 2 * found.len());
        let mut found = found.into_iter().peekable();
        for (i, event) in (from..).zip(tail) {
            if let Some((_, silent)) = found.next_if(|&(at, _)| at == i) {
                if silent.uid {
                    events.push(inferred(&event, Kind::Uid { inferred: true }));
                }
                if silent.gid {
                    events.push(inferred(&event, Kind::Gid { inferred: true }));
                }
            }
            events.push(event);
        }
    }

    /// Takes `event`'s ids as its thread's last ones; says which changed silently.
    fn note(&mut self, event: &Event) -> Silent {
        if let Kind::Lost { .. } = event.kind {
            self.last.clear();
            return Silent::default();
        }
        let Some(now) = event.creds else {
            return Silent::default();
        };
        let before = match event.kind {
            Kind::Fork | Kind::ThreadStart => {
                self.last.insert(event.tid, now);
                return Silent::default();
            }
            Kind::Exit(_) | Kind::ThreadExit => self.last.remove(&event.tid),
            _ => self.last.insert(event.tid, now),
        };
        let Some(before) = before else {
            return Silent::default();
        };
        let real = Silent {
            uid: now.uid != before.uid,
            gid: now.gid != before.gid,
        };
        let all = Silent {
            uid: real.uid || now.euid != before.euid,
            gid: real.gid || now.egid != before.egid,
        };
        match event.kind {
            Kind::Exec { .. } => real,
            Kind::Uid { .. } => Silent { uid: false, ..all },
            Kind::Gid { .. } => Silent { gid: false, ..all },
            _ => all,
        }
    }
}

/// A `kind` event of the process, thread, time and ids of `shown`, the event that showed
/// the change.
fn inferred(shown: &Event, kind: Kind) -> Event {
    Event {
        ts_ns: shown.ts_ns,
        pid: shown.pid,
        tid: shown.tid,
        ppid: shown.ppid,
        start_ns: shown.start_ns,
        comm: shown.comm,
        creds: shown.creds,
        cgroup_id: shown.cgroup_id,
        kernel_thread: shown.kernel_thread,
        kind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Argv, Comm, ExitStatus};

    const ROOT: Creds = Creds {
        uid: 0,
        euid: 0,
        gid: 0,
        egid: 0,
    };
    const NOBODY: Creds = Creds {
        uid: 65534,
        euid: 65534,
        gid: 0,
        egid: 0,
    };

    fn event(ts_ns: u64, tid: u32, creds: Creds, kind: Kind) -> Event {
        Event {
            ts_ns,
            pid: 100,
            tid,
            ppid: 1,
            start_ns: 1,
            comm: Comm::from("w"),
            creds: Some(creds),
            cgroup_id: None,
            kernel_thread: false,
            kind,
        }
    }

    fn exec() -> Kind {
        Kind::Exec {
            filename: "/bin/true".into(),
            argv: Argv::from_args(["true"]),
            argv_truncated: false,
            filename_truncated: false,
            argv_unreadable: false,
        }
    }

    /// (time, thread, kind name, inferred) of each event, after inference.
    fn infer(events: Vec<Event>) -> Vec<(u64, u32, &'static str, bool)> {
        let mut events = events;
        IdWatch::default().infer(&mut events, 0);
        events
            .iter()
            .map(|e| {
                let inferred = matches!(
                    e.kind,
                    Kind::Uid { inferred: true } | Kind::Gid { inferred: true }
                );
                (e.ts_ns, e.tid, e.kind_name().as_str(), inferred)
            })
            .collect()
    }

    #[test]
    fn a_silent_uid_change_is_inferred_before_the_event_that_shows_it() {
        let events = vec![
            event(1, 100, ROOT, Kind::Fork),
            event(2, 100, NOBODY, exec()),
            event(3, 100, NOBODY, Kind::Exit(ExitStatus::Code(0))),
        ];
        let mut inferred = events.clone();
        IdWatch::default().infer(&mut inferred, 0);
        assert_eq!(inferred.len(), 4);
        assert_eq!(inferred[1].kind, Kind::Uid { inferred: true });
        assert_eq!(inferred[1].creds, Some(NOBODY));
        assert_eq!((inferred[1].ts_ns, inferred[1].pid), (2, 100));
        assert_eq!(inferred[2], events[1]);
    }

    #[test]
    fn an_announced_change_is_not_inferred_again() {
        let seen = infer(vec![
            event(1, 100, ROOT, Kind::Fork),
            event(2, 100, NOBODY, Kind::Uid { inferred: false }),
            event(3, 100, NOBODY, Kind::Exit(ExitStatus::Code(0))),
        ]);
        assert_eq!(
            seen,
            [
                (1, 100, "fork", false),
                (2, 100, "uid", false),
                (3, 100, "exit", false)
            ]
        );
    }

    #[test]
    fn a_uid_event_shows_a_silent_gid_change() {
        let group = Creds {
            gid: 65534,
            egid: 65534,
            ..NOBODY
        };
        let seen = infer(vec![
            event(1, 100, ROOT, Kind::Fork),
            event(2, 100, group, Kind::Uid { inferred: false }),
        ]);
        assert_eq!(
            seen,
            [
                (1, 100, "fork", false),
                (2, 100, "gid", true),
                (2, 100, "uid", false)
            ]
        );
    }

    /// A set-uid program changes the effective uid at its exec; a real uid never changes
    /// there.
    #[test]
    fn an_exec_may_change_effective_ids_only() {
        let setuid_exec = Creds { euid: 0, ..NOBODY };
        let seen = infer(vec![
            event(1, 100, NOBODY, Kind::Fork),
            event(2, 100, setuid_exec, exec()),
            event(3, 100, setuid_exec, Kind::Exit(ExitStatus::Code(0))),
        ]);
        assert!(seen.iter().all(|&(.., inferred)| !inferred), "{seen:?}");
        let seen = infer(vec![
            event(1, 100, NOBODY, Kind::Fork),
            event(2, 100, ROOT, exec()),
        ]);
        assert_eq!(seen[1], (2, 100, "uid", true));
    }

    /// Threads are followed one by one: one that changed its ids alone does not make the
    /// others look changed.
    #[test]
    fn threads_keep_their_own_ids() {
        let seen = infer(vec![
            event(1, 100, ROOT, Kind::Fork),
            event(2, 101, ROOT, Kind::ThreadStart),
            event(3, 101, NOBODY, Kind::ThreadExit),
            event(4, 100, ROOT, Kind::Exit(ExitStatus::Code(0))),
        ]);
        let inferred: Vec<_> = seen.iter().filter(|&&(.., inferred)| inferred).collect();
        assert_eq!(inferred, [&(3, 101, "uid", true)]);
    }

    /// A thread id used again, after an exit or lost events, starts afresh.
    #[test]
    fn forks_exits_and_losses_start_afresh() {
        let mut watch = IdWatch::default();
        let mut events = vec![
            event(1, 100, ROOT, Kind::Fork),
            event(2, 100, ROOT, exec()),
            Event::lost(3, 5),
            event(4, 100, NOBODY, Kind::Exit(ExitStatus::Code(0))),
            event(5, 100, ROOT, Kind::Fork),
            event(6, 100, ROOT, Kind::Exit(ExitStatus::Code(0))),
        ];
        let before = events.len();
        watch.infer(&mut events, 0);
        assert_eq!(events.len(), before, "{events:#?}");
        assert!(watch.last.is_empty(), "exits forget");
        // A reused id whose exit was never seen: the fork sets its ids afresh.
        let mut events = vec![
            event(7, 200, NOBODY, Kind::Fork),
            event(8, 200, ROOT, Kind::Fork),
            event(9, 200, ROOT, Kind::Exit(ExitStatus::Code(0))),
        ];
        watch.infer(&mut events, 0);
        assert_eq!(events.len(), 3, "{events:#?}");
    }

    #[test]
    fn only_the_new_events_are_looked_at() {
        let mut watch = IdWatch::default();
        let mut events = vec![event(1, 100, ROOT, Kind::Fork)];
        watch.infer(&mut events, 0);
        events.push(event(2, 100, NOBODY, Kind::ThreadExit));
        watch.infer(&mut events, 1);
        let kinds: Vec<_> = events.iter().map(|e| e.kind_name().as_str()).collect();
        assert_eq!(kinds, ["fork", "uid", "thread_exit"]);
    }
}
