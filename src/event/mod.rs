//! The process event every source produces (probe, proc connector, /proc poller, replay)
//! and every consumer reads (model, UI, JSON output, recording, relay): the lowest layer,
//! which imports nothing of forkwatch's but the leaf utilities and the probe's ABI.
//!
//! Here: [`Event`] and its parts (this file; argv and byte strings in `argv`, exact bytes
//! in `lossless`); the kinds of event, defined once in `kinds`; what identifies a process
//! ([`ProcessKey`], `key`); how events are printed (the JSON form in `json`, the text line
//! in `line`, the writer and tally in `output`); how durations read ([`duration`]); and
//! which container a cgroup path belongs to ([`container`]).

mod argv;
pub mod container;
pub mod duration;
pub mod host;
mod json;
mod key;
mod kinds;
mod line;
mod lineage;
mod lossless;
mod otel;
mod output;
mod place;
mod usage;

use std::{borrow::Cow, fmt};

use serde::{Deserialize, Serialize};

pub use argv::{Argv, ByteString, MAX_ARGV_BYTES, MAX_FILENAME_BYTES};
pub use json::TerminalSafe;
pub(crate) use key::{KeyHasher, KeyMap};
pub use key::{PID_MAX_LIMIT, ProcessKey};
pub use kinds::{KindName, KindSet};
pub use line::text_line;
pub use lossless::ExactArgv;
pub use output::{EventWriter, Schema, Tally};
pub use place::{CgroupPath, MAX_CGROUP_PATH_BYTES, PidNamespace};
pub use usage::{Sample, Sampled, State, Usage, bytes_short, cpu_seconds};

use crate::text;

/// A process's command name (`task_struct.comm`): at most 15 bytes, kept inline so events
/// need no allocation for it.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Comm([u8; 16]);

impl Comm {
    pub fn from_bytes(raw: &[u8]) -> Self {
        let len = raw
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(raw.len())
            .min(15);
        let mut comm = [0; 16];
        comm[..len].copy_from_slice(&raw[..len]);
        Self(comm)
    }

    /// The name's bytes, without the NUL padding.
    pub fn as_bytes(&self) -> &[u8] {
        let len = self.0.iter().position(|&b| b == 0).unwrap_or(16);
        &self.0[..len]
    }

    /// As text, undecodable bytes replaced by U+FFFD: for JSON and searching, not for a
    /// terminal.
    pub fn as_str(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(self.as_bytes())
    }

    /// As a terminal may show it: [escaped](text::escape).
    pub fn escaped(&self) -> Cow<'_, str> {
        text::escape(self.as_bytes())
    }
}

impl From<&str> for Comm {
    fn from(s: &str) -> Self {
        Self::from_bytes(s.as_bytes())
    }
}

/// Shown [escaped](text::escape): safe to print anywhere.
impl fmt::Display for Comm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.escaped())
    }
}

impl Serialize for Comm {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.as_str())
    }
}

impl<'de> Deserialize<'de> for Comm {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::from(String::deserialize(d)?.as_str()))
    }
}

impl fmt::Debug for Comm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.escaped())
    }
}

/// Real and effective user and group ids.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Creds {
    pub uid: u32,
    pub euid: u32,
    pub gid: u32,
    pub egid: u32,
}

/// How a process ended, decoded from its wait status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExitStatus {
    /// It called exit: the code it passed (0-255).
    Code(i32),
    /// A signal killed it.
    Signal { signal: i32, core_dumped: bool },
    /// It ended, but the source cannot know how: the /proc poller sees processes vanish,
    /// and only a parent can wait for the status of a process that was not ours.
    Unknown,
}

impl ExitStatus {
    /// Decodes a raw wait status as `waitpid` reports it.
    pub fn from_wait_status(status: u32) -> Self {
        match status & 0x7f {
            0 => Self::Code(((status >> 8) & 0xff) as i32),
            signal => Self::Signal {
                signal: signal as i32,
                core_dumped: status & 0x80 != 0,
            },
        }
    }

