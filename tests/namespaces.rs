//! PID namespaces and cgroup v2 paths, from the real kernel to the events of each backend
//! and through a recording: a process started with `unshare --pid --fork --mount-proc`
//! inside a freshly made cgroup.

#[path = "common/contained.rs"]
mod contained;
// Only `open`, `read_until` and `exited` are used here.
#[allow(dead_code)]
#[path = "common/live.rs"]
mod live;

use contained::{Cgroup, Contained, pid_namespace_inode};

use forkwatch::{
    event::{CgroupPath, Event, Kind, PidNamespace},
    proc::snapshot,
    recording::{Info, Reader, Writer},
    source::{BackendChoice, Source, cgroups},
};
use live::{open, read_until};

/// The namespace's pid 1 as the backend reported it: the child of `unshare`, once it runs
/// `sh -c 'read line'` (its exec, or for the poller its appearance).
fn inner_pid(events: &[Event], outer: u32) -> Option<u32> {
    events
        .iter()
        .find(|e| e.ppid == outer && e.pid != outer && e.comm.as_bytes() == b"sh")
        .map(|e| e.pid)
}

/// Runs the contained process under `backend` and returns its events, the inner pid and
/// the namespace's inode as /proc shows it.
async fn contained_events(backend: BackendChoice, tag: &str) -> (Vec<Event>, u32, u32, Cgroup) {
    let mut source: Source = open(backend);
    let root = cgroups::cgroup2_mount().expect("cgroup v2 is mounted on this machine");
    let cgroup = Cgroup::new(&root, tag);
    let contained = Contained::start(&cgroup, "fw-contained");
    let outer = contained.outer();
    let mut events = Vec::new();
    read_until(&mut source, &mut events, |e| inner_pid(e, outer).is_some()).await;
    let inner = inner_pid(&events, outer).unwrap();
    let inode = pid_namespace_inode(inner);
    contained.finish();
    read_until(&mut source, &mut events, |e| live::exited(e, outer)).await;
    (events, inner, inode, cgroup)
}

#[tokio::test]
async fn ebpf_events_carry_the_namespace_pid_and_the_cgroup_path() {
    let (events, inner, inode, cgroup) = contained_events(BackendChoice::Ebpf, "ebpf").await;
    assert_ne!(
        inode,
        pid_namespace_inode(std::process::id()),
        "a new namespace"
    );
    let theirs: Vec<&Event> = events.iter().filter(|e| e.pid == inner).collect();
    assert!(!theirs.is_empty());
    for event in &theirs {
        assert_eq!(
            event.pid_ns,
            Some(PidNamespace { inode, pid: 1 }),
            "{event:?}"
        );
    }
    let exit = theirs
        .iter()
        .find(|e| matches!(e.kind, Kind::Exit(..)))
        .expect("its exit");
    assert_eq!(exit.cgroup_id, Some(cgroup.id()));
    assert_eq!(
        exit.cgroup.as_ref(),
        Some(&CgroupPath::from(cgroup.path().as_str()))
    );

    // Everything survives a recording.
    let snapshot = snapshot::take().unwrap();
    let mut writer = Writer::new(Vec::new(), &Info::here("eBPF", 1), &snapshot).unwrap();
    for event in &events {
        writer.push(event).unwrap();
    }
    writer.finish(u64::MAX).unwrap();
    let mut reader = Reader::new(std::io::Cursor::new(writer.into_inner())).unwrap();
    let mut replayed = Vec::new();
    while reader.next_batch(&mut replayed).unwrap() {}
    assert_eq!(replayed, events);
    let me = std::process::id();
    let mine = reader.snapshot().iter().find(|p| p.pid == me).unwrap();
    assert_eq!(mine, snapshot.iter().find(|p| p.pid == me).unwrap());
    assert_eq!(mine.pid_ns.map(|ns| ns.pid), Some(me));
    assert!(mine.cgroup.is_some());
}

/// The proc connector's messages carry pids only: namespace and cgroup path come from
/// /proc, while the process is there. No cgroup id.
#[tokio::test]
async fn netlink_events_carry_the_namespace_pid_and_the_cgroup_path() {
    let (events, inner, inode, cgroup) = contained_events(BackendChoice::Netlink, "netlink").await;
    let exec = events
        .iter()
        .find(|e| e.pid == inner && matches!(e.kind, Kind::Exec { .. }))
        .expect("its exec");
    assert_eq!(exec.pid_ns, Some(PidNamespace { inode, pid: 1 }));
    assert_eq!(
        exec.cgroup.as_ref(),
        Some(&CgroupPath::from(cgroup.path().as_str()))
    );
    assert_eq!(exec.cgroup_id, None);
}

/// The poller reads every new process from /proc: namespace and cgroup path included.
#[tokio::test]
async fn procfs_events_carry_the_namespace_pid_and_the_cgroup_path() {
    let (events, inner, inode, cgroup) = contained_events(BackendChoice::Procfs, "procfs").await;
    let first = events.iter().find(|e| e.pid == inner).unwrap();
    assert_eq!(first.pid_ns, Some(PidNamespace { inode, pid: 1 }));
    assert_eq!(
        first.cgroup.as_ref(),
        Some(&CgroupPath::from(cgroup.path().as_str()))
    );
}
