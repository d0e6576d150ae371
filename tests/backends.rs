//! The three live backends against the real kernel, and how `--backend auto` chooses
//! between them. Each test starts its own uniquely named processes and looks only at the
//! events of their pids.

#[path = "common/lines.rs"]
mod lines;
// Only `open` and `exited` are used here.
#[allow(dead_code)]
#[path = "common/live.rs"]
mod live;
#[path = "common/nobody.rs"]
mod nobody;
#[path = "common/program_copy.rs"]
mod program_copy;

use std::{
    collections::{HashMap, HashSet},
    os::unix::fs::{PermissionsExt, symlink},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use forkwatch::{
    clock,
    event::{Event, ExitStatus, Kind},
    proc,
    source::{
        BackendChoice, Feed, Source,
        netlink::{Netlink, NetlinkOptions},
    },
};
use lines::{lines, next_line};
use live::{exited, open};
use nobody::Nobody;

const BIN: &str = env!("CARGO_BIN_EXE_forkwatch-tui");
const WORKLOAD: &str = env!("CARGO_BIN_EXE_forkwatch-workload");

/// A fresh directory of a name no one could know beforehand, world-readable so that uid
/// 65534 can run what is in it.
fn temp_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("fwb-").tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// Programs under names no other process on the machine has: `<tag>r` is a shell,
/// `<tag>c` is sleep. The command name of a process is the name it was executed by.
struct Names {
    dir: tempfile::TempDir,
    tag: String,
}

impl Names {
    fn new() -> Self {
        let dir = temp_dir();
        let tag = format!(
            "fw{}",
            dir.path().file_name().unwrap().to_str().unwrap()[4..].replace('-', "x")
        );
        symlink("/bin/sh", dir.path().join(format!("{tag}r"))).unwrap();
        symlink("/bin/sleep", dir.path().join(format!("{tag}c"))).unwrap();
        Self { dir, tag }
    }

    fn shell(&self) -> PathBuf {
        self.dir.path().join(format!("{}r", self.tag))
    }

    fn sleep(&self) -> PathBuf {
        self.dir.path().join(format!("{}c", self.tag))
    }
}

fn path_str(path: &Path) -> String {
    path.to_str().unwrap().to_owned()
}

fn exec_argv(event: &Event) -> Option<Vec<String>> {
    match &event.kind {
        Kind::Exec { argv, .. } => Some(argv.to_strings()),
        _ => None,
    }
}

/// Reads `source` until the root and every process it forked have exited: the events,
/// and the root's children with their start ticks.
async fn collect_tree(
    source: &mut Source,
    backend: BackendChoice,
    root_pid: u32,
) -> (Vec<Event>, HashMap<u32, Option<u64>>) {
    // Children are the processes the root forked; their start ticks are read from /proc
    // while they run, to compare with the events' identity.
    let mut events = Vec::new();
    let mut children = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(exited(&events, root_pid) && children.keys().all(|&pid| exited(&events, pid))) {
        let tree: Vec<Event> = events
            .iter()
            .filter(|e| e.pid == root_pid || children.contains_key(&e.pid))
            .cloned()
            .collect();
        assert!(
            Instant::now() < deadline,
            "{backend:?}: the tree's exits did not arrive: {tree:#?}"
        );
        let before = events.len();
        let batch = source.next_batch(&mut events);
        if tokio::time::timeout(Duration::from_secs(30), batch)
            .await
            .is_err()
        {
            panic!("{backend:?}: no events for 30 s; the tree's so far: {tree:#?}");
        }
        for event in &events[before..] {
            if event.kind == Kind::Fork && event.ppid == root_pid {
                let ticks = proc::stat::read(event.pid).map(|s| s.start_ticks);
                children.insert(event.pid, ticks);
            }
        }
    }
    (events, children)
}

/// Checks the fork, exec and exit `backend` reported of `pid`: its parent, command line,
/// program, exit code and identity (`ticks`, its start time as /proc gave it, if read).
fn check_process(
    backend: BackendChoice,
    events: &[Event],
    pid: u32,
    ppid: u32,
    argv: &[&str],
    code: i32,
    ticks: Option<u64>,
) {
    let procfs = backend == BackendChoice::Procfs;
    let expected_exit = |code| {
        if procfs {
            ExitStatus::Unknown
        } else {
            ExitStatus::Code(code)
        }
    };
    let expected_file = |path: &str| {
        if backend == BackendChoice::Ebpf {
            path.to_owned()
        } else {
            // The other backends read /proc/<pid>/exe, which resolves symlinks.
            path_str(&std::fs::canonicalize(path).unwrap())
        }
    };
    let mine: Vec<&Event> = events.iter().filter(|e| e.pid == pid).collect();
    let kinds: Vec<&str> = mine.iter().map(|e| e.kind_name().as_str()).collect();
    assert_eq!(kinds, ["fork", "exec", "exit"], "{backend:?}: {mine:#?}");
    assert_eq!(mine[0].ppid, ppid, "{backend:?}: parent of {pid}");
    assert_eq!(exec_argv(mine[1]).unwrap(), argv, "{backend:?}");
    let Kind::Exec { filename, .. } = &mine[1].kind else {
        unreachable!()
    };
    assert_eq!(filename.lossy(), expected_file(argv[0]), "{backend:?}");
    let Kind::Exit(status, usage) = &mine[2].kind else {
        unreachable!()
    };
    assert_eq!(*status, expected_exit(code), "{backend:?}");
    // Only the probe reads what the kernel accounted; the proc connector and /proc polling
    // see a process only after it is gone.
    assert_eq!(
        usage.is_some(),
        backend == BackendChoice::Ebpf,
        "{backend:?}"
    );
    let name = Path::new(argv[0]).file_name().unwrap().to_str().unwrap();
    assert_eq!(mine[1].comm.to_string(), name, "{backend:?}");
    assert_eq!(mine[2].comm.to_string(), name, "{backend:?}");
    // One identity from birth to exit, the one /proc gives.
    for event in &mine {
        assert_eq!(
            Some(clock::start_ticks(event.start_ns)),
            ticks.or(Some(clock::start_ticks(mine[0].start_ns))),
            "{backend:?}: start time of {event:?}"
        );
    }
}

/// Starts a shell that runs two sleeps (one in the background) and exits 3; every process
/// lives more than a second. Checks what `backend` reports about the tree.
async fn reports_the_tree(backend: BackendChoice) {
    let mut source = open(backend);
    let names = Names::new();
    let (shell, sleep) = (path_str(&names.shell()), path_str(&names.sleep()));
    let script = format!("{sleep} 1.3 & {sleep} 1.2; wait; exit 3");
    let mut root = Command::new(&shell).args(["-c", &script]).spawn().unwrap();
    let root_pid = root.id();
    let root_ticks = proc::stat::read(root_pid).unwrap().start_ticks;

    let (events, children) = collect_tree(&mut source, backend, root_pid).await;
    assert_eq!(root.wait().unwrap().code(), Some(3));

    let check = |pid, ppid, argv: &[&str], code, ticks| {
        check_process(backend, &events, pid, ppid, argv, code, ticks)
    };
    check(
        root_pid,
        std::process::id(),
        &[&shell, "-c", &script],
        3,
        Some(root_ticks),
    );
    assert_eq!(
        children.len(),
        2,
        "{backend:?}: two children, got {children:?}"
    );
    let mut durations = Vec::new();
    for (&pid, &ticks) in &children {
        let argv = events
            .iter()
            .find(|e| e.pid == pid && exec_argv(e).is_some())
            .and_then(exec_argv)
            .unwrap();
        durations.push(argv[1].clone());
        check(pid, root_pid, &[&sleep, &argv[1]], 0, ticks);
    }
    durations.sort();
    assert_eq!(durations, ["1.2", "1.3"], "{backend:?}");
    // Parents before children: the root's fork comes before its children's.
    let position = |pid| events.iter().position(|e| e.pid == pid).unwrap();
    assert!(
        children
            .keys()
            .all(|&pid| position(root_pid) < position(pid))
    );
}

#[tokio::test]
async fn ebpf_reports_the_process_tree() {
    reports_the_tree(BackendChoice::Ebpf).await;
}

#[tokio::test]
async fn netlink_reports_the_process_tree() {
    reports_the_tree(BackendChoice::Netlink).await;
}

#[tokio::test]
async fn procfs_reports_the_process_tree() {
    reports_the_tree(BackendChoice::Procfs).await;
}

/// Threads are tracked per process: the process exits once, after its threads, with the
/// status of its last thread; a uid change carries the new ids.
#[tokio::test]
async fn netlink_reports_threads_inside_their_process_and_uid_changes() {
    let mut source = open(BackendChoice::Netlink);
    let mut threaded = Command::new(WORKLOAD)
        .args(["threads", "3"])
        .spawn()
        .unwrap();
    let mut setuid = Command::new(WORKLOAD)
        .args(["setuid", "65534"])
        .spawn()
        .unwrap();
    let (pid, uid_pid) = (threaded.id(), setuid.id());
    let mut events = Vec::new();
    while !(exited(&events, pid) && exited(&events, uid_pid)) {
        tokio::time::timeout(Duration::from_secs(30), source.next_batch(&mut events))
            .await
            .expect("the workloads' exits arrive")
            .unwrap();
    }
    assert!(threaded.wait().unwrap().success() && setuid.wait().unwrap().success());

    let mine: Vec<&Event> = events.iter().filter(|e| e.pid == pid).collect();
    let tids = |kind: Kind| -> Vec<u32> {
        let mut tids: Vec<u32> = mine
            .iter()
            .filter(|e| e.kind == kind)
            .map(|e| e.tid)
            .collect();
        tids.sort_unstable();
        tids
    };
    let started = tids(Kind::ThreadStart);
    assert_eq!(started.len(), 3, "{mine:#?}");
    assert!(!started.contains(&pid));
    assert_eq!(tids(Kind::ThreadExit), started);
    let exits: Vec<_> = mine
        .iter()
        .filter(|e| matches!(e.kind, Kind::Exit(..)))
        .collect();
    assert_eq!(exits.len(), 1, "{mine:#?}");
    assert_eq!(exits[0].kind, Kind::Exit(ExitStatus::Code(0), None));
    assert!(matches!(mine.last().unwrap().kind, Kind::Exit(..)));

    let uid = events
        .iter()
        .find(|e| e.pid == uid_pid && e.kind == Kind::Uid { inferred: false })
        .expect("a uid event");
    let creds = uid.creds.unwrap();
    assert_eq!((creds.uid, creds.euid, creds.gid), (65534, 65534, 0));
}

/// The CPUs this process may run on.
fn cpus() -> Vec<usize> {
    // SAFETY: a zeroed cpu_set_t is valid; sched_getaffinity fills it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) } == 0;
    assert!(ok);
    (0..libc::CPU_SETSIZE as usize)
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect()
}

/// Runs `true` on every CPU, so that each CPU sends the connector a message; returns the
/// pids.
fn mark_every_cpu() -> Vec<u32> {
    cpus()
        .into_iter()
        .map(|cpu| {
            let mut child = Command::new("taskset")
                .args(["-c", &cpu.to_string(), "true"])
                .spawn()
                .unwrap();
            child.wait().unwrap();
            child.id()
        })
        .collect()
}

/// Reads until a process run on each CPU has been seen to exit. With a small buffer on a
/// busy machine a marker's own message may be lost: then every CPU is marked again.
async fn until_every_cpu_is_heard(netlink: &mut Netlink, events: &mut Vec<Event>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut markers = mark_every_cpu();
    let mut marked = Instant::now();
    while !markers.iter().all(|&pid| exited(events, pid)) {
        assert!(Instant::now() < deadline, "marker events did not arrive");
        if marked.elapsed() > Duration::from_secs(2) {
            markers = mark_every_cpu();
            marked = Instant::now();
        }
        let wait = tokio::time::timeout(Duration::from_millis(200), netlink.next_batch(events));
        if let Ok(result) = wait.await {
            result.unwrap();
        }
    }
}

#[tokio::test]
async fn netlink_counts_what_a_slow_reader_lost() {
    // A small receive buffer: about a hundred messages.
    let mut netlink = Netlink::open(&NetlinkOptions {
        receive_buffer_bytes: 64 << 10,
    })
    .unwrap();
    let mut events = Vec::new();
    // Every CPU's numbering is known before the storm, so every gap is between two
    // messages that arrive.
    until_every_cpu_is_heard(&mut netlink, &mut events).await;
    events.clear();

    // 300 processes (900 messages) while the reader does not read.
    let storm: HashSet<u32> = (0..300)
        .map(|_| {
            let mut child = Command::new("/bin/true").spawn().unwrap();
            child.wait().unwrap();
            child.id()
        })
        .collect();
    netlink.finish(&mut events);
    // The messages lost after each CPU's last arrival are counted when it sends again.
    until_every_cpu_is_heard(&mut netlink, &mut events).await;

    let lost: u64 = events.iter().map(Event::lost_count).sum();
    let seen = events.iter().filter(|e| storm.contains(&e.pid)).count() as u64;
    let sent = 3 * storm.len() as u64;
    assert!(
        seen < sent,
        "the buffer did not overflow: {seen} of {sent} seen"
    );
    assert!(
        lost >= sent - seen,
        "{} storm events missing, only {lost} reported lost",
        sent - seen
    );
}

/// Runs `events --json` as uid 65534 (inside `wrapper`, e.g. a new user namespace) and
/// returns the stderr lines up to the description of what the backend misses, and the
/// JSON lines it printed for a uniquely named process started once it was watching.
fn events_as_nobody(nobody: &Nobody, wrapper: &[&str]) -> (Vec<String>, Vec<Event>) {
    let mut watcher: Child = nobody
        .command(wrapper, "forkwatch-tui")
        .args(["--log", "/dev/null", "events", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = lines(watcher.stderr.take().unwrap());
    let stdout = lines(watcher.stdout.take().unwrap());
    let mut notices = vec![next_line(&stderr, "start-up line")];
    assert!(
        notices[0].starts_with("forkwatch-tui: watching with "),
        "{notices:?}"
    );
    while !notices.last().unwrap().contains(" misses ")
        && !notices.last().unwrap().contains(" reads ")
    {
        notices.push(next_line(&stderr, "notice"));
    }

    let names = Names::new();
    let mut sleeper = Command::new(names.sleep()).arg("1.5").spawn().unwrap();
    let pid = sleeper.id();
    sleeper.wait().unwrap();
    let mut mine = Vec::new();
    while !exited(&mine, pid) {
        let line = next_line(&stdout, "event of the process started meanwhile");
        let event: Event = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        if event.pid == pid {
            mine.push(event);
        }
    }
    // SAFETY: signalling our own child (setpriv execs the watcher, so it is that pid).
    unsafe { libc::kill(watcher.id() as i32, libc::SIGINT) };
    assert!(watcher.wait().unwrap().success());
    let argv = vec![path_str(&names.sleep()), "1.5".to_owned()];
    assert!(
        mine.iter()
            .any(|e| exec_argv(e).as_deref() == Some(&argv[..])),
        "no exec of {argv:?}: {mine:#?}"
    );
    (notices, mine)
}

fn line_with<'a>(lines: &'a [String], text: &str) -> &'a str {
    lines
        .iter()
        .find(|l| l.contains(text))
        .unwrap_or_else(|| panic!("no line with `{text}` in {lines:#?}"))
}

/// An unprivileged user gets a working stream from the best backend the kernel allows:
/// since Linux 6.6 the proc connector accepts anyone in the initial namespaces.
#[test]
fn without_privileges_auto_falls_back_and_streams() {
    let (notices, _) = events_as_nobody(&Nobody::with(&[BIN]), &[]);
    line_with(
        &notices,
        "forkwatch-tui: eBPF not possible: the eBPF probe needs root",
    );
    // Linux 6.6 opened the proc connector to every user in the initial namespaces.
    if kernel_at_least(6, 6) {
        assert!(notices[0].contains("with netlink"), "{notices:#?}");
        line_with(
            &notices,
            "netlink reads argv, names and credentials from /proc",
        );
    } else {
        assert!(notices[0].contains("with procfs"), "{notices:#?}");
        line_with(&notices, "forkwatch-tui: netlink not possible: ");
    }
}

/// Whether the running kernel's version is at least `major.minor`.
fn kernel_at_least(major: u32, minor: u32) -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let running = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    running >= (major, minor)
}

