//! What /proc says of forkwatch itself (`/proc/self`): its capabilities, its user
//! namespace, its threads, whether /proc hides other users' processes from it, and the
//! paths of its open files.

use std::{
    io,
    os::fd::{AsRawFd, BorrowedFd},
    path::PathBuf,
};

/// The inode of the initial user namespace (PROC_USER_INIT_INO), fixed by the kernel.
const INIT_USER_NS: &str = "user:[4026531837]";

/// The effective capability set; empty if it cannot be read.
pub fn effective_capabilities() -> u64 {
    super::status::read_path("/proc/self/status")
        .and_then(|status| status.capabilities)
        .unwrap_or(0)
}

/// Whether this process runs in the initial user namespace. Capabilities only count for
/// BPF there, and the proc connector answers only there: inside a rootless container
/// CapEff can show them all while the kernel still refuses.
pub fn in_initial_user_namespace() -> bool {
    std::fs::read_link("/proc/self/ns/user").is_ok_and(|ns| ns.as_os_str() == INIT_USER_NS)
}

/// How many threads this process has.
pub fn threads() -> io::Result<usize> {
    Ok(std::fs::read_dir("/proc/self/task")?.count())
}

/// The magic link of an open file descriptor, `/proc/self/fd/N`: opening it opens the
/// inode the descriptor holds (an `O_PATH` one included), whatever its path names by now.
pub fn fd_path(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Whether /proc is mounted with `hidepid`, which hides other users' processes from a
/// reader without ptrace access; `None` if no proc file system is mounted on /proc.
pub fn proc_hides_pids() -> Option<bool> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .ok()
        .and_then(|mounts| mounts.lines().rev().find_map(proc_mount_hides_pids))
}

/// For the mountinfo line of a proc file system mounted on /proc, whether it hides pids.
fn proc_mount_hides_pids(line: &str) -> Option<bool> {
    let (mount, fs) = line.split_once(" - ")?;
    if mount.split(' ').nth(4)? != "/proc" {
        return None;
    }
    let mut fs = fs.split(' ');
    if fs.next()? != "proc" {
        return None;
    }
    let options = fs.nth(1).unwrap_or_default();
    Some(
        options
            .split(',')
            .filter_map(|o| o.strip_prefix("hidepid="))
            .any(|value| !matches!(value, "0" | "off")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidepid_is_read_from_the_proc_mount() {
        let line = |options: &str| {
            format!("22 27 0:21 / /proc rw,relatime shared:12 - proc proc rw,{options}")
        };
        assert_eq!(proc_mount_hides_pids(&line("relatime")), Some(false));
        assert_eq!(
            proc_mount_hides_pids(&line("hidepid=invisible")),
            Some(true)
        );
        assert_eq!(proc_mount_hides_pids(&line("hidepid=2")), Some(true));
        assert_eq!(proc_mount_hides_pids(&line("hidepid=0")), Some(false));
        let elsewhere = "30 27 0:21 / /mnt/proc rw - proc proc rw,hidepid=2";
        assert_eq!(proc_mount_hides_pids(elsewhere), None);
        let not_proc = "31 27 0:40 / /proc rw - tmpfs tmpfs rw";
        assert_eq!(proc_mount_hides_pids(not_proc), None);
    }
}
