//! The one reader of /proc: every file forkwatch reads there, each with one parser.
//!
//! - [`stat`]: `/proc/<pid>/stat` (identity, parent, state, kernel thread, exec marks), kept
//!   open for polling, and a zombie's exit status;
//! - [`status`]: `/proc/<pid>/status` (ids, threads, signal masks, capabilities);
//! - [`place`]: the PID namespace and cgroup v2 path of a process;
//! - [`sample`]: every process's CPU time, memory, state and threads, round after round;
//! - [`snapshot`]: a whole process ([`snapshot::ProcessInfo`], with its command line) and
//!   every process on the machine;
//! - [`task`]: a process's threads and their wait channels;
//! - [`this_process`]: `/proc/self` (capabilities, user namespace, threads, hidepid);
//! - here: the pids /proc lists and the program a process runs.
//!
//! Everything a process shows here is controlled by its owner: it is read with a bound,
//! and a process that is gone (or whose pid names another one by now) reads as `None`.

pub mod place;
pub mod sample;
pub mod snapshot;
pub mod stat;
pub mod status;
pub mod task;
pub mod this_process;

use std::{io, os::unix::ffi::OsStrExt};

use crate::event::ByteString;

/// Replaces the contents of `pids` with the pids /proc lists now, in its order.
pub fn list_pids(pids: &mut Vec<u32>) -> io::Result<()> {
    pids.clear();
    for entry in std::fs::read_dir("/proc")? {
        if let Some(pid) = entry?.file_name().to_str().and_then(|n| n.parse().ok()) {
            pids.push(pid);
        }
    }
    Ok(())
}

/// The program a process runs, as `/proc/<pid>/exe` shows it: symlinks resolved, and empty
/// where /proc hides it from us (another user's process) or the process is gone.
pub fn exe_path(pid: u32) -> ByteString {
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .map(|path| ByteString::new(path.as_os_str().as_bytes()))
        .unwrap_or_default()
}