    pub fn code(self) -> Option<i32> {
        match self {
            Self::Code(code) => Some(code),
            Self::Signal { .. } | Self::Unknown => None,
        }
    }

    pub fn signal(self) -> Option<i32> {
        match self {
            Self::Signal { signal, .. } => Some(signal),
            Self::Code(_) | Self::Unknown => None,
        }
    }

    /// The status a shell reports: the code, or 128 + the signal; `None` if unknown.
    pub fn shell_status(self) -> Option<i32> {
        match self {
            Self::Code(code) => Some(code),
            Self::Signal { signal, .. } => Some(128 + signal),
            Self::Unknown => None,
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Code(code) => write!(f, "exit {code}"),
            Self::Signal {
                signal,
                core_dumped,
            } => {
                write!(f, "killed by {}", signal_name(signal))?;
                if core_dumped {
                    f.write_str(" (core dumped)")?;
                }
                Ok(())
            }
            Self::Unknown => f.write_str("exit status unknown"),
        }
    }
}

/// `SIGKILL`, `SIGRTMIN+3` (counted from the SIGRTMIN that libc reports), or the number.
pub fn signal_name(signal: i32) -> String {
    const NAMES: [&str; 32] = [
        "0",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    let rtmin = libc::SIGRTMIN();
    match signal {
        1..32 => NAMES[signal as usize].to_owned(),
        _ if signal == rtmin => "SIGRTMIN".to_owned(),
        _ if signal > rtmin && signal <= libc::SIGRTMAX() => format!("SIGRTMIN+{}", signal - rtmin),
        _ => format!("signal {signal}"),
    }
}

/// What happened. The names are the `kind` values of the JSON output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A new process: `pid` is the child, `ppid` its parent.
    Fork,
    /// A new thread `tid` in process `pid`.
    ThreadStart,
    /// Process `pid` now runs `filename` with `argv`; the event's credentials are those
    /// after the exec (a set-uid binary changes them).
    Exec {
        filename: ByteString,
        argv: Argv,
        /// The argv was longer than the source keeps and was cut.
        argv_truncated: bool,
        /// The file name was longer than the probe keeps and was cut.
        filename_truncated: bool,
        /// The argv could not be read (the source says so rather than give an empty one).
        argv_unreadable: bool,
    },
    /// The last thread of process `pid` ended, and what the kernel accounted to it where
    /// the source knows (the probe does; the proc connector and the poller do not).
    Exit(ExitStatus, Option<Box<Usage>>),
    /// Thread `tid` of process `pid` ended; the process lives on.
    ThreadExit,
    /// A successful set*uid call; the event's credentials are the new ones. `inferred`: no
    /// set*uid call was seen, but the process's next event showed other ids (a 32-bit
    /// `int $0x80` setuid, which no syscall tracepoint reports); the event's time is when
    /// that was noticed.
    Uid { inferred: bool },
    /// A successful set*gid call, as [`Kind::Uid`] for group ids.
    Gid { inferred: bool },
    /// `count` events could not be delivered since the previous report.
    Lost { count: u64 },
    /// What a live sample read of process `pid` (`--sample-interval`).
    Sample(Sample),
}

/// One process event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// CLOCK_BOOTTIME when it happened, in nanoseconds.
    pub ts_ns: u64,
    /// The process (thread group) it concerns.
    pub pid: u32,
    /// The thread it concerns (equal to `pid` for the main thread).
    pub tid: u32,
    /// The process's parent.
    pub ppid: u32,
    /// CLOCK_BOOTTIME when the process started: with `pid`, what identifies the process.
    pub start_ns: u64,
    pub comm: Comm,
    /// Credentials at the time of the event, where the source knows them.
    pub creds: Option<Creds>,
    /// The cgroup v2 id of the task that caused the event, where the source knows it.
    pub cgroup_id: Option<u64>,
    /// The process's PID namespace and its pid there, where the source knows them.
    pub pid_ns: Option<PidNamespace>,
    /// The cgroup v2 path of `cgroup_id` (or of the process, for sources that read /proc),
    /// where the source knows it.
    pub cgroup: Option<CgroupPath>,
    pub kernel_thread: bool,
    pub kind: Kind,
}

