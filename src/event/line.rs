//! The text line of an event, as the event commands print it and the UI's event panes
//! and details show it.

use std::fmt::Write as _;

use super::{Event, ExitStatus, Kind, bytes_short, cpu_seconds, duration, host, signal_name};
use crate::{clock::WallClock, text};

/// One line of text for an event, starting with its local time of day. Everything that came
/// from a process is [escaped](text::escape), so an event is always exactly one line and
/// never a control sequence, and quoted as a shell word where it is not a plain one
/// ([`text::push_quoted`]), so that it cannot pass for other fields.
pub fn text_line(event: &Event, clock: &WallClock) -> String {
    // Pids as the event's host gave them, in a view of several hosts.
    let event = &*host::shown(event);
    let time = clock.time_of_day(event.ts_ns);
    if let Kind::Lost { count } = event.kind {
        return format!("{time} {:<12} count={count}", "lost");
    }
    let mut line = format!(
        "{time} {:<12} pid={}",
        event.kind_name().as_str(),
        event.pid
    );
    let w = &mut line;
    if let Some(ns) = event.pid_ns.filter(|ns| ns.pid != event.pid) {
        let _ = write!(w, " ns_pid={}", ns.pid);
    }
    match &event.kind {
        Kind::ThreadStart | Kind::ThreadExit => {
            let _ = write!(w, " tid={}", event.tid);
        }
        _ => {
            let _ = write!(w, " ppid={}", event.ppid);
        }
    }
    push_ids(w, event);
    w.push_str(" comm=");
    text::push_quoted(w, event.comm.as_bytes());
    match &event.kind {
        Kind::Exec {
            filename,
            argv,
            argv_truncated,
            filename_truncated,
            argv_unreadable,
        } => {
            w.push_str(" file=");
            text::push_quoted(w, filename.as_bytes());
            if *filename_truncated {
                w.push_str(" [file name truncated]");
            }
            if *argv_unreadable {
                w.push_str(" argv unreadable");
            } else {
                let _ = write!(w, " argv: {}", argv.quoted());
            }
            if *argv_truncated {
                w.push_str(" [argv truncated]");
            }
        }
        Kind::Uid { inferred: true } | Kind::Gid { inferred: true } => {
            w.push_str(" inferred");
        }
        Kind::Exit(status, usage) => {
            push_exit(w, *status, event.run_ns());
            if let Some(usage) = usage {
                let _ = write!(
                    w,
                    " cpu={} user={} sys={} maxrss={}",
                    cpu_seconds(usage.cpu_ns()),
                    cpu_seconds(usage.user_ns),
                    cpu_seconds(usage.system_ns),
                    bytes_short(usage.max_rss_bytes)
                );
            }
        }
        Kind::Sample(sample) => {
            let _ = write!(
                w,
                " cpu={} rss={} state={} threads={}",
                cpu_seconds(sample.cpu_ns),
                bytes_short(sample.rss_bytes),
                sample.state,
                sample.threads
            );
        }
        _ => {}
    }
    line
}

/// The ids an exec or a uid or gid change shows: the user's on execs and uid changes (the
/// effective one when it differs, or changed), both group ids on gid changes.
fn push_ids(w: &mut String, event: &Event) {
    let Some(c) = event.creds else {
        return;
    };
    match event.kind {
        Kind::Exec { .. } | Kind::Uid { .. } => {
            let _ = write!(w, " uid={}", c.uid);
            if c.euid != c.uid || matches!(event.kind, Kind::Uid { .. }) {
                let _ = write!(w, " euid={}", c.euid);
            }
        }
        Kind::Gid { .. } => {
            let _ = write!(w, " gid={} egid={}", c.gid, c.egid);
        }
        _ => {}
    }
}

