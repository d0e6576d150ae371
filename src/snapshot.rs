//! The machine's processes as /proc shows them at one moment: what the live view and a
//! recording start from before events keep them current.

use serde::{Deserialize, Serialize};

use crate::{
    clock,
    event::{Comm, Creds},
};

/// `PF_KTHREAD` in /proc/<pid>/stat's flags.
const PF_KTHREAD: u32 = 0x0020_0000;

/// One process in a snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessInfo {
    pub pid: u32,
    pub ppid: u32,
    /// CLOCK_BOOTTIME nanoseconds, from /proc's clock ticks (so a multiple of one tick).
    pub start_ns: u64,
    pub comm: Comm,
    /// Empty for kernel threads and for processes whose argv could not be read.
    pub argv: Vec<String>,
    pub creds: Creds,
    /// The state letter of /proc/<pid>/stat: R, S, D, Z, T, ...
    pub state: char,
    pub kernel_thread: bool,
    pub threads: u32,
}

/// Reads one process; `None` if it is gone (or was never there).
pub fn read_process(pid: u32) -> Option<ProcessInfo> {
    let process = procfs::process::Process::new(pid as i32).ok()?;
    let stat = process.stat().ok()?;
    let status = process.status().ok()?;
    let kernel_thread = stat.flags & PF_KTHREAD != 0;
    Some(ProcessInfo {
        pid,
        ppid: stat.ppid.max(0) as u32,
        start_ns: clock::ticks_to_ns(stat.starttime),
        comm: Comm::from(stat.comm.as_str()),
        argv: if kernel_thread {
            Vec::new()
        } else {
            process.cmdline().unwrap_or_default()
        },
        creds: Creds {
            uid: status.ruid,
            euid: status.euid,
            gid: status.rgid,
            egid: status.egid,
        },
        state: stat.state,
        kernel_thread,
        threads: stat.num_threads.max(0) as u32,
    })
}

/// Every process on the machine, in pid order. Processes that exit while /proc is read
/// are left out.
pub fn take() -> std::io::Result<Vec<ProcessInfo>> {
    let mut pids: Vec<u32> = std::fs::read_dir("/proc")?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    Ok(pids.into_iter().filter_map(read_process).collect())
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
        assert!(!found.kernel_thread);
        let kthreadd = snapshot.iter().find(|p| p.pid == 2).unwrap();
        assert!(kthreadd.kernel_thread && kthreadd.argv.is_empty());
        let parent = snapshot.iter().find(|p| p.pid == me).unwrap();
        assert!(parent.start_ns <= found.start_ns);
    }
}
