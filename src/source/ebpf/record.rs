//! The probe's ring-buffer records, decoded into [`Event`]s.

use forkwatch_abi::{COMM_LEN, RawEvent, flags};

use crate::event::{
    Argv, ByteString, Comm, Creds, Event, ExitStatus, Kind, KindName, PidNamespace,
};

/// Decodes one ring-buffer record; `None` if it is malformed.
pub(super) fn decode(bytes: &[u8]) -> Option<Event> {
    let header = bytes.get(..size_of::<RawEvent>())?;
    // SAFETY: RawEvent is plain integers, valid for any bytes; the read is unaligned-safe.
    let raw: RawEvent = unsafe { std::ptr::read_unaligned(header.as_ptr().cast()) };
    let kind = match KindName::from_probe(raw.kind)? {
        KindName::Fork => Kind::Fork,
        KindName::ThreadStart => Kind::ThreadStart,
        KindName::Exit => Kind::Exit(ExitStatus::from_wait_status(raw.exit_status), None),
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
