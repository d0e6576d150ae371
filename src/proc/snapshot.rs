//! The machine's processes as /proc shows them at one moment: what the live view and a
//! recording start from before events keep them current.
//!
//! Everything is read as bytes and with a byte bound: a command line is whatever its
//! process put there (not always UTF-8, and up to the stack limit in size), and it is kept
//! exactly, up to [`MAX_ARGV_BYTES`].

use std::{fs::File, io::Read};

use serde::{Deserialize, Serialize};

use super::{place, stat, status};
use crate::{
    clock,
    event::{
        Argv, CgroupPath, Comm, Creds, MAX_ARGV_BYTES, MAX_CGROUP_PATH_BYTES, PidNamespace, Sampled,
    },
};

/// One process in a snapshot. Its JSON form (in recordings) is in [`wire`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "wire::ProcessInfo", try_from = "wire::ProcessInfo")]
pub struct ProcessInfo {
    pub pid: u32,
    pub ppid: u32,
    /// CLOCK_BOOTTIME nanoseconds, from /proc's clock ticks (so a multiple of one tick).
    pub start_ns: u64,
    pub comm: Comm,
    /// Empty for kernel threads and for processes whose argv could not be read.
    pub argv: Argv,
    /// The command line was longer than [`MAX_ARGV_BYTES`] and was cut.
    pub argv_truncated: bool,
    pub creds: Creds,
    /// The state letter of `/proc/<pid>/stat`: R, S, D, Z, T, ...
    pub state: char,
    pub kernel_thread: bool,
    pub threads: u32,
    /// Its PID namespace and its pid there, where /proc shows them.
    pub pid_ns: Option<PidNamespace>,
    /// Its cgroup v2 path, where it has one.
    pub cgroup: Option<CgroupPath>,
    /// Its latest sample: as /proc showed it, or in a keyframe as the model had it.
    pub sampled: Option<Sampled>,
}

/// Reads one process; `None` if it is gone (or was never there).
pub fn read_process(pid: u32) -> Option<ProcessInfo> {
    let stat = stat::read(pid)?;
    let status = status::read(pid)?;
    let creds = status.creds?;
    let kernel_thread = stat.kernel_thread();
    let (argv, argv_truncated) = if kernel_thread {
        (Argv::default(), false)
    } else {
        read_cmdline(pid).unwrap_or_default()
    };
    Some(ProcessInfo {
        pid,
        ppid: stat.ppid,
        start_ns: stat.start_ns(),
        comm: stat.comm,
        argv,
        argv_truncated,
        creds,
        state: char::from(stat.state),
        kernel_thread,
        threads: stat.threads,
        pid_ns: place::pid_namespace(pid, &status),
        cgroup: place::cgroup_path(pid),
        sampled: Some(Sampled {
            at_ns: clock::boottime_ns(),
            sample: stat.sample(),
            cpu_permille: None,
        }),
    })
}

/// `/proc/<pid>/cmdline`, at most [`MAX_ARGV_BYTES`] of it, and whether it was cut. `None`
/// if it cannot be read (the process is gone).
pub fn read_cmdline(pid: u32) -> Option<(Argv, bool)> {
    let file = File::open(format!("/proc/{pid}/cmdline")).ok()?;
    let mut area = Vec::new();
    file.take(MAX_ARGV_BYTES as u64 + 1)
        .read_to_end(&mut area)
        .ok()?;
    let truncated = area.len() > MAX_ARGV_BYTES;
    area.truncate(MAX_ARGV_BYTES);
    Some((Argv::from_area(&area), truncated))
}

/// Every process on the machine, in pid order. Processes that exit while /proc is read
/// are left out.
pub fn take() -> std::io::Result<Vec<ProcessInfo>> {
    let mut pids = Vec::new();
    super::list_pids(&mut pids)?;
    pids.sort_unstable();
    Ok(pids.into_iter().filter_map(read_process).collect())
}

/// The JSON form of a process in a recording's snapshot frames (docs/recording.md):
/// `comm` and `argv` as text, with their exact bytes beside them in base64 when they are
/// not valid UTF-8 (`comm_base64`, `argv_base64`), as in the JSON of events.
mod wire {
    use serde::{Deserialize, Serialize};

    use crate::event::{
        Argv, CgroupPath, Comm, Creds, ExactArgv, PidNamespace, Sample, Sampled, State,
    };

    #[derive(Serialize, Deserialize)]
    pub struct ProcessInfo {
        pid: u32,
        ppid: u32,
        start_ns: u64,
        comm: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comm_base64: Option<String>,
        argv: Argv,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        argv_base64: Option<ExactArgv<'static>>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        argv_truncated: bool,
        creds: Creds,
        state: char,
        kernel_thread: bool,
        threads: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pid_ns: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ns_pid: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cgroup: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cgroup_base64: Option<String>,
        /// Format version 4 on: the latest sample (`sampled_ns`, `cpu_ns`, `rss_bytes`,
        /// `cpu_permille`; the state and threads are the fields above).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sampled_ns: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cpu_ns: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rss_bytes: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cpu_permille: Option<u32>,
    }

