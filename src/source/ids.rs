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
//! id), its exit forgets them, and lost events forget all, so that an event missed is
//! never taken for a change.
//!
//! One thread leaves without an exit: a thread other than the leader that calls exec goes
//! on under the leader's id, and its own id is kept until a new task reuses it. Any user
//! can leave such ids behind, up to pid_max of them (4M on big machines). So the stage
//! follows at most [`MAX_THREADS`] threads and starts afresh, logged, when more come: a
//! cap costs one comparison and holds for every backend, where learning the old id (the
//! exec tracepoint has it) would need a place in the events of every backend for what is
//! only bookkeeping. Starting afresh forgets, it never invents a change: the price is
//! changes not inferred, on a machine with more threads alive than the cap, or for a user
//! who fills it on purpose (as one could by causing a loss).
//!
//! A loss reaches the stream only when the source reads its counters, which it does now
//! and then: events read after a drop can come before the report. So before it infers a
//! change, the stage asks the source whether anything was lost meanwhile ([`CountsLoss`]);
//! if so the report goes before the event and nothing is inferred. That costs system calls,
//! but only for an event that shows other ids, which is rare. And a report says when the
//! counters were read, not where in the stream the loss was: any event stamped before
//! that time may have been written before the loss, so such an event does not count as
//! its thread's last ids. A later one was written after every loss counted by then.
//!
//! An exec may change the effective ids (a set-uid or set-gid program) but never the real
//! ones, so an exec shows an inferred change only of real ids. An effective id changed
//! silently just before an exec is thus taken for the exec's doing: the two cannot be told
//! apart from the events.

use crate::event::{Creds, Event, KeyMap, Kind};

/// The most threads whose ids are kept: more than are alive on nearly any machine (the
/// kernel's default limit is one thread per 128 KiB of memory: 192k with 24 GiB), and
/// about 11 MiB of table when full.
pub const MAX_THREADS: usize = 1 << 18;

/// The ids each thread showed in its last event.
pub struct IdWatch {
    last: KeyMap<u32, Creds>,
    /// [`MAX_THREADS`]; smaller in tests.
    max_threads: usize,
    /// When the counters of the last loss report were read: events stamped until then may
    /// come from before the loss.
    blind_until_ns: u64,
}

impl Default for IdWatch {
    fn default() -> Self {
        Self {
            last: KeyMap::default(),
            max_threads: MAX_THREADS,
            blind_until_ns: 0,
        }
    }
}

/// A source whose events pass through an [`IdWatch`]: it tells of losses on demand.
pub trait CountsLoss {
    /// A loss report for what was lost since the source's last one, read now, stamped after
    /// the read; `None` if nothing was.
    fn lost_now(&mut self) -> Option<Event>;
}

/// What goes before an event.
enum Insert {
    Inferred(Silent),
    Lost(Event),
}

/// Which of a thread's ids changed without an event saying so.
#[derive(Clone, Copy, Default)]
struct Silent {
    uid: bool,
    gid: bool,
}

impl IdWatch {
    /// Notes the events from `from` on, and inserts an inferred `uid` and/or `gid` event
    /// before each one that shows ids its thread changed silently, or `source`'s loss
    /// report if events were lost meanwhile. One hash lookup per event; the events are
    /// moved only when something is inserted.
    pub fn infer(&mut self, events: &mut Vec<Event>, from: usize, source: &mut impl CountsLoss) {
        let mut found = Vec::new();
        // Where the batch's last loss report is, looked for at the first change.
        let mut last_report = None;
        for (i, event) in events.iter().enumerate().skip(from) {
            let silent = self.note(event);
            if !(silent.uid || silent.gid) {
                continue;
            }
            // A report further on counts losses from before this event was read.
            let later = *last_report.get_or_insert_with(|| {
                events[from..]
                    .iter()
                    .rposition(|e| matches!(e.kind, Kind::Lost { .. }))
                    .map(|at| from + at)
            });
            if let Some(at) = later.filter(|&at| at > i) {
                self.forget(events[at].ts_ns);
            } else if let Some(report) = source.lost_now() {
                self.forget(report.ts_ns);
                found.push((i, Insert::Lost(report)));
            } else {
                found.push((i, Insert::Inferred(silent)));
            }
        }
        if found.is_empty() {
            return;
        }
        let tail = events.split_off(from);
        events.reserve(tail.len() + 2 * found.len());
        let mut found = found.into_iter().peekable();
        for (i, event) in (from..).zip(tail) {
            match found.next_if(|(at, _)| *at == i) {
                Some((_, Insert::Inferred(silent))) => {
                    if silent.uid {
                        events.push(inferred(&event, Kind::Uid { inferred: true }));
                    }
                    if silent.gid {
                        events.push(inferred(&event, Kind::Gid { inferred: true }));
                    }
                }
                Some((_, Insert::Lost(report))) => events.push(report),
                None => {}
            }
            events.push(event);
        }
    }

