//! Printing events: text for people, JSON lines for programs.

use std::{
    fmt::Write as _,
    io::{self, Write},
};

use crate::{
    clock::WallClock,
    event::{Event, ExitStatus, Kind, KindName, KindSet, duration, signal_name},
    text,
};

/// One line of text for an event, starting with its local time of day. Everything that came
/// from a process is [escaped](text::escape), so an event is always exactly one line and
/// never a control sequence, and quoted as a shell word where it is not a plain one
/// ([`text::push_quoted`]), so that it cannot pass for other fields.
pub fn text_line(event: &Event, clock: &WallClock) -> String {
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
        Kind::Exit(status) => push_exit(w, *status, event.run_ns()),
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

/// Counts what was printed, for the summary at the end.
#[derive(Default, Debug, Clone)]
pub struct Tally {
    pub per_kind: [u64; KindName::ALL.len()],
    pub lost: u64,
}

impl Tally {
    pub fn add(&mut self, event: &Event) {
        self.per_kind[event.kind_name() as usize] += 1;
        if let Kind::Lost { count } = event.kind {
            // Saturating: a damaged or hostile recording can claim any count.
            self.lost = self.lost.saturating_add(count);
        }
    }

    pub fn total(&self) -> u64 {
        self.per_kind.iter().sum::<u64>() - self.per_kind[KindName::Lost as usize]
    }

    /// `1203 events (fork 400, exec 3, exit 400, ...), 0 lost`.
    pub fn summary(&self) -> String {
        let kinds: Vec<String> = KindName::ALL
            .iter()
            .filter(|&&k| k != KindName::Lost && self.per_kind[k as usize] > 0)
            .map(|&k| format!("{k} {}", self.per_kind[k as usize]))
            .collect();
        format!(
            "{} events ({}), {} lost",
            self.total(),
            if kinds.is_empty() {
                "none".to_owned()
            } else {
                kinds.join(", ")
            },
            self.lost
        )
    }
}

/// Writes events to a stream in the chosen format, keeping a tally.
pub struct EventWriter<W: Write> {
    out: io::BufWriter<W>,
    json: bool,
    kinds: KindSet,
    clock: WallClock,
    pub tally: Tally,
}

impl<W: Write> EventWriter<W> {
    /// `json`: JSON lines rather than text; `kinds`: what to print besides loss reports.
    pub fn new(out: W, json: bool, kinds: KindSet, clock: WallClock) -> Self {
        Self {
            out: io::BufWriter::with_capacity(256 * 1024, out),
            json,
            kinds,
            clock,
            tally: Tally::default(),
        }
    }

    /// Whether `--kinds` lets this event through. Loss reports always pass.
    pub fn wants(&self, event: &Event) -> bool {
        matches!(event.kind, Kind::Lost { .. }) || self.kinds.contains(event.kind_name())
    }

    pub fn write(&mut self, event: &Event) -> io::Result<()> {
        if !self.wants(event) {
            return Ok(());
        }
        if self.json {
            event.write_json(&mut self.out)?;
            self.out.write_all(b"\n")?;
        } else {
            writeln!(self.out, "{}", text_line(event, &self.clock))?;
        }
        self.tally.add(event);
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Argv, Comm, Creds};

    fn event(kind: Kind) -> Event {
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
            &event(Kind::Exit(ExitStatus::Signal {
                signal: 9,
                core_dumped: false,
            })),
            &clock,
        );
        assert!(killed.ends_with("signal=9(SIGKILL) run=1.0s"), "{killed}");
        let thread = text_line(&event(Kind::ThreadStart), &clock);
        assert!(thread.contains("pid=300 tid=301 comm=make"), "{thread}");
        let lost = text_line(&Event::lost(5, 12), &clock);
        assert!(lost.ends_with("lost         count=12"), "{lost}");
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
            ..event(Kind::Exit(ExitStatus::Code(1)))
        };
        let line = text_line(&spaced, &clock);
        assert!(
            line.ends_with(r" comm='x\u{a0}code=0 '\''' exit_code=1 run=1.0s"),
            "{line}"
        );
    }

    #[test]
    fn writer_filters_kinds_but_never_loss_and_tallies() {
        let exit = "exit".parse().unwrap();
        let mut buf = Vec::new();
        let mut w = EventWriter::new(&mut buf, true, exit, WallClock::with_offset(0));
        w.write(&event(Kind::Fork)).unwrap();
        w.write(&event(Kind::Exit(ExitStatus::Code(3)))).unwrap();
        w.write(&Event::lost(5, 2)).unwrap();
        w.flush().unwrap();
        assert_eq!(w.tally.summary(), "1 events (exit 1), 2 lost");
        drop(w);
        let lines: Vec<&str> = std::str::from_utf8(&buf).unwrap().lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].contains(r#""exit_code":3"#));
    }
}
