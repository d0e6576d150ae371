//! `/proc/<pid>/status` and its per-thread form `/proc/<pid>/task/<tid>/status`: a few
//! hundred bytes of `Name:\tvalue` lines, of which forkwatch reads the ids, the thread
//! count, the signal masks, the effective capabilities and the pid in the PID namespace.

use std::{fs::File, io::Read, path::Path};

use crate::event::Creds;

/// What forkwatch takes from a status file; each field `None` when its line is missing or
/// malformed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// The real and effective ids (of the real, effective, saved and file-system ones).
    pub creds: Option<Creds>,
    pub threads: Option<u32>,
    /// Signal masks, bit n - 1 for signal n: those the thread blocks, and those the process
    /// ignores or catches with a handler.
    pub blocked: Option<u64>,
    pub ignored: Option<u64>,
    pub caught: Option<u64>,
    /// The effective capability set.
    pub capabilities: Option<u64>,
    /// The process's id in its own PID namespace: the last of the `NSpid` line's ids.
    pub ns_pid: Option<u32>,
}

/// The status of process `pid`; `None` if it is gone.
pub fn read(pid: u32) -> Option<Status> {
    read_path(format!("/proc/{pid}/status"))
}

/// The status of thread `tid` of process `pid`: its own blocked signals.
pub fn read_thread(pid: u32, tid: u32) -> Option<Status> {
    read_path(format!("/proc/{pid}/task/{tid}/status"))
}

/// Reads and parses a status file; 16 KiB bounds the read.
pub(super) fn read_path(path: impl AsRef<Path>) -> Option<Status> {
    let file = File::open(path).ok()?;
    let mut text = Vec::new();
    file.take(16 * 1024).read_to_end(&mut text).ok()?;
    Some(parse(&text))
}

/// Parses the text of a status file.
pub fn parse(text: &[u8]) -> Status {
    let (mut uids, mut gids) = (None, None);
    let mut status = Status::default();
    for line in text.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let value = std::str::from_utf8(value).unwrap_or_default();
        let mask = || u64::from_str_radix(value.trim(), 16).ok();
        match name {
            b"Uid" => uids = first_two(value),
            b"Gid" => gids = first_two(value),
            b"Threads" => status.threads = value.trim().parse().ok(),
            b"SigBlk" => status.blocked = mask(),
            b"SigIgn" => status.ignored = mask(),
            b"SigCgt" => status.caught = mask(),
            b"CapEff" => status.capabilities = mask(),
            b"NSpid" => {
                status.ns_pid = value
                    .split_ascii_whitespace()
                    .next_back()
                    .and_then(|n| n.parse().ok());
            }
            _ => {}
        }
    }
    status.creds = uids.zip(gids).map(|((uid, euid), (gid, egid))| Creds {
        uid,
        euid,
        gid,
        egid,
    });
    status
}

/// The first two of the ids a `Uid` or `Gid` line lists (real, effective, saved, file
/// system).
fn first_two(value: &str) -> Option<(u32, u32)> {
    let mut numbers = value.split_ascii_whitespace().map(|n| n.parse().ok());
    let mut next = || numbers.next().flatten();
    next().zip(next())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ids_threads_masks_and_capabilities() {
        let text = b"Name:\tsleep\nUid:\t1000\t1001\t1002\t1003\nGid:\t100\t101\t102\t103\n\
            Threads:\t3\nSigBlk:\t0000000000010000\nSigIgn:\t0000000000000004\n\
            SigCgt:\t0000000180000000\nCapEff:\t000001ffffffffff\nNSpid:\t4242\t12\n";
        let status = parse(text);
        assert_eq!(
            status.creds,
            Some(Creds {
                uid: 1000,
                euid: 1001,
                gid: 100,
                egid: 101
            })
        );
        assert_eq!(status.threads, Some(3));
        assert_eq!(status.blocked, Some(1 << 16));
        assert_eq!(status.ignored, Some(4));
        assert_eq!(status.caught, Some(0x1_8000_0000));
        assert_eq!(status.capabilities, Some(0x1ff_ffff_ffff));
        assert_eq!(status.ns_pid, Some(12), "the innermost namespace's pid");
        assert_eq!(parse(b"Uid:\t1\nThreads:\tmany\n"), Status::default());
    }

    #[test]
    fn reads_this_process_and_its_main_thread() {
        let me = std::process::id();
        let status = read(me).unwrap();
        assert!(status.creds.is_some() && status.threads.is_some_and(|n| n >= 1));
        assert!(read_thread(me, me).unwrap().blocked.is_some());
    }
}
