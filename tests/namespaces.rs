//! PID namespaces and cgroup v2 paths, from the real kernel to the events of each backend
//! and through a recording: a process started with `unshare --pid --fork --mount-proc`
//! inside a freshly made cgroup.

// Only `open` and `read_until` are used here.
#[allow(dead_code)]
#[path = "common/live.rs"]
mod live;

use std::{
    io::Write,
    os::unix::fs::MetadataExt,
    path::PathBuf,
    process::{Child, ChildStdin, Command, Stdio},
};

use forkwatch::{
    event::{CgroupPath, Event, Kind, PidNamespace},
    proc::snapshot,
    recording::{Info, Reader, Writer},
    source::{BackendChoice, Source, cgroups},
};
use live::{open, read_until};

/// A cgroup v2 directory made for one test, removed when dropped (after its processes,
/// which the test reaps first).
struct Cgroup {
    dir: PathBuf,
}

impl Cgroup {
    fn new(tag: &str) -> Self {
        let root = cgroups::cgroup2_mount().expect("cgroup v2 is mounted on this machine");
        let dir = root.join(format!("fw-{tag}-{}-\u{1b}[1m", std::process::id()));
        std::fs::create_dir(&dir).expect("a cgroup can be made (tests run as root)");
        Self { dir }
    }

    /// Its path as the kernel names it: from the hierarchy's root.
    fn path(&self) -> CgroupPath {
        let name = self.dir.file_name().unwrap().to_str().unwrap();
        CgroupPath::from(format!("/{name}").as_str())
    }

    fn id(&self) -> u64 {
        std::fs::metadata(&self.dir).unwrap().ino()
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        // A cgroup is removable once its last process has exited; the kernel notes that
        // a moment after the exit, so a few attempts.
        for _ in 0..100 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        eprintln!("could not remove {}", self.dir.display());
    }
}

/// A shell that moves itself into `cgroup` and becomes `unshare`, whose child, pid 1 of a
/// new PID namespace, waits for a line on its standard input.
struct Contained {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Contained {
    fn start(cgroup: &Cgroup) -> Self {
        let procs = cgroup.dir.join("cgroup.procs");
        let script = "echo $$ > \"$1\" && exec unshare --pid --fork --mount-proc sh -c 'read line'";
        let mut child = Command::new("sh")
            .args(["-c", script, "sh"])
            .arg(&procs)
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        Self { child, stdin }
    }

    fn outer(&self) -> u32 {
        self.child.id()
    }

    /// Lets the namespace's pid 1 end, and reaps `unshare`.
    fn finish(mut self) {
        let mut stdin = self.stdin.take().unwrap();
        stdin.write_all(b"\n").unwrap();
        drop(stdin);
        assert!(self.child.wait().unwrap().success());
    }
}

impl Drop for Contained {
    fn drop(&mut self) {
        if self.stdin.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The namespace's pid 1 as the backend reported it: the child of `unshare`, once it runs
/// `sh -c 'read line'` (its exec, or for the poller its appearance).
fn inner_pid(events: &[Event], outer: u32) -> Option<u32> {
    events
        .iter()
        .find(|e| e.ppid == outer && e.pid != outer && e.comm.as_bytes() == b"sh")
        .map(|e| e.pid)
}

fn pid_namespace_inode(pid: u32) -> u32 {
    let link = std::fs::read_link(format!("/proc/{pid}/ns/pid")).unwrap();
    let text = link.to_str().unwrap();
    text["pid:[".len()..text.len() - 1].parse().unwrap()
}

/// Runs the contained process under `backend` and returns its events, the inner pid and
/// the namespace's inode as /proc shows it.
async fn contained_events(backend: BackendChoice, tag: &str) -> (Vec<Event>, u32, u32, Cgroup) {
    let mut source: Source = open(backend);
    let cgroup = Cgroup::new(tag);
    let contained = Contained::start(&cgroup);
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
        .find(|e| matches!(e.kind, Kind::Exit(_)))
        .expect("its exit");
    assert_eq!(exit.cgroup_id, Some(cgroup.id()));
    assert_eq!(exit.cgroup.as_ref(), Some(&cgroup.path()));

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
    assert_eq!(exec.cgroup.as_ref(), Some(&cgroup.path()));
    assert_eq!(exec.cgroup_id, None);
}

/// The poller reads every new process from /proc: namespace and cgroup path included.
#[tokio::test]
async fn procfs_events_carry_the_namespace_pid_and_the_cgroup_path() {
    let (events, inner, inode, cgroup) = contained_events(BackendChoice::Procfs, "procfs").await;
    let first = events.iter().find(|e| e.pid == inner).unwrap();
    assert_eq!(first.pid_ns, Some(PidNamespace { inode, pid: 1 }));
    assert_eq!(first.cgroup.as_ref(), Some(&cgroup.path()));
}