    impl From<super::ProcessInfo> for ProcessInfo {
        fn from(p: super::ProcessInfo) -> Self {
            Self {
                pid: p.pid,
                ppid: p.ppid,
                start_ns: p.start_ns,
                comm: p.comm.as_str().into_owned(),
                comm_base64: p.comm.base64_beside(),
                argv_base64: p.argv.base64_beside().map(ExactArgv::into_owned),
                argv: p.argv,
                argv_truncated: p.argv_truncated,
                creds: p.creds,
                state: p.state,
                kernel_thread: p.kernel_thread,
                threads: p.threads,
                pid_ns: p.pid_ns.map(|ns| ns.inode),
                ns_pid: p.pid_ns.map(|ns| ns.pid),
                cgroup_base64: p.cgroup.as_ref().and_then(CgroupPath::base64_beside),
                cgroup: p.cgroup.map(|c| c.as_str().into_owned()),
                sampled_ns: p.sampled.map(|s| s.at_ns),
                cpu_ns: p.sampled.map(|s| s.sample.cpu_ns),
                rss_bytes: p.sampled.map(|s| s.sample.rss_bytes),
                cpu_permille: p.sampled.and_then(|s| s.cpu_permille),
            }
        }
    }

    impl TryFrom<ProcessInfo> for super::ProcessInfo {
        type Error = base64::DecodeError;

        fn try_from(w: ProcessInfo) -> Result<Self, Self::Error> {
            Ok(Self {
                pid: w.pid,
                ppid: w.ppid,
                start_ns: w.start_ns,
                comm: Comm::from_json(&w.comm, w.comm_base64.as_deref())?,
                argv: Argv::from_json(Some(w.argv), w.argv_base64),
                argv_truncated: w.argv_truncated,
                creds: w.creds,
                state: w.state,
                kernel_thread: w.kernel_thread,
                threads: w.threads,
                pid_ns: w
                    .pid_ns
                    .zip(w.ns_pid)
                    .map(|(inode, pid)| PidNamespace { inode, pid }),
                // No source gives a longer one: such a path is not taken as known.
                cgroup: w
                    .cgroup
                    .map(|text| CgroupPath::from_json(&text, w.cgroup_base64.as_deref()))
                    .transpose()?
                    .filter(|c| c.as_bytes().len() <= super::MAX_CGROUP_PATH_BYTES),
                sampled: w.sampled_ns.zip(w.cpu_ns).map(|(at_ns, cpu_ns)| Sampled {
                    at_ns,
                    sample: Sample {
                        cpu_ns,
                        rss_bytes: w.rss_bytes.unwrap_or_default(),
                        state: State::from_letter(u8::try_from(w.state).unwrap_or(b'?')),
                        threads: w.threads,
                    },
                    cpu_permille: w.cpu_permille,
                }),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sees_this_process_and_a_child_with_its_argv() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let snapshot = take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();

        let me = std::process::id();
        let found = snapshot.iter().find(|p| p.pid == child.id()).unwrap();
        assert_eq!(found.ppid, me);
        assert_eq!(found.argv, ["sleep", "30"]);
        assert_eq!(found.comm.to_string(), "sleep");
        assert!(!found.argv_truncated);
        assert!(!found.kernel_thread);
        let kthreadd = snapshot.iter().find(|p| p.pid == 2).unwrap();
        assert!(kthreadd.kernel_thread && kthreadd.argv.is_empty());
        let parent = snapshot.iter().find(|p| p.pid == me).unwrap();
        assert!(parent.start_ns <= found.start_ns);
    }

    /// A process read from /proc carries its sample, taken then; a share needs two.
    #[test]
    fn a_process_read_carries_its_sample() {
        let before = crate::clock::boottime_ns();
        let me = read_process(std::process::id()).unwrap();
        let sampled = me.sampled.unwrap();
        assert!(sampled.at_ns >= before && sampled.cpu_permille.is_none());
        assert!(sampled.sample.rss_bytes > 0);
        assert_eq!(sampled.sample.threads, me.threads);
        assert_eq!(sampled.sample.state.letter(), me.state);
    }
}

#[cfg(test)]
mod bytes_tests {
    use std::os::unix::{ffi::OsStrExt, process::CommandExt};

    use super::*;

    /// A command line that is not UTF-8 and one longer than the cap: kept exactly, cut at
    /// the cap, and both come back from the recording's JSON form.
    #[test]
    fn command_lines_are_bytes_kept_exactly_up_to_the_cap() {
        let mut odd = std::process::Command::new("sleep");
        odd.arg0("\u{1b}]52;c;aGk=\u{7}").arg("30");
        let mut odd = odd.spawn().unwrap();
        let huge = "x".repeat(MAX_ARGV_BYTES);
        let mut long = std::process::Command::new("sh")
            .args(["-c", "sleep 30", &huge])
            .spawn()
            .unwrap();
        let mut bad = std::process::Command::new("sleep");
        bad.arg0(std::ffi::OsStr::from_bytes(b"\xff\xfe")).arg("30");
        let mut bad = bad.spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
        let read = |pid| read_process(pid).unwrap();
        let (odd_info, long_info, bad_info) = (read(odd.id()), read(long.id()), read(bad.id()));
        for child in [&mut odd, &mut long, &mut bad] {
            child.kill().unwrap();
            child.wait().unwrap();
        }
        assert_eq!(odd_info.argv, ["\u{1b}]52;c;aGk=\u{7}", "30"]);
        assert!(long_info.argv_truncated);
        assert_eq!(long_info.argv.byte_len(), MAX_ARGV_BYTES + 1);
        assert_eq!(bad_info.argv.first(), Some(&b"\xff\xfe"[..]));
        for info in [odd_info, long_info, bad_info] {
            let json = serde_json::to_string(&info).unwrap();
            assert_eq!(serde_json::from_str::<ProcessInfo>(&json).unwrap(), info);
        }
    }
}
