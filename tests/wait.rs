//! `forkwatch-tui wait`: the real binary waiting for processes that are not its children.

#[path = "common/lines.rs"]
mod lines;
#[path = "common/nobody.rs"]
mod nobody;
// Only its gate serves here.
#[path = "common/program_copy.rs"]
mod program_copy;
#[allow(dead_code)]
#[path = "common/trees.rs"]
mod trees;

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

use lines::{lines, next_line};
use nobody::Nobody;
use trees::Gate;

const BIN: &str = env!("CARGO_BIN_EXE_forkwatch-tui");

/// Runs `forkwatch-tui wait` on `pids`; a run that is still waiting after 30 s fails the
/// test instead of hanging it.
fn wait_for(pids: &[u32], extra: &[&str]) -> Output {
    finish_within_30s(
        Command::new(BIN)
            .arg("wait")
            .args(pids.iter().map(u32::to_string))
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    )
}

fn finish_within_30s(mut child: std::process::Child) -> Output {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(30) {
            child.kill().unwrap();
            panic!(
                "wait was still waiting after 30 s: {:?}",
                child.wait_with_output()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_non_child_that_exits_7_makes_wait_return_7() {
    let mut target = Command::new("/bin/sh")
        .args(["-c", "sleep 1; exit 7"])
        .spawn()
        .unwrap();
    let out = wait_for(&[target.id()], &[]);
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    assert_eq!(stdout(&out), format!("{} (sh): exit 7\n", target.id()));
    target.wait().unwrap();
}

#[test]
fn a_sigterm_makes_wait_return_143() {
    let mut target = Command::new("sleep").arg("60").spawn().unwrap();
    let mut waiter = Command::new(BIN)
        .args(["wait", &target.id().to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    BufReader::new(waiter.stderr.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert!(ready.contains("waiting for 1 process"), "{ready}");
    // SAFETY: signalling our own child.
    unsafe { libc::kill(target.id() as i32, libc::SIGTERM) };
    let out = finish_within_30s(waiter);
    assert_eq!(out.status.code(), Some(143));
    assert_eq!(
        stdout(&out),
        format!("{} (sleep): killed by SIGTERM\n", target.id())
    );
    target.wait().unwrap();
}

#[test]
fn a_pid_without_a_process_is_127_and_one_line() {
    let out = wait_for(&[4_000_000], &[]);
    assert_eq!(out.status.code(), Some(127));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "forkwatch-tui: no process with pid 4000000\n"
    );
}

#[test]
fn a_process_already_dead_when_checked_is_reported_not_waited_on() {
    // Exited before wait starts, not yet reaped: its exit happened before any source ran.
    let mut target = Command::new("/bin/sh")
        .args(["-c", "exit 9"])
        .spawn()
        .unwrap();
    let stat = format!("/proc/{}/stat", target.id());
    let started = Instant::now();
    while !std::fs::read_to_string(&stat).unwrap().contains(") Z ") {
        assert!(started.elapsed() < Duration::from_secs(10), "no zombie");
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = wait_for(&[target.id()], &[]);
    assert_eq!(out.status.code(), Some(9), "{out:?}");
    assert_eq!(stdout(&out), format!("{} (sh): exit 9\n", target.id()));
    target.wait().unwrap();
}

#[test]
fn several_pids_are_each_reported_and_the_last_listed_gives_the_status() {
    // Both wait at a gate until `wait` watches them, so that they end in the order chosen
    // here however long `wait` takes to start.
    let (slow_gate, fast_gate) = (Gate::new(), Gate::new());
    let mut slow = exit_at(&slow_gate, 3);
    let mut fast = exit_at(&fast_gate, 4);
    let mut waiter = Command::new(BIN)
        .args(["wait", &slow.id().to_string(), &fast.id().to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let notices = lines(waiter.stderr.take().unwrap());
    let reports = lines(waiter.stdout.take().unwrap());
    let ready = next_line(&notices, "start-up line");
    assert!(ready.contains("waiting for 2 processes"), "{ready}");
    fast_gate.open();
    // The slow one ends only once the fast one is reported.
    let first = next_line(&reports, "report of the fast one");
    slow_gate.open();
    let out = finish_within_30s(waiter);
    // The reader ends at EOF, closing the channel.
    let reported: String = std::iter::once(first)
        .chain(reports.iter())
        .map(|line| line + "\n")
        .collect();
    // Like the shell's `wait A B`: the status of B, the last one named.
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(
        reported,
        format!("{} (sh): exit 4\n{} (sh): exit 3\n", fast.id(), slow.id()),
        "reported in the order they ended"
    );
    slow.wait().unwrap();
    fast.wait().unwrap();
}

/// A shell that exits `code` once its gate opens.
fn exit_at(gate: &Gate, code: u8) -> Child {
    Command::new("/bin/sh")
        .args(["-c", &format!(r#"read go < "$1"; exit {code}"#), "sh"])
        .arg(gate.path())
        .spawn()
        .unwrap()
}

#[test]
fn an_unprivileged_user_can_wait_too() {
    let nobody = Nobody::with(&[BIN]);
    let mut target = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .args(["/bin/sh", "-c", "sleep 1; exit 6"])
        .spawn()
        .unwrap();
    let out = finish_within_30s(
        nobody
            .command(&[], "forkwatch-tui")
            .args(["wait", &target.id().to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    assert_eq!(out.status.code(), Some(6), "{out:?}");
    assert_eq!(stdout(&out), format!("{} (sh): exit 6\n", target.id()));
    target.wait().unwrap();
}