/// Where neither eBPF nor the proc connector can run (a user namespace here), procfs
/// does, and says what it misses; asking for netlink by name is one line of error.
#[test]
fn where_only_procfs_can_run_it_is_used_and_says_so() {
    let nobody = Nobody::with(&[BIN]);
    let (notices, mine) = events_as_nobody(&nobody, &["unshare", "--user"]);
    assert!(
        notices[0].starts_with("forkwatch-tui: watching with procfs (polling /proc every 100ms)"),
        "{notices:#?}"
    );
    line_with(&notices, "forkwatch-tui: eBPF not possible: ");
    line_with(
        &notices,
        "forkwatch-tui: netlink not possible: the proc connector answers only processes in the initial user namespace",
    );
    line_with(
        &notices,
        "forkwatch-tui: procfs misses processes that live shorter than 100ms, cannot know exit codes",
    );
    let exit = mine.last().unwrap();
    assert_eq!(exit.kind, Kind::Exit(ExitStatus::Unknown, None));

    let out = nobody
        .command(&["unshare", "--user"], "forkwatch-tui")
        .args(["--log", "/dev/null", "events", "--backend", "netlink"])
        .stdout(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(
            "forkwatch-tui: the netlink backend cannot run: the proc connector answers only"
        ),
        "{err}"
    );
}