    /// Forgets every thread's ids after a loss whose counters were read at `read_ns`.
    fn forget(&mut self, read_ns: u64) {
        self.last.clear();
        self.blind_until_ns = self.blind_until_ns.max(read_ns);
    }

    /// Keeps `creds` as thread `tid`'s last ids, starting afresh past the cap; returns the
    /// ids it had.
    fn keep(&mut self, tid: u32, creds: Creds) -> Option<Creds> {
        let before = self.last.insert(tid, creds);
        if self.last.len() > self.max_threads {
            tracing::warn!(
                "following the ids of more than {} threads: starting afresh (changes made \
                 before a thread's next event are not inferred)",
                self.max_threads
            );
            self.last.clear();
        }
        before
    }

    /// Takes `event`'s ids as its thread's last ones; says which changed silently.
    fn note(&mut self, event: &Event) -> Silent {
        if let Kind::Lost { .. } = event.kind {
            self.forget(event.ts_ns);
            return Silent::default();
        }
        let Some(now) = event.creds else {
            return Silent::default();
        };
        if event.ts_ns <= self.blind_until_ns {
            self.last.remove(&event.tid);
            return Silent::default();
        }
        let before = match event.kind {
            Kind::Fork | Kind::ThreadStart => {
                self.keep(event.tid, now);
                return Silent::default();
            }
            Kind::Exit(..) | Kind::ThreadExit => self.last.remove(&event.tid),
            _ => self.keep(event.tid, now),
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
        pid_ns: shown.pid_ns,
        cgroup: shown.cgroup.clone(),
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
            pid_ns: None,
            cgroup: None,
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

    /// A source's loss counters: `lost` events lost and not yet reported, reported at
    /// `now` when asked.
    #[derive(Default)]
    struct Counters {
        lost: u64,
        now: u64,
        asked: u32,
    }

    impl CountsLoss for Counters {
        fn lost_now(&mut self) -> Option<Event> {
            self.asked += 1;
            (self.lost > 0).then(|| Event::lost(self.now, std::mem::take(&mut self.lost)))
        }
    }

    /// (time, thread, kind name, inferred) of each event.
    fn summary(events: &[Event]) -> Vec<(u64, u32, &'static str, bool)> {
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

    /// [`summary`] after inference, from a source that lost nothing.
    fn infer(events: Vec<Event>) -> Vec<(u64, u32, &'static str, bool)> {
        let mut events = events;
        IdWatch::default().infer(&mut events, 0, &mut Counters::default());
        summary(&events)
    }

    #[test]
    fn a_silent_uid_change_is_inferred_before_the_event_that_shows_it() {
        let events = vec![
            event(1, 100, ROOT, Kind::Fork),
            event(2, 100, NOBODY, exec()),
            event(3, 100, NOBODY, Kind::Exit(ExitStatus::Code(0), None)),
        ];
        let mut inferred = events.clone();
        IdWatch::default().infer(&mut inferred, 0, &mut Counters::default());
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
            event(3, 100, NOBODY, Kind::Exit(ExitStatus::Code(0), None)),
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
            event(3, 100, setuid_exec, Kind::Exit(ExitStatus::Code(0), None)),
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
            event(4, 100, ROOT, Kind::Exit(ExitStatus::Code(0), None)),
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
            event(4, 100, NOBODY, Kind::Exit(ExitStatus::Code(0), None)),
            event(5, 100, ROOT, Kind::Fork),
            event(6, 100, ROOT, Kind::Exit(ExitStatus::Code(0), None)),
        ];
        let before = events.len();
        watch.infer(&mut events, 0, &mut Counters::default());
        assert_eq!(events.len(), before, "{events:#?}");
        assert!(watch.last.is_empty(), "exits forget");
        // A reused id whose exit was never seen: the fork sets its ids afresh.
        let mut events = vec![
            event(7, 200, NOBODY, Kind::Fork),
            event(8, 200, ROOT, Kind::Fork),
            event(9, 200, ROOT, Kind::Exit(ExitStatus::Code(0), None)),
        ];
        watch.infer(&mut events, 0, &mut Counters::default());
        assert_eq!(events.len(), 3, "{events:#?}");
    }

    #[test]
    fn only_the_new_events_are_looked_at() {
        let mut watch = IdWatch::default();
        let mut events = vec![event(1, 100, ROOT, Kind::Fork)];
        watch.infer(&mut events, 0, &mut Counters::default());
        events.push(event(2, 100, NOBODY, Kind::ThreadExit));
        watch.infer(&mut events, 1, &mut Counters::default());
        let kinds: Vec<_> = events.iter().map(|e| e.kind_name().as_str()).collect();
        assert_eq!(kinds, ["fork", "uid", "thread_exit"]);
    }

    /// A loss not reported yet when a thread shows other ids: the source is asked, its
    /// report goes before the event, and nothing is inferred.
    #[test]
    fn a_loss_is_asked_for_before_a_change_is_inferred() {
        let mut watch = IdWatch::default();
        let mut source = Counters {
            lost: 3,
            now: 10,
            asked: 0,
        };
        let mut events = vec![
            event(1, 100, ROOT, Kind::Fork),
            event(2, 100, ROOT, exec()),
            // Its uid event was lost.
            event(3, 100, NOBODY, Kind::Exit(ExitStatus::Code(0), None)),
        ];
        watch.infer(&mut events, 0, &mut source);
        assert_eq!(
            summary(&events),
            [
                (1, 100, "fork", false),
                (2, 100, "exec", false),
                (10, 0, "lost", false),
                (3, 100, "exit", false)
            ]
        );
        assert_eq!(events[2].lost_count(), 3);
        assert_eq!(source.asked, 1, "asked only when ids differ");
        // With nothing lost, a change is a change.
        events.push(event(11, 200, ROOT, Kind::Fork));
        events.push(event(12, 200, NOBODY, Kind::ThreadExit));
        watch.infer(&mut events, 4, &mut source);
        assert_eq!(source.asked, 2);
        assert_eq!(summary(&events[5..6]), [(12, 200, "uid", true)]);
    }

    /// A report further on in the same batch counts losses from before the events ahead
    /// of it were read: they show no change.
    #[test]
    fn a_report_later_in_the_batch_is_a_loss_already() {
        let mut source = Counters::default();
        let mut events = vec![
            event(1, 100, ROOT, Kind::Fork),
            event(2, 100, NOBODY, Kind::Exit(ExitStatus::Code(0), None)),
            event(3, 101, ROOT, Kind::Fork),
            Event::lost(9, 1),
        ];
        IdWatch::default().infer(&mut events, 0, &mut source);
        assert_eq!(events.len(), 4, "{events:#?}");
        assert_eq!(source.asked, 0);
    }

    /// Events read after a report but stamped before its counters were read may have been
    /// written before the loss: they are no thread's last ids.
    #[test]
    fn events_stamped_before_a_report_start_nothing() {
        let mut watch = IdWatch::default();
        let mut events = vec![Event::lost(10, 1)];
        watch.infer(&mut events, 0, &mut Counters::default());
        events.extend([
            event(5, 100, ROOT, Kind::Fork),
            // Written after the loss, which may have been this thread's uid event.
            event(11, 100, NOBODY, exec()),
            event(12, 100, ROOT, Kind::ThreadExit),
        ]);
        watch.infer(&mut events, 1, &mut Counters::default());
        assert_eq!(
            summary(&events[1..]),
            [
                (5, 100, "fork", false),
                (11, 100, "exec", false),
                (12, 100, "uid", true),
                (12, 100, "thread_exit", false)
            ]
        );
    }

    /// A thread other than the leader that calls exec leaves its id behind; ids left
    /// behind never hold more than the cap.
    #[test]
    fn threads_followed_are_capped() {
        let mut watch = IdWatch {
            max_threads: 4,
            ..IdWatch::default()
        };
        for round in 0..10 {
            let thread = 101 + round;
            let mut events = vec![
                event(1, 100, ROOT, Kind::Fork),
                event(2, thread, ROOT, Kind::ThreadStart),
                // The leader ends; the thread goes on under the leader's id.
                event(3, 100, ROOT, Kind::ThreadExit),
                event(4, 100, ROOT, exec()),
                event(5, 100, ROOT, Kind::Exit(ExitStatus::Code(0), None)),
            ];
            watch.infer(&mut events, 0, &mut Counters::default());
            assert!(watch.last.len() <= 4, "{} threads kept", watch.last.len());
        }
        // Past the cap every thread starts afresh: forgotten, not changed.
        let mut watch = IdWatch {
            max_threads: 4,
            ..IdWatch::default()
        };
        let mut events: Vec<_> = (200..205)
            .map(|tid| event(1, tid, ROOT, Kind::Fork))
            .collect();
        events.push(event(2, 200, NOBODY, Kind::ThreadExit));
        watch.infer(&mut events, 0, &mut Counters::default());
        assert_eq!(events.len(), 6, "{events:#?}");
    }
}
