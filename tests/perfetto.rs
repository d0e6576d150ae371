//! The Perfetto export (`record --perfetto`, `replay --perfetto`) and the critical path
//! (`watch`'s end, `replay --critical-path`), with the real binary and real processes.

// Only the checksum and the number patching serve here.
#[allow(dead_code)]
#[path = "common/frames.rs"]
mod frames;
#[allow(dead_code)]
#[path = "common/perfetto.rs"]
mod perfetto;
#[allow(dead_code)]
#[path = "common/running.rs"]
mod running;
#[allow(dead_code)]
#[path = "common/trees.rs"]
mod trees;

use std::{
    path::Path,
    process::{Command, Output, Stdio},
};

use forkwatch::{
    event::{Argv, Comm, Creds, Event, Kind, PID_MAX_LIMIT},
    proc::snapshot::ProcessInfo,
    recording::{Info, Writer},
};
use running::{Finished, Running};
use trees::Gate;

const BIN: &str = env!("CARGO_BIN_EXE_forkwatch-tui");
/// What `record` says once it records.
const RECORDING: &str = "stop with Ctrl-C";

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

/// Ctrl-C to a running `record`, then what it said.
fn interrupt(record: Running) -> Finished {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(record.pid() as i32, libc::SIGINT) };
    record.finish()
}

