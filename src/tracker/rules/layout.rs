//! How an event is packed into the siginfo of a relayed signal: the layouts of the 2005
//! relay-fork module and of kmonitor (2004).

use std::{fmt, str::FromStr};

use crate::event::{Event, KindName, KindSet};

use super::signal::RtSignal;

/// A siginfo layout. Both use si_code SI_QUEUE, as sigqueue(3) does, so receivers read the
/// fields with sigwaitinfo or an SA_SIGINFO handler.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Layout {
    /// si_pid = the parent (ppid) of the process the event concerns, si_value.sival_int =
    /// that process: for a fork, parent and child.
    #[default]
    RelayFork,
    /// si_pid = the process the event concerns, si_uid = its uid, si_int = the event's
    /// [`KindName::kmonitor_bit`].
    KMonitor,
}

impl Layout {
    pub const ALL: [Layout; 2] = [Self::RelayFork, Self::KMonitor];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RelayFork => "relayfork",
            Self::KMonitor => "kmonitor",
        }
    }

    /// The kinds a rule relays when none are given: forks for relayfork, whose signals
    /// cannot tell kinds apart (relay-fork sent only forks); for kmonitor every kind, since
    /// the bit says which.
    pub fn default_kinds(self) -> KindSet {
        match self {
            Self::RelayFork => KindSet::NONE.with(KindName::Fork),
            Self::KMonitor => KindSet::ALL.without(KindName::Lost),
        }
    }

    /// The siginfo fields for `event`, or `None` for a loss report, which concerns no process.
    pub fn fields(self, event: &Event) -> Option<Fields> {
        let bit = event.kind_name().kmonitor_bit()?;
        let uid = event.creds.map_or(u32::MAX, |c| c.uid);
        Some(match self {
            Self::RelayFork => Fields {
                pid: event.ppid,
                uid,
                value: event.pid as i32,
            },
            Self::KMonitor => Fields {
                pid: event.pid,
                uid,
                value: bit,
            },
        })
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Layout {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| format!("unknown layout `{s}` (known: relayfork, kmonitor)"))
    }
}

/// What a relayed signal carries besides its number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fields {
    pub pid: u32,
    /// The real uid of the process the event concerns (both layouts); `u32::MAX` (the
    /// kernel's "no uid") when the event source does not know it.
    pub uid: u32,
    /// si_value.sival_int, also known as si_int.
    pub value: i32,
}

/// The SI_QUEUE member of the kernel's siginfo: the header, then `_sifields._rt`. The
/// union after the header is pointer-aligned, as in the kernel's and glibc's definitions.
#[repr(C)]
struct QueuedInfo {
    signo: libc::c_int,
    errno: libc::c_int,
    code: libc::c_int,
    rt: RtFields,
}

#[repr(C)]
struct RtFields {
    pid: libc::pid_t,
    uid: libc::uid_t,
    value: SigVal,
}

/// `union sigval`: sival_int shares its first bytes with sival_ptr.
#[repr(C)]
union SigVal {
    int: libc::c_int,
    ptr: *mut libc::c_void,
}

const _: () = {
    assert!(size_of::<QueuedInfo>() <= size_of::<libc::siginfo_t>());
    assert!(align_of::<QueuedInfo>() <= align_of::<libc::siginfo_t>());
};

/// The siginfo that pidfd_send_signal queues for the receiver.
pub fn siginfo(signal: RtSignal, fields: Fields) -> libc::siginfo_t {
    let mut value = SigVal {
        ptr: std::ptr::null_mut(),
    };
    value.int = fields.value;
    let queued = QueuedInfo {
        signo: signal.number(),
        errno: 0,
        code: libc::SI_QUEUE,
        rt: RtFields {
            pid: fields.pid as libc::pid_t,
            uid: fields.uid,
            value,
        },
    };
    // SAFETY: siginfo_t is plain data, valid when zeroed; QueuedInfo fits inside it with
    // no greater alignment (checked above), so it can be written over its start.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        std::ptr::write((&raw mut info).cast::<QueuedInfo>(), queued);
        info
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Comm, Creds, ExitStatus, Kind};

    fn event(kind: Kind) -> Event {
        Event {
            ts_ns: 10,
            pid: 300,
            tid: 301,
            ppid: 200,
            start_ns: 5,
            comm: Comm::from("make"),
            creds: Some(Creds {
                uid: 1000,
                euid: 0,
                gid: 100,
                egid: 100,
            }),
            cgroup_id: None,
            pid_ns: None,
            cgroup: None,
            kernel_thread: false,
            kind,
        }
    }

    #[test]
    fn relayfork_carries_parent_and_child_kmonitor_the_process_and_its_bit() {
        let fork = event(Kind::Fork);
        assert_eq!(
            Layout::RelayFork.fields(&fork),
            Some(Fields {
                pid: 200,
                uid: 1000,
                value: 300
            })
        );
        let exit = event(Kind::Exit(ExitStatus::Code(0), None));
        assert_eq!(
            Layout::KMonitor.fields(&exit),
            Some(Fields {
                pid: 300,
                uid: 1000,
                value: 0x40
            })
        );
        assert_eq!(Layout::KMonitor.fields(&Event::lost(1, 2)), None);
        let bits: Vec<i32> = KindName::ALL
            .into_iter()
            .filter_map(KindName::kmonitor_bit)
            .collect();
        assert_eq!(bits, [0x08, 0x01, 0x20, 0x40, 0x04, 0x80, 0x100]);
    }

    #[test]
    fn siginfo_reads_back_through_libcs_own_accessors() {
        let signal = RtSignal::default();
        let info = siginfo(
            signal,
            Fields {
                pid: 4242,
                uid: 65534,
                value: -7,
            },
        );
        assert_eq!(info.si_signo, signal.number());
        assert_eq!(info.si_code, libc::SI_QUEUE);
        assert_eq!(info.si_errno, 0);
        // SAFETY: the fields are those of an SI_QUEUE siginfo, which this is.
        unsafe {
            assert_eq!(info.si_pid(), 4242);
            assert_eq!(info.si_uid(), 65534);
            let ptr = info.si_value().sival_ptr;
            let int = std::ptr::read((&raw const ptr).cast::<libc::c_int>());
            assert_eq!(int, -7);
        }
    }

    #[test]
    fn layouts_parse_by_name() {
        assert_eq!("kmonitor".parse(), Ok(Layout::KMonitor));
        assert_eq!(Layout::default().to_string(), "relayfork");
        assert_eq!(
            "relay-fork".parse::<Layout>(),
            Err("unknown layout `relay-fork` (known: relayfork, kmonitor)".into())
        );
        assert_eq!(
            Layout::KMonitor.default_kinds().to_string(),
            "fork,thread_start,exec,exit,thread_exit,uid,gid"
        );
    }
}
