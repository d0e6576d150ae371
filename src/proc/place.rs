//! Where a process lives: its PID namespace (`/proc/<pid>/ns/pid`, with its pid there from
//! the status file) and its cgroup v2 path (`/proc/<pid>/cgroup`).

use std::{fs::File, io::Read};

use super::status::Status;
use crate::event::{CgroupPath, PidNamespace};

/// The most of `/proc/<pid>/cgroup` read: its v2 line holds one path, which the kernel
/// limits to a page; cgroup v1 hierarchies add a line each.
const CGROUP_FILE_CAP: u64 = 64 * 1024;

/// The PID namespace of process `pid` and its pid there (`status`'s `NSpid`); `None` if
/// the process is gone or /proc hides its namespace from us.
pub fn pid_namespace(pid: u32, status: &Status) -> Option<PidNamespace> {
    // The link's text names the namespace (`pid:[4026531836]`): read, never followed.
    let inode = ns_link(&format!("/proc/{pid}/ns/pid"))?;
    Some(PidNamespace {
        inode,
        pid: status.ns_pid?,
    })
}

/// The PID namespace of process `pid` as cheaply as /proc tells it: its status file is read
/// only when the namespace is not `ours` (that of the /proc read), where its pid is `pid`.
pub fn pid_namespace_of(pid: u32, ours: Option<u32>) -> Option<PidNamespace> {
    let inode = ns_link(&format!("/proc/{pid}/ns/pid"))?;
    if Some(inode) == ours {
        return Some(PidNamespace { inode, pid });
    }
    Some(PidNamespace {
        inode,
        pid: super::status::read(pid)?.ns_pid?,
    })
}

/// The PID namespace of the /proc this process reads.
pub fn own_pid_namespace() -> Option<u32> {
    ns_link("/proc/self/ns/pid")
}

fn ns_link(path: &str) -> Option<u32> {
    parse_ns_link(std::fs::read_link(path).ok()?.to_str()?)
}

/// The inode of a namespace link's text, `pid:[INODE]`.
fn parse_ns_link(text: &str) -> Option<u32> {
    text.strip_prefix("pid:[")?.strip_suffix(']')?.parse().ok()
}

/// The cgroup v2 path of process `pid`; `None` if it is gone or has no v2 cgroup.
pub fn cgroup_path(pid: u32) -> Option<CgroupPath> {
    let file = File::open(format!("/proc/{pid}/cgroup")).ok()?;
    let mut text = Vec::new();
    file.take(CGROUP_FILE_CAP).read_to_end(&mut text).ok()?;
    parse_cgroup(&text)
}

/// The path of the v2 line (`0::/path`) of a cgroup file's text. The path runs to the end
/// of its line: a newline in a directory name is shown by the kernel as `\012`.
fn parse_cgroup(text: &[u8]) -> Option<CgroupPath> {
    text.split(|&b| b == b'\n')
        .find_map(|line| line.strip_prefix(b"0::"))
        .filter(|path| path.starts_with(b"/"))
        .and_then(CgroupPath::bounded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_namespace_links_and_the_v2_cgroup_line() {
        assert_eq!(parse_ns_link("pid:[4026531836]"), Some(4026531836));
        assert_eq!(parse_ns_link("net:[4026531836]"), None);
        let text = b"12:cpu:/v1\n0::/system.slice/a \xff.service\n";
        let path = parse_cgroup(text).unwrap();
        assert_eq!(path.as_bytes(), b"/system.slice/a \xff.service");
        assert_eq!(parse_cgroup(b"1:name=systemd:/x\n"), None);
    }

    #[test]
    fn this_process_has_a_namespace_and_a_cgroup() {
        let me = std::process::id();
        let status = super::super::status::read(me).unwrap();
        let ns = pid_namespace(me, &status).unwrap();
        assert!(ns.inode != 0);
        assert!(cgroup_path(me).is_some());
    }
}