impl Event {
    pub fn kind_name(&self) -> KindName {
        match self.kind {
            Kind::Fork => KindName::Fork,
            Kind::ThreadStart => KindName::ThreadStart,
            Kind::Exec { .. } => KindName::Exec,
            Kind::Exit(..) => KindName::Exit,
            Kind::ThreadExit => KindName::ThreadExit,
            Kind::Uid { .. } => KindName::Uid,
            Kind::Gid { .. } => KindName::Gid,
            Kind::Lost { .. } => KindName::Lost,
            Kind::Sample(_) => KindName::Sample,
        }
    }

    /// A loss report at `ts_ns`.
    pub fn lost(ts_ns: u64, count: u64) -> Self {
        Self {
            ts_ns,
            pid: 0,
            tid: 0,
            ppid: 0,
            start_ns: 0,
            comm: Comm::default(),
            creds: None,
            cgroup_id: None,
            pid_ns: None,
            cgroup: None,
            kernel_thread: false,
            kind: Kind::Lost { count },
        }
    }

    /// The events a loss report stands for; 0 for every other event.
    pub fn lost_count(&self) -> u64 {
        match self.kind {
            Kind::Lost { count } => count,
            _ => 0,
        }
    }

    /// How long the process had run, for exit events.
    pub fn run_ns(&self) -> Option<u64> {
        match self.kind {
            Kind::Exit(..) if self.start_ns > 0 => Some(self.ts_ns.saturating_sub(self.start_ns)),
            _ => None,
        }
    }

    /// Bytes the event holds, inline and on the heap: what byte budgets count. A cgroup
    /// path counts whole, though events of one cgroup usually share it.
    pub fn byte_size(&self) -> usize {
        size_of::<Self>()
            + self.cgroup.as_ref().map_or(0, |c| c.as_bytes().len())
            + match &self.kind {
                Kind::Exec { filename, argv, .. } => filename.len() + argv.byte_len(),
                _ => 0,
            }
    }