/// How a process ended, and how long it ran when its start is known.
fn push_exit(w: &mut String, status: ExitStatus, run_ns: Option<u64>) {
    match status {
        ExitStatus::Code(code) => {
            let _ = write!(w, " exit_code={code}");
        }
        ExitStatus::Signal {
            signal,
            core_dumped,
        } => {
            let _ = write!(w, " signal={signal}({})", signal_name(signal));
            if core_dumped {
                w.push_str(" core_dumped");
            }
        }
        ExitStatus::Unknown => w.push_str(" exit_status=unknown"),
    }
    if let Some(run) = run_ns {
        let _ = write!(w, " run={}", duration::short(run));
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::event::{Argv, Comm, Creds};

    /// An event of `kind` by `make`, pid 300, that ran a second.
    pub(in crate::event) fn event(kind: Kind) -> Event {
        Event {
            ts_ns: 2_000_000_000,
            pid: 300,
            tid: 301,
            ppid: 1,
            start_ns: 1_000_000_000,
            comm: Comm::from("make"),
            creds: Some(Creds {
                uid: 1000,
                euid: 0,
                gid: 1000,
                egid: 1000,
            }),
            cgroup_id: None,
            pid_ns: None,
            cgroup: None,
            kernel_thread: false,
            kind,
        }
    }

    #[test]
    fn text_lines_carry_each_kinds_details() {
        let clock = WallClock::with_offset(0);
        let exec = text_line(
            &event(Kind::Exec {
                filename: "/usr/bin/make".into(),
                argv: Argv::from_args(["make", "-j 2"]),
                argv_truncated: true,
                filename_truncated: false,
                argv_unreadable: false,
            }),
            &clock,
        );
        assert!(
            exec.ends_with(
                "exec         pid=300 ppid=1 uid=1000 euid=0 comm=make file=/usr/bin/make argv: make '-j 2' [argv truncated]"
            ),
            "{exec}"
        );
        let killed = text_line(
            &event(Kind::Exit(
                ExitStatus::Signal {
                    signal: 9,
                    core_dumped: false,
                },
                None,
            )),
            &clock,
        );
        assert!(killed.ends_with("signal=9(SIGKILL) run=1.0s"), "{killed}");
        let thread = text_line(&event(Kind::ThreadStart), &clock);
        assert!(thread.contains("pid=300 tid=301 comm=make"), "{thread}");
        let lost = text_line(&Event::lost(5, 12), &clock);
        assert!(lost.ends_with("lost         count=12"), "{lost}");
    }

    #[test]
    fn the_namespace_pid_shows_only_where_it_differs() {
        use crate::event::PidNamespace;
        let clock = WallClock::with_offset(0);
        let inside = |pid| Event {
            pid_ns: Some(PidNamespace {
                inode: 4026532000,
                pid,
            }),
            ..event(Kind::Fork)
        };
        let line = text_line(&inside(12), &clock);
        assert!(
            line.contains("fork         pid=300 ns_pid=12 ppid=1"),
            "{line}"
        );
        let line = text_line(&inside(300), &clock);
        assert!(line.contains("pid=300 ppid=1"), "{line}");
    }

    #[test]
    fn names_that_hold_spaces_are_quoted_and_cannot_pass_for_fields() {
        let clock = WallClock::with_offset(0);
        let forged = Event {
            comm: Comm::from("x exit_code=0"),
            ..event(Kind::Exec {
                filename: "/tmp/a argv: sudo -i".into(),
                argv: Argv::from_args(["a"]),
                argv_truncated: false,
                filename_truncated: false,
                argv_unreadable: false,
            })
        };
        let line = text_line(&forged, &clock);
        assert!(
            line.ends_with(" comm='x exit_code=0' file='/tmp/a argv: sudo -i' argv: a"),
            "{line}"
        );
        let spaced = Event {
            comm: Comm::from("x\u{a0}code=0 '"),
            ..event(Kind::Exit(ExitStatus::Code(1), None))
        };
        let line = text_line(&spaced, &clock);
        assert!(
            line.ends_with(r" comm='x\u{a0}code=0 '\''' exit_code=1 run=1.0s"),
            "{line}"
        );
    }
}
