//! `--cgroup` against the real kernel: `events`, `record` and `relay` run at once while a
//! process lives in a freshly made cgroup and another outside it; each gives exactly the
//! events of the cgroup's processes.

// The pid namespace's parts serve tests/namespaces.rs.
#[allow(dead_code)]
#[path = "common/contained.rs"]
mod contained;
// Only the receiver's part of it is used here.
#[allow(dead_code)]
#[path = "common/holder.rs"]
mod holder;
#[allow(dead_code)]
#[path = "common/receiver.rs"]
mod receiver;
// Some of it serves tests/watch.rs only.
#[allow(dead_code)]
#[path = "common/running.rs"]
mod running;
#[allow(dead_code)]
#[path = "common/tmux.rs"]
mod tmux;

use std::{collections::BTreeSet, process::Command};

use contained::{Cgroup, Contained};
use forkwatch::{
    event::{CgroupPath, Event, Kind},
    recording::Reader,
    source::cgroups,
    tracker::rules::RtSignal,
};
use receiver::Receiver;
use running::{Finished, GUARD, Running};
use tmux::Tmux;

/// Interrupts a command as Ctrl-C would, and waits for it to end.
fn interrupt(running: Running) -> Finished {
    // SAFETY: signalling our own child.
    unsafe { libc::kill(running.pid() as libc::pid_t, libc::SIGINT) };
    let finished = running.finish();
    assert!(finished.status.success(), "{:?}", finished.stderr);
    finished
}

fn events_of(json: &str) -> Vec<Event> {
    json.lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .filter(|e: &Event| !matches!(e.kind, Kind::Lost { .. }))
        .collect()
}

#[test]
fn events_record_and_relay_of_a_cgroup_are_exactly_its_processes() {
    let root = cgroups::cgroup2_mount().expect("cgroup v2 is mounted on this machine");
    let cgroup = Cgroup::new(&root, "place");
    let path = cgroup.path();
    let signal = RtSignal::default().number();
    let mut receiver = Receiver::spawn(signal);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("place.fwrec");

    let mut events = Running::start(&["events", "--json", "--cgroup", &path]);
    events.wait_for("watching with eBPF");
    let mut record = Running::start(&["record", "-o", file.to_str().unwrap(), "--cgroup", &path]);
    record.wait_for("recording with eBPF");
    let to = receiver.pid().to_string();
    let relay_args = ["relay", "--to", &to, "--kinds", "exec", "--cgroup", &path];
    let mut relay = Running::start(&relay_args);
    relay.wait_for("relaying with eBPF");

    let mut outside = Command::new("true").spawn().unwrap();
    let outsider = outside.id();
    outside.wait().unwrap();
    let contained = Contained::start(&cgroup, "fw-place");
    let outer = contained.outer();
    contained.finish();
    // What the kernel queued before the interrupt is still read.
    let printed = events_of(&interrupt(events).stdout);
    let recorded = interrupt(record);
    let relayed = interrupt(relay);

    let wanted = CgroupPath::from(path.as_str());
    assert!(
        printed.iter().all(|e| e.cgroup.as_ref() == Some(&wanted)),
        "{printed:#?}"
    );
    let pids: BTreeSet<u32> = printed.iter().map(|e| e.pid).collect();
    assert!(pids.contains(&outer), "the process moved in: {pids:?}");
    assert!(pids.len() >= 2, "and the namespace's pid 1: {pids:?}");
    assert!(!pids.contains(&outsider), "{pids:?}");
    let exit_of_outer = printed
        .iter()
        .any(|e| e.pid == outer && matches!(e.kind, Kind::Exit(..)));
    assert!(exit_of_outer, "{printed:#?}");

    // The recording holds the same events, and a snapshot of the cgroup only (empty: its
    // directory was made for the test).
    let replay = Command::new(env!("CARGO_BIN_EXE_forkwatch-tui"))
        .args(["replay", "--json", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(replay.status.success(), "{:?}", recorded.stderr);
    // Each command loaded its own probe, which dated the event itself.
    let undated = |events: &[Event]| -> Vec<Event> {
        let undated = |e: &Event| Event {
            ts_ns: 0,
            ..e.clone()
        };
        events.iter().map(undated).collect()
    };
    let replayed = events_of(&String::from_utf8(replay.stdout).unwrap());
    assert_eq!(undated(&replayed), undated(&printed));
    let reader = Reader::open(&file).unwrap();
    assert_eq!(reader.snapshot(), []);

    // One signal per exec in the cgroup, each naming its process in si_value.
    let execs: Vec<i32> = (printed.iter())
        .filter(|e| matches!(e.kind, Kind::Exec { .. }))
        .map(|e| e.pid as i32)
        .collect();
    assert!(!execs.is_empty());
    let got: Vec<i32> = execs
        .iter()
        .map(|_| receiver.next(GUARD).expect("a signal per exec").value)
        .collect();
    assert_eq!(got, execs, "{:?}", relayed.stderr);
    let sentinel = libc::sigval {
        sival_ptr: usize::MAX as *mut libc::c_void,
    };
    // SAFETY: sigqueue to our own child.
    let queued = unsafe { libc::sigqueue(receiver.pid() as libc::pid_t, signal, sentinel) };
    assert_eq!(queued, 0);
    let next = receiver.next(GUARD).expect("the sentinel");
    assert_eq!(next.value, -1, "the relay sent more than one per exec");
}

/// The real UI with `--cgroup`: the cgroup's processes, and of the rest only their
/// ancestors.
#[test]
fn the_ui_with_a_cgroup_shows_its_processes_and_not_the_others() {
    let root = cgroups::cgroup2_mount().expect("cgroup v2 is mounted on this machine");
    let cgroup = Cgroup::new(&root, "place-ui");
    // A sibling outside the cgroup, which the UI must leave out.
    let mut outsider = Command::new("sleep").arg("3601").spawn().unwrap();
    let tmux = Tmux::start_sized("place-ui", 160, 50);
    // The directory's name holds an escape sequence: a glob passes it.
    let dir = cgroup.dir.to_str().unwrap().replace('\u{1b}', "?");
    tmux.start_ui(&format!("--backend ebpf --cgroup {dir}"));
    let contained = Contained::start(&cgroup, "fw-place-ui");
    let screen = tmux.wait_for("the contained processes", |s| {
        s.contains("read line fw-place-ui") && s.contains("unshare --pid")
    });
    assert!(
        screen.contains("cgroup /fw-place-ui-"),
        "the status line:\n{screen}"
    );
    // The whole tree fits on the screen, so what is not on it is not in the tree.
    let rows = (screen.lines())
        .filter(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| w.parse::<u32>().is_ok())
        })
        .count();
    assert!(rows < 40, "{screen}");
    assert!(!screen.contains("sleep 3601"), "{screen}");
    assert!(!screen.contains("\u{1b}[1m"), "the name is shown escaped");
    tmux.key("q");
    tmux.assert_restored(env!("CARGO_BIN_EXE_forkwatch-tui"));
    contained.finish();
    outsider.kill().unwrap();
    outsider.wait().unwrap();
}
