//! Uid changes that no syscall tracepoint reports, against the real kernel: a 32-bit
//! `setuid` (`int $0x80`, syscall 213) followed by an exec. The probe and the /proc poller
//! infer it from the ids of the process's next event; the proc connector announces it.
#![cfg(target_arch = "x86_64")]

#[path = "common/lines.rs"]
mod lines;
#[path = "common/live.rs"]
mod live;

use std::{
    io::Write,
    process::{ChildStdin, Command, Stdio},
    time::Duration,
};

use forkwatch::{
    event::{Event, Kind},
    source::{BackendChoice, Feed, LiveOptions, Source, ebpf::ProbeOptions},
};
use lines::{lines, next_line};
use live::{exited, open, read_until};

const BIN: &str = env!("CARGO_BIN_EXE_forkwatch-tui");
const WORKLOAD: &str = env!("CARGO_BIN_EXE_forkwatch-workload");
const NOBODY: u32 = 65534;

/// The uid events of `pid`, as (inferred, uid, euid), and where each is in `events`.
fn uid_events(events: &[Event], pid: u32) -> Vec<(usize, bool, u32, u32)> {
    events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.pid == pid)
        .filter_map(|(i, e)| match e.kind {
            Kind::Uid { inferred } => {
                let creds = e.creds.unwrap();
                Some((i, inferred, creds.uid, creds.euid))
            }
            _ => None,
        })
        .collect()
}

/// Where the exec of `program` by `pid` is in `events`.
fn exec_of(events: &[Event], pid: u32, program: &str) -> usize {
    events
        .iter()
        .position(|e| {
            e.pid == pid
                && matches!(&e.kind, Kind::Exec { argv, .. } if argv.first() == Some(program.as_bytes()))
        })
        .unwrap_or_else(|| panic!("no exec of {program} by {pid}"))
}

/// `forkwatch-workload setuid32 65534 PROGRAM...`, spawned.
fn setuid32(program: &[&str]) -> std::process::Child {
    Command::new(WORKLOAD)
        .args(["setuid32", &NOBODY.to_string()])
        .args(program)
        .spawn()
        .unwrap()
}

/// The probe sees no 32-bit setuid: the exec after it shows the new uid, and a uid event
/// marked inferred goes right before it. A native setuid is still reported, once, and
/// not as inferred.
#[tokio::test]
async fn ebpf_infers_a_32_bit_setuid_and_reports_a_native_one() {
    let mut source = open(BackendChoice::Ebpf);
    let mut compat = setuid32(&["/bin/true"]);
    let mut native = Command::new(WORKLOAD)
        .args(["setuid", &NOBODY.to_string()])
        .spawn()
        .unwrap();
    let (pid, native_pid) = (compat.id(), native.id());
    let mut events = Vec::new();
    read_until(&mut source, &mut events, |e| {
        exited(e, pid) && exited(e, native_pid)
    })
    .await;
    assert!(compat.wait().unwrap().success() && native.wait().unwrap().success());

    let exec = exec_of(&events, pid, "/bin/true");
    assert_eq!(uid_events(&events, pid), [(exec - 1, true, NOBODY, NOBODY)]);
    let (inferred_at, ..) = uid_events(&events, pid)[0];
    assert_eq!(
        events[inferred_at].ts_ns, events[exec].ts_ns,
        "stamped when seen"
    );
    let native_uids: Vec<_> = uid_events(&events, native_pid)
        .into_iter()
        .map(|(_, inferred, uid, euid)| (inferred, uid, euid))
        .collect();
    assert_eq!(native_uids, [(false, NOBODY, NOBODY)]);
}

