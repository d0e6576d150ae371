//! The probe's ring-buffer records, decoded into [`Event`]s.

use std::sync::LazyLock;

use forkwatch_abi::{COMM_LEN, ExitUsage, RawEvent, flags};

use crate::event::{
    Argv, ByteString, Comm, Creds, Event, ExitStatus, Kind, KindName, PidNamespace, Usage,
};

/// Bytes per page, the unit of the kernel's peak-memory count.
static PAGE_BYTES: LazyLock<u64> = LazyLock::new(|| {
    // SAFETY: sysconf only reads a configuration value.
    let bytes = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(bytes).unwrap_or(4096)
});

/// Decodes one ring-buffer record; `None` if it is malformed.
pub(super) fn decode(bytes: &[u8]) -> Option<Event> {
    let header = bytes.get(..size_of::<RawEvent>())?;
    // SAFETY: RawEvent is plain integers, valid for any bytes; the read is unaligned-safe.
    let raw: RawEvent = unsafe { std::ptr::read_unaligned(header.as_ptr().cast()) };
    let kind = match KindName::from_probe(raw.kind)? {
        KindName::Fork => Kind::Fork,
        KindName::ThreadStart => Kind::ThreadStart,
        KindName::Exit => {
            let tail = bytes.get(size_of::<RawEvent>()..)?;
            let tail = tail.get(..size_of::<ExitUsage>())?;
            // SAFETY: ExitUsage is plain integers, valid for any bytes; unaligned-safe read.
            let counted: ExitUsage = unsafe { std::ptr::read_unaligned(tail.as_ptr().cast()) };
            let io_known = raw.flags & flags::NO_IO_ACCOUNTING == 0;
            Kind::Exit(
                ExitStatus::from_wait_status(raw.exit_status),
                Some(Box::new(usage(&counted, *PAGE_BYTES, io_known))),
            )
        }
        KindName::ThreadExit => Kind::ThreadExit,
        KindName::Uid => Kind::Uid { inferred: false },
        KindName::Gid => Kind::Gid { inferred: false },
        KindName::Exec => {
            let rest = &bytes[size_of::<RawEvent>()..];
            let filename_len = raw.filename_len as usize;
            let filename = rest.get(..filename_len)?;
            let args = rest.get(filename_len..filename_len + raw.args_len as usize)?;
            let filename = filename.split(|&b| b == 0).next().unwrap_or_default();
            Kind::Exec {
                filename: ByteString::new(filename),
                argv: Argv::from_area(args),
                argv_truncated: raw.flags & flags::ARGS_TRUNCATED != 0,
                filename_truncated: raw.flags & flags::FILENAME_TRUNCATED != 0,
                argv_unreadable: raw.flags & flags::ARGS_UNREADABLE != 0,
            }
        }
        // The probe has no number for a loss report (it counts losses, not records) or a
        // sample (samples are read apart from the events).
        KindName::Lost | KindName::Sample => return None,
    };
    Some(Event {
        ts_ns: raw.ts_ns,
        pid: raw.pid,
        tid: raw.tid,
        ppid: raw.ppid,
        start_ns: raw.start_ns,
        comm: Comm::from_bytes(&raw.comm[..COMM_LEN]),
        creds: Some(Creds {
            uid: raw.uid,
            euid: raw.euid,
            gid: raw.gid,
            egid: raw.egid,
        }),
        cgroup_id: Some(raw.cgroup_id),
        pid_ns: (raw.pid_ns != 0 && raw.ns_pid != 0).then_some(PidNamespace {
            inode: raw.pid_ns,
            pid: raw.ns_pid,
        }),
        // The probe knows the id; its path is the reader's to look up.
        cgroup: None,
        kernel_thread: raw.flags & flags::KERNEL_THREAD != 0,
        kind,
    })
}

/// The kernel's counts as `getrusage` reports them: the precise run time, split into user
/// and system time in the ratio of the tick-sampled times (the kernel's `cputime_adjust`).
fn usage(counted: &ExitUsage, page_bytes: u64, io_known: bool) -> Usage {
    let (user, system, total) = (counted.utime_ns, counted.stime_ns, counted.runtime_ns);
    let system_ns = match (user, system) {
        (_, 0) => 0,
        (0, _) => total,
        _ => {
            let share =
                u128::from(system) * u128::from(total) / (u128::from(user) + u128::from(system));
            u64::try_from(share).unwrap_or(total)
        }
    };
    Usage {
        user_ns: total - system_ns,
        system_ns,
        max_rss_bytes: counted.max_rss_pages.saturating_mul(page_bytes),
        read_bytes: io_known.then_some(counted.read_bytes),
        write_bytes: io_known.then_some(counted.write_bytes),
        voluntary_switches: counted.voluntary_switches,
        involuntary_switches: counted.involuntary_switches,
    }
}

