//! Several hosts in one view: a replay of several recordings gives each host its own block
//! of pids, `(host + 1) * PID_MAX_LIMIT + pid`, so that no pid of one host meets another's.
//! No kernel gives a pid at or above [`PID_MAX_LIMIT`], so one machine's pids are block 0
//! and mean what they always did. The blocks stay inside the model; what shows or prints
//! a pid shows the host's own ([`host_pid`]), and the host's name beside it where it needs
//! one ([`Hosts`]).

use std::borrow::Cow;

use super::{Event, PID_MAX_LIMIT};

/// The most hosts one view holds: every block of pids a `u32` has room for but one's own.
pub const MAX_HOSTS: usize = (u32::MAX / PID_MAX_LIMIT) as usize;

/// The pid that host `host` (0-based) calls `pid` has in a view of several hosts.
pub fn merged_pid(host: usize, pid: u32) -> u32 {
    (host as u32 + 1) * PID_MAX_LIMIT + pid % PID_MAX_LIMIT
}

/// Which host a pid of a view of several hosts belongs to (`None`: one machine's own pid)
/// and the pid that host gave it.
pub fn host_pid(pid: u32) -> (Option<usize>, u32) {
    match (pid / PID_MAX_LIMIT) as usize {
        0 => (None, pid),
        block => (Some(block - 1), pid % PID_MAX_LIMIT),
    }
}

/// The pid a person is shown: the host's own.
pub fn shown_pid(pid: u32) -> u32 {
    host_pid(pid).1
}

/// The event with the pids its host gave it, for printing; the same event when it is one
/// machine's.
pub fn shown(event: &Event) -> Cow<'_, Event> {
    let merged = [event.pid, event.tid, event.ppid]
        .iter()
        .any(|&p| p >= PID_MAX_LIMIT);
    if !merged {
        return Cow::Borrowed(event);
    }
    let mut own = event.clone();
    own.pid = shown_pid(event.pid);
    own.tid = shown_pid(event.tid);
    own.ppid = shown_pid(event.ppid);
    if let Some(ns) = &mut own.pid_ns {
        ns.pid = shown_pid(ns.pid);
    }
    Cow::Owned(own)
}

/// The name of the host `pid` belongs to, in a view of one machine called `own` or of the
/// hosts `merged`: how every output finds the host of a process. A pid beyond the known
/// hosts (which no reader lets through) is said to be the view's own.
pub fn host_name<'a>(own: &'a str, merged: &'a [String], pid: u32) -> &'a str {
    match host_pid(pid).0.and_then(|host| merged.get(host)) {
        Some(name) => name,
        None => own,
    }
}

/// The names of the hosts a view shows: one machine's, or those of a view of several, in
/// the order of their pid blocks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hosts {
    /// The host of pids of block 0.
    pub own: String,
    /// The hosts of blocks 1, 2, ...: empty for one machine.
    pub merged: Vec<String>,
}

impl Hosts {
    /// The name of the host `pid` belongs to.
    pub fn name_of(&self, pid: u32) -> &str {
        host_name(&self.own, &self.merged, pid)
    }

    /// Whether there is more than one host to tell apart.
    pub fn several(&self) -> bool {
        self.merged.len() > 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Kind, PidNamespace, line::tests::event};

    #[test]
    fn a_merged_pid_splits_into_its_host_and_the_hosts_own_pid() {
        assert_eq!(host_pid(1234), (None, 1234));
        assert_eq!(host_pid(merged_pid(0, 1234)), (Some(0), 1234));
        assert_eq!(host_pid(merged_pid(2, 0)), (Some(2), 0));
        assert_eq!(
            host_pid(merged_pid(MAX_HOSTS - 1, PID_MAX_LIMIT - 1)).0,
            Some(1022)
        );
        assert_ne!(merged_pid(0, 7), merged_pid(1, 7));
    }

    #[test]
    fn an_event_is_shown_with_its_hosts_pids_and_named_after_its_host() {
        let e = Event {
            pid: merged_pid(1, 300),
            tid: merged_pid(1, 301),
            ppid: merged_pid(1, 1),
            pid_ns: Some(PidNamespace {
                inode: 9,
                pid: merged_pid(1, 300),
            }),
            ..event(Kind::Fork)
        };
        let own = shown(&e);
        assert_eq!((own.pid, own.tid, own.ppid), (300, 301, 1));
        assert_eq!(own.pid_ns.unwrap().pid, 300);
        let plain = event(Kind::Fork);
        assert!(matches!(shown(&plain), Cow::Borrowed(_)));
        let hosts = Hosts {
            own: "here".into(),
            merged: vec!["a".into(), "b".into()],
        };
        assert_eq!(hosts.name_of(e.pid), "b");
        assert_eq!(hosts.name_of(merged_pid(0, 5)), "a");
        assert_eq!(hosts.name_of(5), "here");
        assert_eq!(hosts.name_of(merged_pid(7, 5)), "here");
    }
}