    /// Cuts an exec's argv to [`MAX_ARGV_BYTES`] and its file name to
    /// [`MAX_FILENAME_BYTES`], flagging what was cut: no live source gives more, but a
    /// recording can, and whatever keeps events must not hold more than that per event.
    pub fn cap(&mut self) {
        if let Kind::Exec {
            filename,
            argv,
            argv_truncated,
            filename_truncated,
            ..
        } = &mut self.kind
        {
            if let Some(cut) = argv.cut(MAX_ARGV_BYTES) {
                *argv = cut;
                *argv_truncated = true;
            }
            if let Some(cut) = filename.cut(MAX_FILENAME_BYTES) {
                *filename = cut;
                *filename_truncated = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec() -> Event {
        Event {
            ts_ns: 5_000,
            pid: 42,
            tid: 42,
            ppid: 1,
            start_ns: 4_000,
            comm: "ls".into(),
            creds: Some(Creds {
                uid: 1000,
                euid: 0,
                gid: 1000,
                egid: 1000,
            }),
            cgroup_id: Some(7),
            pid_ns: Some(PidNamespace {
                inode: 4026532000,
                pid: 12,
            }),
            cgroup: Some(CgroupPath::new(b"/ctr/\xff\x1b")),
            kernel_thread: false,
            kind: Kind::Exec {
                filename: "/bin/ls".into(),
                argv: Argv::from_args(["ls", "-l"]),
                argv_truncated: false,
                filename_truncated: false,
                argv_unreadable: false,
            },
        }
    }

    #[test]
    fn wait_status_decodes_codes_and_signals() {
        assert_eq!(ExitStatus::from_wait_status(7 << 8), ExitStatus::Code(7));
        assert_eq!(
            ExitStatus::from_wait_status(9),
            ExitStatus::Signal {
                signal: 9,
                core_dumped: false
            }
        );
        assert_eq!(
            ExitStatus::from_wait_status(0x80 | 11),
            ExitStatus::Signal {
                signal: 11,
                core_dumped: true
            }
        );
        assert_eq!(ExitStatus::from_wait_status(15).shell_status(), Some(143));
        assert_eq!(ExitStatus::Unknown.shell_status(), None);
    }

    #[test]
    fn json_has_the_documented_fields_and_reads_back() {
        let e = exec();
        let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(v["kind"], "exec");
        assert_eq!(v["argv"][1], "-l");
        assert_eq!(v["euid"], 0);
        assert_eq!(
            (&v["pid_ns"], &v["ns_pid"]),
            (&4026532000u32.into(), &12.into())
        );
        assert_eq!(v["cgroup"], "/ctr/\u{fffd}\u{1b}");
        assert_eq!(v["cgroup_base64"], "L2N0ci//Gw==");
        assert_eq!(serde_json::from_str::<Event>(&e.to_json()).unwrap(), e);

        let mut exit = exec();
        exit.kind = Kind::Exit(
            ExitStatus::Signal {
                signal: 9,
                core_dumped: false,
            },
            None,
        );
        let v: serde_json::Value = serde_json::from_str(&exit.to_json()).unwrap();
        assert_eq!(v["signal"], 9);
        assert!(v["exit_code"].is_null());
        assert_eq!(v["run_ns"], 1_000);
        assert_eq!(
            serde_json::from_str::<Event>(&exit.to_json()).unwrap(),
            exit
        );

        exit.kind = Kind::Exit(ExitStatus::Unknown, None);
        let v: serde_json::Value = serde_json::from_str(&exit.to_json()).unwrap();
        assert!(v["exit_code"].is_null() && v["signal"].is_null());
        assert_eq!(v["core_dumped"], false);
        assert_eq!(
            serde_json::from_str::<Event>(&exit.to_json()).unwrap(),
            exit
        );

        let lost = Event::lost(9, 3);
        assert_eq!(
            serde_json::from_str::<Event>(&lost.to_json()).unwrap(),
            lost
        );
    }

    #[test]
    fn capping_cuts_what_no_live_source_gives_and_byte_size_counts_the_heap() {
        let mut e = exec();
        let small = e.byte_size();
        assert_eq!(
            small,
            size_of::<Event>() + "/bin/ls".len() + "ls\0-l\0".len() + b"/ctr/\xff\x1b".len()
        );
        e.cap();
        assert_eq!(e, exec(), "within the caps nothing changes");
        if let Kind::Exec { filename, argv, .. } = &mut e.kind {
            *filename = vec![b'/'; MAX_FILENAME_BYTES + 1].into();
            *argv = Argv::from_area(&vec![b'x'; 16 << 20]);
        }
        e.cap();
        let Kind::Exec {
            filename,
            argv,
            argv_truncated,
            filename_truncated,
            ..
        } = &e.kind
        else {
            unreachable!()
        };
        assert_eq!(
            (filename.len(), argv.byte_len()),
            (MAX_FILENAME_BYTES, MAX_ARGV_BYTES + 1)
        );
        assert!(*argv_truncated && *filename_truncated);
        assert_eq!(
            e.byte_size(),
            size_of::<Event>() + MAX_FILENAME_BYTES + MAX_ARGV_BYTES + 1 + b"/ctr/\xff\x1b".len()
        );
    }
    #[test]
    fn comm_is_cut_at_nul_and_15_bytes() {
        assert_eq!(Comm::from_bytes(b"bash\0junk").to_string(), "bash");
        assert_eq!(
            Comm::from("a-very-long-command-name").to_string(),
            "a-very-long-com"
        );
        assert_eq!(Comm::from_bytes(b"\x1b[2J\xff").to_string(), r"\e[2J\xff");
    }

    #[test]
    fn durations_and_signals_read_like_a_shell() {
        assert_eq!(duration::short(850_000), "850us");
        assert_eq!(duration::short(12_340_000), "12.3ms");
        assert_eq!(duration::short(192_000_000_000), "3m12s");
        assert_eq!(signal_name(9), "SIGKILL");
        assert_eq!(signal_name(libc::SIGRTMIN() + 3), "SIGRTMIN+3");
    }
}
