//! Relay against the real kernel: real processes, real signals, read back with sigwaitinfo
//! by separate receiver processes.

#[path = "common/holder.rs"]
mod holder;
#[path = "common/receiver.rs"]
mod receiver;
// Some of it serves tests/relay_identity.rs only.
#[allow(dead_code)]
#[path = "common/relays.rs"]
mod relays;
// Some of it serves tests/watch.rs only.
#[allow(dead_code)]
#[path = "common/running.rs"]
mod running;
#[path = "common/trees.rs"]
mod trees;

use std::{
    io::{BufRead, BufReader, Write},
    process::{Child, ChildStdin, ChildStdout, Command, Stdio},
};

use forkwatch::{
    event::{Argv, Comm, Creds, Event, Kind},
    proc::snapshot,
    tracker::rules::{Notice, RtSignal, RuleSpec},
};
use holder::Holder;
use receiver::{Received, Receiver};
use relays::Relays;
use running::{Finished, GUARD, Running};
use trees::{Chain, Gate};

fn signal() -> i32 {
    RtSignal::default().number()
}

/// A shell that forks a child each time a line is written to it and prints the child's
/// pid, then runs `finally` once its input ends.
struct Forker {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Forker {
    fn start(finally: &str, uid: Option<u32>) -> Self {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!(
                "while read line; do /bin/true & echo $!; wait; done; {finally}"
            ))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        if let Some(uid) = uid {
            std::os::unix::process::CommandExt::uid(&mut command, uid);
            std::os::unix::process::CommandExt::gid(&mut command, uid);
        }
        let mut child = command.spawn().unwrap();
        Self {
            stdin: child.stdin.take(),
            stdout: BufReader::new(child.stdout.take().unwrap()),
            child,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Makes it fork once; the child's pid.
    fn fork(&mut self) -> u32 {
        writeln!(self.stdin.as_mut().unwrap()).unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        line.trim().parse().unwrap()
    }

    /// Ends its input and waits for it to exit.
    fn end(mut self) {
        drop(self.stdin.take());
        assert!(self.child.wait().unwrap().success());
    }
}

/// A signal from the test itself, after everything the relay sent: RT signals of one
/// number are queued in order, so whatever the receiver reads before it came from the relay.
fn sentinel(receiver: &mut Receiver) -> Received {
    let value = libc::sigval {
        sival_ptr: usize::MAX as *mut libc::c_void,
    };
    // SAFETY: sigqueue to our own child.
    assert_eq!(
        unsafe { libc::sigqueue(receiver.pid() as libc::pid_t, signal(), value) },
        0
    );
    receiver.next(GUARD).expect("no sentinel")
}

fn assert_only_sentinel_left(receiver: &mut Receiver) {
    let next = sentinel(receiver);
    assert_eq!(
        (next.pid, next.value),
        (std::process::id() as i32, -1),
        "the relay sent more than expected: {next:?}"
    );
}

#[test]
fn relayfork_sends_one_signal_per_fork_with_the_parent_and_the_child() {
    let mut receiver = Receiver::spawn(signal());
    let mut forker = Forker::start("", None);
    let mut relay = Running::start(&[
        "relay",
        "--to",
        &receiver.pid().to_string(),
        "--pid",
        &forker.pid().to_string(),
    ]);
    relay.wait_for("relaying with");

    let children: Vec<u32> = (0..5).map(|_| forker.fork()).collect();
    let parent = forker.pid();
    forker.end();
    // The forker's exit ends the rule, and with it the command.
    let Finished { status, stderr, .. } = relay.finish();
    assert!(status.success(), "{stderr:?}");
    assert!(
        stderr.iter().any(|l| l.contains(&format!(
            "pid {parent} exited; the rule matches nothing more"
        ))),
        "{stderr:?}"
    );
    assert!(
        stderr
            .iter()
            .any(|l| l.contains("5 events relayed, 5 signals sent, 0 undelivered")),
        "{stderr:?}"
    );

    for &child in &children {
        let got = receiver.next(GUARD).expect("a signal per fork");
        assert_eq!(got.signo, signal());
        assert_eq!(got.code, libc::SI_QUEUE);
        assert_eq!(got.pid, parent as i32, "si_pid is the parent");
        assert_eq!(got.value, child as i32, "si_value is the child");
    }
    assert_only_sentinel_left(&mut receiver);
}

#[test]
fn kmonitor_sends_the_event_bit_the_process_and_its_uid() {
    const NOBODY: u32 = 65534;
    let mut receiver = Receiver::spawn(signal());
    // It forks once, then execs true (which exits): fork, exec and exit, as uid `nobody`.
    let mut forker = Forker::start("exec /bin/true", Some(NOBODY));
    let mut relay = Running::start(&[
        "relay",
        "--to",
        &receiver.pid().to_string(),
        "--pid",
        &forker.pid().to_string(),
        "--layout",
        "kmonitor",
    ]);
    relay.wait_for("relaying with");

    let child = forker.fork();
    let pid = forker.pid();
    forker.end();
    let Finished { status, stderr, .. } = relay.finish();
    assert!(status.success(), "{stderr:?}");

    let got: Vec<(i32, i32, u32)> = (0..3)
        .map(|_| receiver.next(GUARD).expect("fork, exec and exit"))
        .inspect(|r| assert_eq!((r.signo, r.code), (signal(), libc::SI_QUEUE)))
        .map(|r| (r.value, r.pid, r.uid))
        .collect();
    assert_eq!(
        got,
        [
            (0x08, child as i32, NOBODY),
            (0x20, pid as i32, NOBODY),
            (0x40, pid as i32, NOBODY),
        ]
    );
    assert_only_sentinel_left(&mut receiver);
}

fn fork_event(pid: u32, ppid: u32) -> Event {
    Event {
        ts_ns: 1,
        pid,
        tid: pid,
        ppid,
        start_ns: 1,
        comm: Comm::from("test"),
        creds: Some(Creds::default()),
        cgroup_id: None,
        pid_ns: None,
        cgroup: None,
        kernel_thread: false,
        kind: Kind::Fork,
    }
}

fn rule(targets: &[u32]) -> RuleSpec {
    let to: Vec<String> = targets.iter().map(u32::to_string).collect();
    format!("to={}", to.join(",")).parse().unwrap()
}

#[tokio::test]
async fn a_target_that_exits_is_dropped_and_whoever_takes_its_pid_gets_nothing() {
    let sig = signal();
    let mut receiver = Receiver::spawn(sig);
    // The exited target's pid may be taken by someone else before the test takes it.
    let (mut relays, old_pid, holder) = (0..50)
        .find_map(|_| {
            let target = Holder::hold(sig);
            let old_pid = target.pid();
            let mut relays = Relays::new();
            relays
                .add(rule(&[old_pid, receiver.pid()]), &mut Vec::new())
                .unwrap();
            drop(target); // killed and reaped: its pid is free
            let holder = Holder::hold_pid(sig, old_pid).ok()?;
            Some((relays, old_pid, holder))
        })
        .expect("could not take the exited target's pid");
    assert_eq!(holder.pid(), old_pid);

    let mut notices = Vec::new();
    relays.handle(&fork_event(4242, 4241), &mut notices);

    assert!(
        matches!(notices.as_slice(), [Notice::TargetGone { pid, .. }] if *pid == old_pid),
        "{notices:?}"
    );
    assert!(!holder.pending(sig), "the pid's new holder got the signal");
    let got = receiver.next(GUARD).expect("the live target gets it");
    assert_eq!((got.pid, got.value), (4241, 4242));
    let targets = relays.rules()[0].targets();
    assert!(targets[0].is_gone() && !targets[1].is_gone());
    assert_eq!((targets[0].sent(), targets[1].sent()), (0, 1));

    // The check above can fail: a signal sent by pid would be seen pending.
    // SAFETY: kill to our own child.
    unsafe { libc::kill(old_pid as libc::pid_t, sig) };
    assert!(holder.pending(sig));
}

#[tokio::test]
async fn a_target_that_exits_is_dropped_as_soon_as_its_pidfd_says_so() {
    let sig = signal();
    let first = Holder::hold(sig);
    let second = Holder::hold(sig);
    let (first_pid, second_pid) = (first.pid(), second.pid());
    let mut relays = Relays::new();
    let mut notices = Vec::new();
    relays
        .add(rule(&[first_pid, second_pid]), &mut notices)
        .unwrap();
    assert_eq!(notices, []);

    drop(first);
    tokio::time::timeout(GUARD, relays.target_exited())
        .await
        .expect("the exit was not noticed");
    relays.drop_exited(&mut notices);
    assert!(
        matches!(notices.as_slice(), [Notice::TargetGone { pid, .. }] if *pid == first_pid),
        "{notices:?}"
    );
    assert!(relays.is_live());

    drop(second);
    tokio::time::timeout(GUARD, relays.target_exited())
        .await
        .expect("the exit was not noticed");
    notices.clear();
    relays.drop_exited(&mut notices);
    assert!(
        matches!(notices.as_slice(), [Notice::TargetGone { pid, .. }] if *pid == second_pid),
        "{notices:?}"
    );
    assert!(!relays.is_live());
}

#[test]
fn the_relay_command_ends_when_its_last_target_exits() {
    let receiver = Receiver::spawn(signal());
    let pid = receiver.pid();
    let comm = snapshot::read_process(pid).unwrap().comm;
    // Matches a process that does nothing, so nothing is relayed.
    let mut quiet = Command::new("sleep").arg("60").spawn().unwrap();
    let mut relay = Running::start(&[
        "relay",
        "--to",
        &pid.to_string(),
        "--pid",
        &quiet.id().to_string(),
    ]);
    relay.wait_for("relaying with");
    drop(receiver);
    let Finished { status, stderr, .. } = relay.finish();
    assert!(status.success(), "{stderr:?}");
    assert!(
        stderr
            .iter()
            .any(|l| l.ends_with(&format!("target pid {pid} ({comm}) exited and was dropped"))),
        "{stderr:?}"
    );
    assert!(
        stderr.iter().any(|l| l.ends_with(&format!(
            "pid {pid} ({comm}): 0 sent, 0 undelivered, exited"
        ))),
        "{stderr:?}"
    );
    quiet.kill().unwrap();
    quiet.wait().unwrap();
}

#[tokio::test]
async fn a_full_signal_queue_is_counted_as_undelivered_and_stalls_no_one() {
    let sig = signal();
    // A user of its own, so no one else's pending signals count against its queue of 3.
    let uid = 3_000_000 + std::process::id();
    let full = Holder::hold_limited(sig, uid, 3);
    let mut receiver = Receiver::spawn(sig);
    let mut relays = Relays::new();
    relays
        .add(rule(&[full.pid(), receiver.pid()]), &mut Vec::new())
        .unwrap();

    let mut notices = Vec::new();
    for child in 1..=10 {
        relays.handle(&fork_event(child, 1), &mut notices);
    }
    assert_eq!(notices, []);
    let rule = &relays.rules()[0];
    let counts: Vec<(u64, u64)> = rule
        .targets()
        .iter()
        .map(|t| (t.sent(), t.undelivered()))
        .collect();
    assert_eq!(counts, [(3, 7), (10, 0)]);
    assert_eq!(
        (rule.matched(), rule.sent(), rule.undelivered()),
        (10, 13, 7)
    );
    for child in 1..=10 {
        assert_eq!(receiver.next(GUARD).map(|r| r.value), Some(child));
    }
}

#[tokio::test]
async fn a_target_that_would_be_killed_by_the_signal_is_warned_about() {
    let sig = signal();
    let waiting = Receiver::spawn(sig);
    let holding = Holder::hold(sig);
    let mut sleeper = Command::new("sleep").arg("60").spawn().unwrap();
    let mut relays = Relays::new();
    let mut notices = Vec::new();
    relays
        .add(
            rule(&[waiting.pid(), holding.pid(), sleeper.id()]),
            &mut notices,
        )
        .unwrap();
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(
        notices[0].to_string(),
        format!(
            "relay 1: target pid {} (sleep) neither blocks nor handles RTMIN+1; \
             the first relayed signal will kill it unless it does",
            sleeper.id()
        )
    );
}

#[test]
fn bad_signals_and_targets_are_one_line_errors() {
    let receiver = Receiver::spawn(signal());
    let me = receiver.pid().to_string();
    let kernel_thread = snapshot::take()
        .unwrap()
        .into_iter()
        .find(|p| p.kernel_thread)
        .expect("no kernel thread");
    let cases: [(&[&str], String); 8] = [
        (
            &["--to", &me, "--signal", "SIGKILL"],
            "SIGKILL (9) is not a real-time signal".into(),
        ),
        (
            &["--to", &me, "--signal", "9"],
            "SIGKILL (9) is not a real-time signal".into(),
        ),
        (
            &["--to", &me, "--signal", "33"],
            "signal 33 is reserved by glibc".into(),
        ),
        (
            &["--to", &me, "--signal", "65"],
            "signal 65 is above SIGRTMAX (64)".into(),
        ),
        (
            &["--to", "1"],
            "pid 1 is init: it cannot be a relay target".into(),
        ),
        (
            &["--to", &kernel_thread.pid.to_string()],
            format!(
                "pid {} ({}) is a kernel thread: it cannot be a relay target",
                kernel_thread.pid, kernel_thread.comm
            ),
        ),
        // Above this machine's pid_max (32768), so never a process.
        (&["--to", "4000000"], "no process with pid 4000000".into()),
        (
            &["--to", &me, "--subtree", "4000000"],
            "no process with pid 4000000 to relay the subtree of".into(),
        ),
    ];
    for (args, expected) in &cases {
        let out = Command::new(env!("CARGO_BIN_EXE_forkwatch-tui"))
            .arg("relay")
            .args(*args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("forkwatch-tui: ") && stderr.contains(expected.as_str()),
            "{args:?}: {stderr}"
        );
    }
}

#[tokio::test]
async fn a_pid_match_follows_the_process_not_its_pid() {
    let sig = signal();
    let mut receiver = Receiver::spawn(sig);
    let mut matched = Command::new("sleep").arg("60").spawn().unwrap();
    let process = snapshot::read_process(matched.id()).unwrap();
    let pid = process.pid;
    let mut relays = Relays::new();
    let spec = format!(
        "to={}:pid={pid}:kinds=fork,exec,exit:layout=kmonitor",
        receiver.pid()
    );
    let mut notices = Vec::new();
    relays.add(spec.parse().unwrap(), &mut notices).unwrap();
    matched.kill().unwrap();
    matched.wait().unwrap();

    let own = |kind: Kind, start_ns: u64| Event {
        start_ns,
        kind,
        ..fork_event(pid, 1)
    };
    let exec = || Kind::Exec {
        filename: "/bin/true".into(),
        argv: Argv::default(),
        argv_truncated: false,
        filename_truncated: false,
        argv_unreadable: false,
    };
    let exit = || Kind::Exit(forkwatch::event::ExitStatus::Code(0), None);
    let fork_at = |child: u32, ppid: u32, start_ns: u64| Event {
        start_ns,
        ..fork_event(child, ppid)
    };
    let before = process.start_ns - 1_000_000_000;
    let events = [
        // Its fork, and an exec of the same process (the same start tick): relayed.
        fork_at(9001, pid, process.start_ns + 500_000_000),
        own(exec(), process.start_ns + 1_000),
        // A process that had its pid before it, late: its exec and its fork, older than
        // the process matched; and someone else's fork: not relayed.
        own(exec(), before),
        fork_at(9002, pid, before),
        fork_at(9003, 9001, process.start_ns + 600_000_000),
        // Its exit: relayed, and the match ends.
        own(exit(), process.start_ns),
        // The pid's next holder: not relayed.
        fork_at(9004, pid, process.start_ns + 60_000_000_000),
        own(exec(), process.start_ns),
    ];
    for event in &events {
        relays.handle(event, &mut notices);
    }
    assert!(
        matches!(notices.as_slice(), [Notice::MatchEnded { pid: p, .. }] if *p == pid),
        "{notices:?}"
    );
    assert!(!relays.is_live());
    let got: Vec<(i32, i32)> = (0..3)
        .map(|_| receiver.next(GUARD).unwrap())
        .map(|r| (r.value, r.pid))
        .collect();
    assert_eq!(got, [(0x08, 9001), (0x20, pid as i32), (0x40, pid as i32)]);
    assert_eq!(relays.rules()[0].matched(), 3);
    assert_only_sentinel_left(&mut receiver);
}

#[test]
fn a_subtree_rule_relays_each_fork_in_the_subtree_including_later_generations() {
    let mut receiver = Receiver::spawn(signal());
    let gate = Gate::new();
    let outside_gate = Gate::new();
    let tree = Chain::start(&gate, 3);
    // Forks at the same time, outside the subtree.
    let outside = Chain::start(&outside_gate, 3);
    let root = tree.pid();
    let mut relay = Running::start(&[
        "relay",
        "--to",
        &receiver.pid().to_string(),
        "--subtree",
        &root.to_string(),
    ]);
    relay.wait_for("relaying with");

    gate.open();
    outside_gate.open();
    // Each was forked by the one before: the grandchildren by processes born after the
    // rule was made.
    let (born, _) = tree.finish();
    outside.finish();
    // The rule ends when the subtree is gone, and with it the command.
    let Finished { status, stderr, .. } = relay.finish();
    assert!(status.success(), "{stderr:?}");
    assert!(
        stderr.iter().any(|l| l.ends_with(&format!(
            "no process is left in the subtree of pid {root}; the rule matches nothing more"
        ))),
        "{stderr:?}"
    );
    assert!(
        stderr
            .iter()
            .any(|l| l.contains("3 events relayed, 3 signals sent, 0 undelivered")),
        "{stderr:?}"
    );
    for (child, parent) in born {
        let got = receiver.next(GUARD).expect("a signal per fork");
        assert_eq!((got.signo, got.code), (signal(), libc::SI_QUEUE));
        assert_eq!(
            (got.pid, got.value),
            (parent as i32, child as i32),
            "si_pid is the parent, si_value the child"
        );
    }
    assert_only_sentinel_left(&mut receiver);
}

/// `relay --path kernel` ARGS: the probe sends the signals; waits until it relays.
fn relay_in_kernel(args: &[&str]) -> Running {
    let mut command = vec!["relay", "--path", "kernel"];
    command.extend_from_slice(args);
    let mut relay = Running::start(&command);
    relay.wait_for("relaying with");
    relay
}

fn said_in_kernel(stderr: &[String]) {
    assert!(
        stderr
            .iter()
            .any(|l| l.contains("relaying with eBPF, signals sent in the kernel")),
        "{stderr:?}"
    );
}

#[test]
fn relayfork_in_the_kernel_sends_one_signal_per_fork_with_parent_and_child_in_si_value() {
    let mut receiver = Receiver::spawn(signal());
    let mut forker = Forker::start("", None);
    let relay = relay_in_kernel(&[
        "--to",
        &receiver.pid().to_string(),
        "--pid",
        &forker.pid().to_string(),
    ]);
    let children: Vec<u32> = (0..5).map(|_| forker.fork()).collect();
    let parent = forker.pid();
    forker.end();
    let Finished { status, stderr, .. } = relay.finish();
    assert!(status.success(), "{stderr:?}");
    said_in_kernel(&stderr);
    assert!(
        stderr
            .iter()
            .any(|l| l.contains("5 events relayed, 5 signals sent, 0 undelivered")),
        "{stderr:?}"
    );
    for &child in &children {
        let got = receiver.next(GUARD).expect("a signal per fork");
        assert_eq!(got.signo, signal());
        assert_eq!(got.code, libc::SI_KERNEL, "the kernel built the siginfo");
        assert_eq!((got.pid, got.uid), (0, 0), "the kernel sets no sender");
        assert_eq!(got.value, child as i32, "si_int is the child, as before");
        assert_eq!(got.value_high, parent as i32, "the parent in the high half");
    }
    assert_only_sentinel_left(&mut receiver);
}

#[test]
fn kmonitor_in_the_kernel_sends_the_event_bit_and_the_process_in_si_value() {
    let mut receiver = Receiver::spawn(signal());
    let mut forker = Forker::start("exec /bin/true", None);
    let relay = relay_in_kernel(&[
        "--to",
        &receiver.pid().to_string(),
        "--pid",
        &forker.pid().to_string(),
        "--layout",
        "kmonitor",
    ]);
    let child = forker.fork();
    let pid = forker.pid();
    forker.end();
    let Finished { status, stderr, .. } = relay.finish();
    assert!(status.success(), "{stderr:?}");
    said_in_kernel(&stderr);
    let got: Vec<(i32, i32)> = (0..3)
        .map(|_| receiver.next(GUARD).expect("fork, exec and exit"))
        .inspect(|r| assert_eq!((r.signo, r.code, r.pid), (signal(), libc::SI_KERNEL, 0)))
        .map(|r| (r.value, r.value_high))
        .collect();
    assert_eq!(
        got,
        [(0x08, child as i32), (0x20, pid as i32), (0x40, pid as i32)]
    );
    assert_only_sentinel_left(&mut receiver);
}

#[test]
fn a_full_signal_queue_in_the_kernel_is_counted_as_undelivered() {
    let sig = signal();
    let uid = 3_100_000 + std::process::id();
    let full = Holder::hold_limited(sig, uid, 3);
    let mut receiver = Receiver::spawn(sig);
    let mut forker = Forker::start("", None);
    let relay = relay_in_kernel(&[
        "--to",
        &format!("{},{}", full.pid(), receiver.pid()),
        "--pid",
        &forker.pid().to_string(),
    ]);
    let children: Vec<u32> = (0..10).map(|_| forker.fork()).collect();
    forker.end();
    let Finished { status, stderr, .. } = relay.finish();
    assert!(status.success(), "{stderr:?}");
    said_in_kernel(&stderr);
    assert!(
        stderr
            .iter()
            .any(|l| l.contains("10 events relayed, 13 signals sent, 7 undelivered")),
        "{stderr:?}"
    );
    assert!(
        stderr
            .iter()
            .any(|l| l.contains(&format!("pid {}", full.pid()))
                && l.contains("3 sent, 7 undelivered")),
        "{stderr:?}"
    );
    for child in children {
        assert_eq!(receiver.next(GUARD).map(|r| r.value), Some(child as i32));
    }
}

#[test]
fn a_rule_the_kernel_cannot_relay_is_relayed_from_user_space_saying_why() {
    let mut receiver = Receiver::spawn(signal());
    let mut forker = Forker::start("", None);
    let relay = relay_in_kernel(&[
        "--to",
        &receiver.pid().to_string(),
        "--pid",
        &forker.pid().to_string(),
        "--backend",
        "netlink",
    ]);
    let child = forker.fork();
    let parent = forker.pid();
    forker.end();
    let Finished { status, stderr, .. } = relay.finish();
    assert!(status.success(), "{stderr:?}");
    assert!(
        stderr.iter().any(|l| l.contains(
            "signals sent from user space: not in the kernel, the event source is the netlink backend, not the eBPF probe"
        )),
        "{stderr:?}"
    );
    let got = receiver.next(GUARD).expect("the fork");
    assert_eq!(
        (got.code, got.pid, got.value),
        (libc::SI_QUEUE, parent as i32, child as i32)
    );
    assert_only_sentinel_left(&mut receiver);
}

#[test]
fn a_subtree_rule_in_the_kernel_relays_each_fork_in_the_subtree_including_later_generations() {
    let mut receiver = Receiver::spawn(signal());
    let gate = Gate::new();
    let outside_gate = Gate::new();
    let tree = Chain::start(&gate, 3);
    let outside = Chain::start(&outside_gate, 3);
    let root = tree.pid();
    let relay = relay_in_kernel(&[
        "--to",
        &receiver.pid().to_string(),
        "--subtree",
        &root.to_string(),
    ]);
    gate.open();
    outside_gate.open();
    let (born, _) = tree.finish();
    outside.finish();
    let Finished { status, stderr, .. } = relay.finish();
    assert!(status.success(), "{stderr:?}");
    said_in_kernel(&stderr);
    assert!(
        stderr
            .iter()
            .any(|l| l.contains("subtree events: following in the kernel")),
        "{stderr:?}"
    );
    assert!(
        stderr
            .iter()
            .any(|l| l.contains("3 events relayed, 3 signals sent, 0 undelivered")),
        "{stderr:?}"
    );
    for (child, parent) in born {
        let got = receiver.next(GUARD).expect("a signal per fork");
        assert_eq!((got.signo, got.code), (signal(), libc::SI_KERNEL));
        assert_eq!((got.value, got.value_high), (child as i32, parent as i32));
    }
    assert_only_sentinel_left(&mut receiver);
}