/// A shell that waits at `gate`, then runs `script`; its pid is the root of the tree.
fn gated_shell(gate: &Gate, script: &str) -> std::process::Child {
    Command::new("sh")
        .args([
            "-c",
            &format!("read go < \"$1\"; {script}"),
            "sh",
            gate.path(),
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

/// The root runs: `sh -c 'exit 3'`, `setpriv --reuid=65534 true` (a uid change between
/// two execs), and `sh -c 'sleep 0.1 & wait'` (a grandchild).
const SHAPE: &str = "sh -c 'exit 3'; setpriv --reuid=65534 true; sh -c 'sleep 0.1 & wait'";

#[test]
fn a_recorded_tree_exports_with_its_shape_ids_argv_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let recording = dir.path().join("tree.fwrec");
    let exported = dir.path().join("tree.json");
    let (rec, out) = (recording.to_str().unwrap(), exported.to_str().unwrap());
    let gate = Gate::new();
    let mut root = gated_shell(&gate, SHAPE);
    let mut record = Running::start(&["record", "-o", rec, "--perfetto", out]);
    record.wait_for(RECORDING);
    gate.open();
    assert!(root.wait().unwrap().success());
    let finished = interrupt(record);
    assert!(finished.status.success(), "{:?}", finished.stderr);
    assert!(
        finished
            .stderr
            .iter()
            .any(|l| l.contains("trace events to")),
        "{:?}",
        finished.stderr
    );

    let trace = perfetto::read(&exported);
    assert_eq!(trace.duration_us, perfetto::recording_us(&recording));
    let end = trace.lifetimes.iter().map(|l| l.end_us).fold(0.0, f64::max);
    assert!(end <= trace.duration_us, "nothing past the recording's end");
    let root = trace.only(root.id());
    let mut kids = trace.children(root);
    kids.sort_by(|a, b| a.begin_us.total_cmp(&b.begin_us));
    assert_eq!(kids.len(), 3, "{kids:?}");
    for kid in &kids {
        trace.assert_under(kid, root);
    }
    let [exit3, setpriv, waiter] = kids[..] else {
        unreachable!()
    };
    assert_eq!(exit3.argv(), ["sh", "-c", "exit 3"]);
    assert_eq!(exit3.args["exit_code"], 3);
    assert_eq!(exit3.args["ended"], "exit 3");
    assert_eq!(root.args["exit_code"], 0);

    // setpriv changes its uid, then runs true: two execs and an instant between them.
    let programs: Vec<&str> = setpriv.execs.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(programs, ["setpriv", "true"]);
    assert_eq!(setpriv.argv(), ["setpriv", "--reuid=65534", "true"]);
    assert_eq!(setpriv.execs[1].args["creds"]["uid"], 65534);
    let instants = trace.instants(setpriv.track);
    let uid: Vec<&(String, f64)> = instants.iter().filter(|(n, _)| n == "uid 65534").collect();
    assert!(!uid.is_empty(), "{instants:?}");
    assert!(setpriv.execs[0].begin_us <= uid[0].1 && uid[0].1 <= setpriv.execs[1].begin_us);

    let sleeps = trace.children(waiter);
    assert_eq!(sleeps.len(), 1, "{sleeps:?}");
    trace.assert_under(sleeps[0], waiter);
    assert_eq!(sleeps[0].argv(), ["sleep", "0.1"]);
    assert_eq!(trace.subtree(root).len(), 5);

    // The replay writes the very same trace.
    let replayed = dir.path().join("replayed.json");
    let output = run(&["replay", rec, "--perfetto", replayed.to_str().unwrap()]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        std::fs::read(&replayed).unwrap(),
        std::fs::read(&exported).unwrap()
    );
    let mode = std::fs::metadata(&replayed).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
}

#[test]
fn bad_output_paths_and_bad_recordings_are_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink("/etc/passwd-never", &link).unwrap();
    let garbage = dir.path().join("garbage.fwrec");
    std::fs::write(&garbage, "not a recording\n").unwrap();
    let out = dir.path().join("out.json");
    let (out, garbage) = (out.to_str().unwrap(), garbage.to_str().unwrap());
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo.fwrec");
    for (args, says) in [
        (
            vec!["replay", demo, "--perfetto", "/nonexistent/x.json"],
            "cannot create the Perfetto trace /nonexistent/x.json: No such file",
        ),
        (
            vec!["replay", demo, "--perfetto", link.to_str().unwrap()],
            "symbolic link",
        ),
        (
            vec!["record", "-o", out, "--perfetto", "/nonexistent/x.json"],
            "cannot create the Perfetto trace /nonexistent/x.json",
        ),
        (
            vec!["replay", garbage, "--perfetto", out],
            "not a forkwatch recording",
        ),
        (
            vec!["record", "-o", out, "--perfetto", out],
            "it is the recording it is made from",
        ),
        (
            vec!["replay", demo, "--critical-path", "4000000"],
            "no process with pid 4000000",
        ),
    ] {
        let output = run(&args);
        let stderr = String::from_utf8(output.stderr).unwrap();
        let last = stderr.lines().last().unwrap_or_default();
        assert!(!output.status.success(), "{args:?}: {stderr}");
        assert!(last.contains(says), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());

    // The recording itself is refused as the trace, and stays as it was.
    let copy = dir.path().join("copy.fwrec");
    std::fs::copy(demo, &copy).unwrap();
    let copy = copy.to_str().unwrap();
    let output = run(&["replay", copy, "--perfetto", copy]);
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("it is the recording it is made from"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(copy).unwrap(), std::fs::read(demo).unwrap());
}

/// What the root runs (its script) and the middle shell of the chain (its `-c`), with
/// `cat` reading the fifos `first` then `second` as the last process of the chain. The
/// order of the exits is by construction: the root writes `first` once its own
/// `/bin/true` has ended, the middle shell writes `second` once its `/bin/true` has ended,
/// and `cat` ends only after both were written; the middle shell waits for it. So the
/// root's critical path is the middle shell, then `cat`, though `cat` started first.
fn slow_chain(first: &Gate, second: &Gate) -> (String, String) {
    let (first, second) = (first.path(), second.path());
    let middle = format!("cat {first} {second} & /bin/true; echo go > {second}; wait");
    let root = format!("sh -c '{middle}' & /bin/true; echo go > {first}; wait");
    (root, middle)
}

#[test]
fn watch_and_replay_name_the_chain_that_ended_last() {
    let dir = tempfile::tempdir().unwrap();
    let recording = dir.path().join("chain.fwrec");
    let rec = recording.to_str().unwrap();
    let gate = Gate::new();
    let (first, second) = (Gate::new(), Gate::new());
    let (script, middle_script) = slow_chain(&first, &second);
    let mut root = gated_shell(&gate, &script);
    let root_pid = root.id();
    let mut watch = Running::start(&["watch", &root_pid.to_string(), "--json"]);
    let mut record = Running::start(&["record", "-o", rec]);
    watch.wait_for("and its descendants with");
    record.wait_for(RECORDING);
    gate.open();
    assert!(root.wait().unwrap().success());
    let watched = watch.finish();
    assert!(watched.status.success(), "{:?}", watched.stderr);
    interrupt(record);

    // Who is who, from the exec events watch printed.
    let execs: Vec<Event> = watched
        .stdout
        .lines()
        .filter(|l| !l.starts_with(r#"{"kind":"totals","#))
        .map(|l| serde_json::from_str::<Event>(l).unwrap())
        .filter(|e| e.kind_name().as_str() == "exec")
        .collect();
    let pid_running = |argv: &[&str]| {
        let found: Vec<u32> = execs
            .iter()
            .filter(
                |e| matches!(&e.kind, forkwatch::event::Kind::Exec { argv: a, .. } if a == argv),
            )
            .map(|e| e.pid)
            .collect();
        assert_eq!(found.len(), 1, "{argv:?} in {execs:?}");
        found[0]
    };
    let middle = pid_running(&["sh", "-c", &middle_script]);
    let slow = pid_running(&["cat", first.path(), second.path()]);

    let chain_in = |lines: &[String]| -> Vec<u32> {
        let at = lines
            .iter()
            .position(|l| {
                l.contains(&format!(
                    "critical path of pid {root_pid} (sh): 3 processes"
                ))
            })
            .unwrap_or_else(|| panic!("no critical path in {lines:?}"));
        lines[at + 1..at + 4]
            .iter()
            .map(|l| {
                let l = l.trim_start_matches("forkwatch-tui: ");
                l.split(' ').next().unwrap().parse().unwrap()
            })
            .collect()
    };
    assert_eq!(chain_in(&watched.stderr), [root_pid, middle, slow]);
    let slow_line = watched
        .stderr
        .iter()
        .find(|l| l.contains(&format!("{slow} cat: ")))
        .unwrap();
    assert!(
        slow_line.contains(", exit 0; its parent ended "),
        "{slow_line}"
    );

    let output = run(&["replay", rec, "--critical-path", &root_pid.to_string()]);
    assert!(output.status.success(), "{output:?}");
    let stdout: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(chain_in(&stdout), [root_pid, middle, slow]);
}

/// The shipped demo is a recorded `make -j2` of a dozen C files.
#[test]
fn a_recorded_make_exports_one_lifetime_per_process_nested_by_parent() {
    let demo = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo.fwrec"));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo.json");
    let output = run(&[
        "replay",
        demo.to_str().unwrap(),
        "--perfetto",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{output:?}");

    let trace = perfetto::read(&out);
    assert_eq!(trace.duration_us, perfetto::recording_us(demo));
    let makes: Vec<&perfetto::Lifetime> = (trace.lifetimes.iter())
        .filter(|l| l.execs.iter().any(|e| e.name == "make"))
        .collect();
    let [make] = makes[..] else {
        panic!("one make: {makes:?}")
    };
    let subtree = trace.subtree(make);
    let mut pids: Vec<u32> = subtree.iter().map(|l| l.pid).collect();
    let mut expected = perfetto::forked_below(demo, make.pid);
    pids.sort();
    expected.sort();
    assert_eq!(pids, expected, "one lifetime per process of the build");
    for parent in &subtree {
        for child in trace.children(parent) {
            trace.assert_under(child, parent);
        }
    }
    let compilers = (subtree.iter().flat_map(|l| &l.execs))
        .filter(|e| e.name == "cc1")
        .count();
    assert_eq!(compilers, 13, "twelve files and main.c");
    assert!(subtree.iter().all(|l| l.args["ended"] == "exit 0"));
}

const CRAFTED_START_NS: u64 = 5_000_000_000;
const S: u64 = 1_000_000_000;

/// A process of a crafted snapshot, started a second before the recording.
fn crafted_process(pid: u32, comm: &str) -> ProcessInfo {
    ProcessInfo {
        pid,
        ppid: 1,
        start_ns: CRAFTED_START_NS - S,
        comm: Comm::from(comm),
        argv: Argv::from_args([comm]),
        argv_truncated: false,
        creds: Creds::default(),
        state: 'S',
        kernel_thread: false,
        threads: 1,
        pid_ns: None,
        cgroup: None,
        sampled: None,
    }
}

/// A fork of `pid` (a child of 300) at `ts_ns`.
fn crafted_fork(pid: u32, ts_ns: u64) -> Event {
    Event {
        ts_ns,
        pid,
        tid: pid,
        ppid: 300,
        start_ns: ts_ns,
        comm: Comm::from("late"),
        creds: Some(Creds::default()),
        cgroup_id: None,
        pid_ns: None,
        cgroup: None,
        kernel_thread: false,
        kind: Kind::Fork,
    }
}

/// A recording no kernel would make: its snapshot holds pid 300 twice and pid 4194304
/// (the id of the recording's own track); then a fork of 4194304, and a fork 2 s in, past
/// the end of 1 s its end frame states, in an events frame whose header says it ends at
/// 0.5 s.
fn crafted_recording() -> Vec<u8> {
    let info = Info {
        host: "crafted".into(),
        kernel: "6.18.0".into(),
        backend: "eBPF".into(),
        wall_clock_offset_ns: 1_763_000_000_000_000_000,
        start_ns: CRAFTED_START_NS,
        recorder: "a test".into(),
        hosts: Vec::new(),
    };
    let snapshot = [
        crafted_process(300, "first"),
        crafted_process(300, "again"),
        crafted_process(PID_MAX_LIMIT, "impossible"),
    ];
    let mut writer = Writer::new(Vec::new(), &info, &snapshot).unwrap();
    let half = CRAFTED_START_NS + S / 2;
    writer.push(&crafted_fork(PID_MAX_LIMIT, half)).unwrap();
    writer
        .push(&crafted_fork(400, CRAFTED_START_NS + 2 * S))
        .unwrap();
    writer.write_events().unwrap();
    writer.finish(CRAFTED_START_NS + S).unwrap();
    let mut bytes = writer.into_inner();
    // After the 12-byte file header, frame by frame to the events frame (type 3); its
    // largest event time is at byte 28 of its header.
    let mut at = 12;
    while bytes[at + 4] != 3 {
        let stored = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap());
        at += frames::HEADER_LEN + stored as usize;
    }
    bytes[at + 28..at + 36].copy_from_slice(&half.to_le_bytes());
    frames::set_crc(&mut bytes, at);
    bytes
}

/// The export of [`crafted_recording`] skips the repeated and the impossible pid, ends
/// every slice where it began or later, and lasts to the last event.
#[test]
fn a_crafted_recording_exports_every_slice_ended_within_the_recording() {
    let dir = tempfile::tempdir().unwrap();
    let recording = dir.path().join("crafted.fwrec");
    std::fs::write(&recording, crafted_recording()).unwrap();
    let exported = dir.path().join("crafted.json");
    let output = run(&[
        "replay",
        recording.to_str().unwrap(),
        "--perfetto",
        exported.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{output:?}");

    // `read` checks that every slice ends, and no earlier than it began.
    let trace = perfetto::read(&exported);
    assert_eq!(trace.duration_us, 2_000_000.0, "to the last event");
    let pids: Vec<u32> = trace.lifetimes.iter().map(|l| l.pid).collect();
    assert_eq!(pids, [300, 400], "{:?}", trace.lifetimes);
    assert_eq!(trace.only(300).argv(), ["first"]);
    let recording_track = Some(u64::from(PID_MAX_LIMIT));
    let on_it: Vec<&serde_json::Value> = (trace.events.iter())
        .filter(|e| e["pid"].as_u64() == recording_track || e["tid"].as_u64() == recording_track)
        .filter(|e| e["name"] != "recording" && e["args"]["name"] != "recording")
        .collect();
    assert!(on_it.is_empty(), "{on_it:?}");
}