#[cfg(test)]
mod tests {
    use forkwatch_abi::kind;

    use super::*;

    fn record(raw: RawEvent, tail: &[u8]) -> Vec<u8> {
        // SAFETY: viewing a plain repr(C) struct as bytes.
        let head = unsafe {
            std::slice::from_raw_parts(std::ptr::from_ref(&raw).cast::<u8>(), size_of::<RawEvent>())
        };
        [head, tail].concat()
    }

    #[test]
    fn decodes_exec_with_filename_and_argv() {
        let raw = RawEvent {
            kind: kind::EXEC,
            pid: 10,
            tid: 10,
            filename_len: 8,
            args_len: 10,
            comm: *b"ls\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
            flags: flags::ARGS_TRUNCATED,
            ..Default::default()
        };
        let event = decode(&record(raw, b"/bin/ls\0ls\0-la\0/x\0")).unwrap();
        assert_eq!(
            event.kind,
            Kind::Exec {
                filename: "/bin/ls".into(),
                argv: Argv::from_args(["ls", "-la", "/x"]),
                argv_truncated: true,
                filename_truncated: false,
                argv_unreadable: false,
            }
        );
        assert_eq!(event.comm.to_string(), "ls");
    }

    #[test]
    fn decodes_a_cut_file_name_and_an_unreadable_argv() {
        let raw = RawEvent {
            kind: kind::EXEC,
            filename_len: 5,
            flags: flags::FILENAME_TRUNCATED | flags::ARGS_UNREADABLE,
            ..Default::default()
        };
        let Some(Event {
            kind:
                Kind::Exec {
                    filename,
                    argv,
                    argv_truncated,
                    filename_truncated,
                    argv_unreadable,
                },
            ..
        }) = decode(&record(raw, b"/abcd"))
        else {
            panic!("not an exec");
        };
        assert_eq!(filename.as_bytes(), b"/abcd");
        assert!(argv.is_empty() && argv_unreadable && filename_truncated && !argv_truncated);
    }

    #[test]
    fn an_exit_carries_the_run_time_split_like_getrusage() {
        let raw = RawEvent {
            kind: kind::EXIT,
            exit_status: 3 << 8,
            ..Default::default()
        };
        let counted = ExitUsage {
            utime_ns: 300,
            stime_ns: 100,
            runtime_ns: 1_000,
            max_rss_pages: 2,
            read_bytes: 7,
            write_bytes: 9,
            voluntary_switches: 4,
            involuntary_switches: 5,
        };
        // SAFETY: viewing a plain repr(C) struct as bytes.
        let tail = unsafe {
            std::slice::from_raw_parts(
                std::ptr::from_ref(&counted).cast::<u8>(),
                size_of::<ExitUsage>(),
            )
        };
        let Some(Event {
            kind: Kind::Exit(status, Some(decoded)),
            ..
        }) = decode(&record(raw, tail))
        else {
            panic!("not an exit with usage");
        };
        assert_eq!(status, ExitStatus::from_wait_status(3 << 8));
        let expected = Usage {
            user_ns: 750,
            system_ns: 250,
            max_rss_bytes: 2 * *PAGE_BYTES,
            read_bytes: Some(7),
            write_bytes: Some(9),
            voluntary_switches: 4,
            involuntary_switches: 5,
        };
        assert_eq!(*decoded, expected);
        assert!(
            decode(&record(raw, &tail[..8])).is_none(),
            "a cut exit record"
        );
        let no_ticks = usage(
            &ExitUsage {
                runtime_ns: 5,
                ..ExitUsage::default()
            },
            4096,
            false,
        );
        assert_eq!((no_ticks.user_ns, no_ticks.system_ns), (5, 0));
        assert_eq!((no_ticks.read_bytes, no_ticks.write_bytes), (None, None));
    }

    #[test]
    fn rejects_short_and_unknown_records() {
        let raw = RawEvent {
            kind: kind::EXEC,
            filename_len: 100,
            ..Default::default()
        };
        assert!(decode(&record(raw, b"short")).is_none());
        assert!(decode(&[0; 8]).is_none());
        let raw = RawEvent {
            kind: 99,
            ..Default::default()
        };
        assert!(decode(&record(raw, b"")).is_none());
    }
}