/// Runs `setpriv --reuid 65534 sleep 0.03` (a setresuid the probe sees, then a while with
/// the new uid) 25 times on each of eight threads; returns the pids.
fn setresuid_processes() -> std::thread::JoinHandle<Vec<u32>> {
    std::thread::spawn(|| {
        let threads: Vec<_> = (0..8)
            .map(|_| {
                std::thread::spawn(|| {
                    (0..25)
                        .map(|_| {
                            let mut child = Command::new("setpriv")
                                .args(["--reuid", &NOBODY.to_string(), "sleep", "0.03"])
                                .spawn()
                                .unwrap();
                            assert!(child.wait().unwrap().success());
                            child.id()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect()
    })
}

/// The pids of `pids` whose events show uid 65534 but hold no uid event: it was dropped.
fn unannounced(events: &[Event], pids: &[u32]) -> usize {
    pids.iter()
        .filter(|&&pid| {
            let mine = || events.iter().filter(move |e| e.pid == pid);
            mine().any(|e| e.creds.is_some_and(|c| c.uid == NOBODY))
                && !mine().any(|e| matches!(e.kind, Kind::Uid { .. }))
        })
        .count()
}

/// A uid event dropped from a full ring buffer is reported as lost only when the probe
/// next reads its counters, which can be after the process's next event was read: that
/// event must not pass for a silent change. A small ring buffer overflows while processes
/// call setresuid, and the reader pauses between batches: longer each round, until a uid
/// event was dropped and a later event of its process delivered (a loaded machine starts
/// the processes more slowly).
#[tokio::test]
async fn ebpf_takes_no_dropped_uid_event_for_a_silent_change() {
    let options = LiveOptions {
        backend: BackendChoice::Ebpf,
        probe: ProbeOptions {
            ring_bytes: 4096,
            ..ProbeOptions::default()
        },
        ..LiveOptions::default()
    };
    let (mut source, _) = Source::open_live(&options).unwrap();
    for pause_ms in [20, 40, 80, 160] {
        let spawner = setresuid_processes();
        let mut events = Vec::new();
        while !spawner.is_finished() {
            tokio::time::timeout(Duration::from_secs(30), source.next_batch(&mut events))
                .await
                .expect("events arrive")
                .unwrap();
            tokio::time::sleep(Duration::from_millis(pause_ms)).await;
        }
        let pids = spawner.join().unwrap();
        source.finish(&mut events);

        let lost: u64 = events.iter().map(Event::lost_count).sum();
        let inferred: Vec<_> = events
            .iter()
            .filter(|e| pids.contains(&e.pid))
            .filter(|e| {
                matches!(
                    e.kind,
                    Kind::Uid { inferred: true } | Kind::Gid { inferred: true }
                )
            })
            .collect();
        assert!(
            inferred.is_empty(),
            "{lost} lost, yet inferred: {inferred:#?}"
        );
        if unannounced(&events, &pids) > 0 {
            return;
        }
    }
    panic!("no uid event was dropped with a later event of its process delivered");
}

/// The proc connector announces 32-bit set*id calls like any other: nothing to infer.
#[tokio::test]
async fn netlink_reports_a_32_bit_setuid() {
    let mut source = open(BackendChoice::Netlink);
    let mut compat = setuid32(&["/bin/true"]);
    let pid = compat.id();
    let mut events = Vec::new();
    read_until(&mut source, &mut events, |e| exited(e, pid)).await;
    assert!(compat.wait().unwrap().success());
    let uids: Vec<_> = uid_events(&events, pid)
        .into_iter()
        .map(|(_, inferred, uid, _)| (inferred, uid))
        .collect();
    assert_eq!(uids, [(false, NOBODY)]);
}

/// Tells a shell waiting on `read` to go on.
fn go_on(stdin: &mut ChildStdin) {
    stdin.write_all(b"go\n").unwrap();
    stdin.flush().unwrap();
}

/// The poller sees no set*id call at all: it infers the change from the ids the process
/// shows after its exec. Each step waits for a line on stdin, so that the poller sees the
/// process before and after.
#[tokio::test]
async fn procfs_infers_a_32_bit_setuid() {
    let mut source = open(BackendChoice::Procfs);
    let script = format!("read line; exec {WORKLOAD} setuid32 {NOBODY} /bin/sh -c 'read line'");
    let mut shell = Command::new("/bin/sh")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = shell.id();
    let mut stdin = shell.stdin.take().unwrap();
    let mut events = Vec::new();
    read_until(&mut source, &mut events, |e| {
        e.iter().any(|e| e.pid == pid && e.kind == Kind::Fork)
    })
    .await;
    go_on(&mut stdin);
    read_until(&mut source, &mut events, |e| !uid_events(e, pid).is_empty()).await;
    go_on(&mut stdin);
    read_until(&mut source, &mut events, |e| exited(e, pid)).await;
    assert!(shell.wait().unwrap().success());
    let uids = uid_events(&events, pid);
    assert_eq!(uids.len(), 1, "{uids:?}");
    let (at, inferred, uid, euid) = uids[0];
    assert_eq!((inferred, uid, euid), (true, NOBODY, NOBODY));
    // Right before the exec that showed it.
    assert!(
        matches!(events[at + 1].kind, Kind::Exec { .. }),
        "{:?}",
        events[at + 1]
    );
    assert_eq!(events[at + 1].creds.unwrap().uid, NOBODY);
}

/// `events` says so in its text line.
#[test]
fn events_prints_an_inferred_uid_change() {
    let mut events = Command::new(BIN)
        .args(["--log", "/dev/null", "events", "--kinds", "uid,exit"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = lines(events.stderr.take().unwrap());
    let stdout = lines(events.stdout.take().unwrap());
    let started = next_line(&stderr, "start-up line");
    assert!(started.contains("watching with eBPF"), "{started}");
    let mut compat = setuid32(&["/bin/true"]);
    let pid = compat.id();
    assert!(compat.wait().unwrap().success());
    let mine = format!(" pid={pid} ");
    let uid = loop {
        let line = next_line(&stdout, "uid line");
        if line.contains(&mine) && line.contains(" uid ") {
            break line;
        }
    };
    // SAFETY: signalling our own child.
    unsafe { libc::kill(events.id() as i32, libc::SIGINT) };
    assert!(events.wait().unwrap().success());
    assert!(
        uid.contains(&format!(" uid={NOBODY} euid={NOBODY} ")) && uid.ends_with(" inferred"),
        "{uid}"
    );
}
