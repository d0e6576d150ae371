//! `forkwatch-tui events` as a user runs it: the real binary, the real kernel.

#[path = "common/long_path.rs"]
mod long_path;
#[path = "common/nobody.rs"]
mod nobody;
#[path = "common/program_copy.rs"]
mod program_copy;

use std::{
    io::{BufRead, BufReader, Read},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use forkwatch::event::{Event, ExitStatus, Kind};
use forkwatch_abi::FILENAME_CAP;
use long_path::LongPath;
use nobody::Nobody;

const BIN: &str = env!("CARGO_BIN_EXE_forkwatch-tui");

/// Starts `events` with `args` and returns once it says it is watching with eBPF.
fn start_events(args: &[&str]) -> (Child, BufReader<std::process::ChildStderr>) {
    start_events_with("eBPF", args)
}

/// Starts `events` with `args` and returns once it says it is watching with `backend`.
fn start_events_with(
    backend: &str,
    args: &[&str],
) -> (Child, BufReader<std::process::ChildStderr>) {
    let mut child = Command::new(BIN)
        .arg("events")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(
        line.contains(&format!("watching with {backend}")),
        "unexpected: {line}"
    );
    (child, stderr)
}

/// Sends SIGINT and returns (stdout, the rest of stderr, exit code).
fn interrupt(mut child: Child, mut stderr: impl Read) -> (String, String, Option<i32>) {
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let mut err = String::new();
    stderr.read_to_string(&mut err).unwrap();
    (out, err, child.wait().unwrap().code())
}

/// Runs a command and waits until its exit is surely in the kernel's ring buffer.
fn run_and_reap(cmd: &mut Command) -> u32 {
    let mut child = cmd.spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

#[test]
fn json_lines_of_the_chosen_kinds_then_a_summary_on_ctrl_c() {
    let (child, stderr) = start_events(&["--json", "--kinds", "fork,exit"]);
    let pid = run_and_reap(Command::new("/bin/sh").args(["-c", "exit 3"]));
    // The exit is queued in the kernel by now; SIGINT must still write it.
    let (out, err, code) = interrupt(child, stderr);
    assert_eq!(code, Some(0), "{err}");

    let events: Vec<Event> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        events
            .iter()
            .all(|e| matches!(e.kind, Kind::Fork | Kind::Exit(..) | Kind::Lost { .. })),
        "only fork, exit (and loss reports) are printed"
    );
    let mine: Vec<&Event> = events.iter().filter(|e| e.pid == pid).collect();
    assert_eq!(mine.len(), 2, "{mine:#?}");
    assert_eq!(mine[0].kind, Kind::Fork);
    let Kind::Exit(status, Some(_)) = mine[1].kind else {
        panic!("not an exit with usage: {:#?}", mine[1]);
    };
    assert_eq!(status, ExitStatus::Code(3));

    // The raw JSON has the documented fields, with `signal` null on a normal exit.
    let exit_line = out
        .lines()
        .find(|l| l.contains(&format!("\"pid\":{pid},")) && l.contains("\"kind\":\"exit\""))
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(exit_line).unwrap();
    for field in ["ts_ns", "pid", "tid", "ppid", "comm", "exit_code", "signal"] {
        assert!(v.get(field).is_some(), "{field} missing from {exit_line}");
    }
    assert!(v["signal"].is_null());
    for field in USAGE_FIELDS {
        assert!(v[field].is_u64(), "{field} is not a count in {exit_line}");
    }
    assert!(v["max_rss_bytes"].as_u64() > Some(0), "{exit_line}");

    let summary = err.lines().last().unwrap();
    let forks = events.iter().filter(|e| e.kind == Kind::Fork).count();
    assert!(
        summary.contains(&format!("fork {forks}")) && summary.ends_with(" lost"),
        "{summary}"
    );
}

/// The JSON fields of what the kernel accounted to a process that exited.
const USAGE_FIELDS: [&str; 7] = [
    "cpu_user_ns",
    "cpu_system_ns",
    "max_rss_bytes",
    "read_bytes",
    "write_bytes",
    "voluntary_switches",
    "involuntary_switches",
];

/// The proc connector tells no usage: an exit's usage fields are there, and null.
#[test]
fn netlink_exits_have_null_usage() {
    let (child, stderr) = start_events_with("netlink", &["--backend", "netlink", "--json"]);
    let pid = run_and_reap(Command::new("/bin/sh").args(["-c", "exit 4"]));
    let (out, err, code) = interrupt(child, stderr);
    assert_eq!(code, Some(0), "{err}");
    let exit_line = out
        .lines()
        .find(|l| l.contains(&format!("\"pid\":{pid},")) && l.contains("\"kind\":\"exit\""))
        .unwrap_or_else(|| panic!("no exit of {pid} in:\n{out}"));
    let v: serde_json::Value = serde_json::from_str(exit_line).unwrap();
    assert_eq!(v["exit_code"], 4);
    for field in USAGE_FIELDS {
        assert!(
            v.get(field).is_some_and(serde_json::Value::is_null),
            "{field} is not null in {exit_line}"
        );
    }
}

/// `--schema otel`: this machine's host name, and ancestors known from /proc for the
/// processes alive before `events` started (this test, and pid 1 above it).
#[test]
fn otel_records_name_the_host_and_ancestors_back_to_pid_1() {
    let kinds = ["--kinds", "fork,exit"];
    let (child, stderr) = start_events(&[&["--json", "--schema", "otel"][..], &kinds].concat());
    let outer = run_and_reap(Command::new("/bin/sh").args(["-c", "sh -c 'exit 3'; true"]));
    let (out, err, code) = interrupt(child, stderr);
    assert_eq!(code, Some(0), "{err}");
    let records: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let host = host.trim();
    let of = |kind: &str, pid: &serde_json::Value| {
        let found = records
            .iter()
            .find(|r| r["forkwatch.event.kind"] == kind && r["process.pid"] == *pid);
        found.unwrap_or_else(|| panic!("no {kind} of {pid}"))
    };
    let outer_id = &of("fork", &outer.into())["forkwatch.process.id"];
    let inner = records
        .iter()
        .find(|r| r["forkwatch.parent.id"] == *outer_id && r["forkwatch.event.kind"] == "fork")
        .expect("the inner shell's fork");
    assert_eq!(inner["host.name"], host);
    assert_eq!(inner["process.parent_pid"], outer);
    let exit = of("exit", &inner["process.pid"]);
    assert_eq!(exit["process.exit.code"], 3);
    assert!(
        exit["forkwatch.exit.max_rss_bytes"].as_u64() > Some(0),
        "{exit}"
    );
    assert!(exit["forkwatch.exit.cpu_user_ns"].is_u64(), "{exit}");
    assert_eq!(exit["forkwatch.process.id"], inner["forkwatch.process.id"]);
    let ancestors = inner["forkwatch.process.ancestors"].as_array().unwrap();
    assert_eq!(ancestors.last(), Some(outer_id));
    let test = format!("{host}:{}:", std::process::id());
    assert!(
        ancestors
            .iter()
            .any(|a| a.as_str().unwrap().starts_with(&test)),
        "{ancestors:?}"
    );
    let init = format!("{host}:1:");
    assert!(
        ancestors[0].as_str().unwrap().starts_with(&init),
        "{ancestors:?}"
    );
}

#[test]
fn text_lines_and_a_duration_that_ends_the_run() {
    let started = Instant::now();
    let (child, mut stderr) = start_events(&["--duration", "2"]);
    let pid = run_and_reap(Command::new("/bin/echo").args(["forkwatch", "text test"]));
    let output = child.wait_with_output().unwrap();
    let mut err = String::new();
    stderr.read_to_string(&mut err).unwrap();
    assert!(output.status.success(), "{err}");
    assert!(started.elapsed() >= Duration::from_secs(2));
    let out = String::from_utf8(output.stdout).unwrap();
    let exec = out
        .lines()
        .find(|l| l.contains(" exec ") && l.contains(&format!("pid={pid} ")))
        .unwrap_or_else(|| panic!("no exec line for {pid} in:\n{out}"));
    assert!(
        exec.ends_with("comm=echo file=/bin/echo argv: /bin/echo forkwatch 'text test'"),
        "{exec}"
    );
    let exit = out
        .lines()
        .find(|l| l.contains(" exit ") && l.contains(&format!("pid={pid} ")))
        .unwrap_or_else(|| panic!("no exit line for {pid} in:\n{out}"));
    assert!(
        exit.contains(" cpu=") && exit.contains(" user=") && exit.contains(" maxrss="),
        "{exit}"
    );
    assert!(err.contains(" events ("), "{err}");
}

/// A file name longer than the probe keeps shows cut, and says so.
#[test]
fn a_cut_file_name_says_so() {
    let (child, stderr) = start_events(&["--kinds", "exec"]);
    let long = LongPath::to_true(FILENAME_CAP + 200);
    let pid = run_and_reap(&mut Command::new(&long.path));
    let (out, err, code) = interrupt(child, stderr);
    assert_eq!(code, Some(0), "{err}");
    let exec = out
        .lines()
        .find(|l| l.contains(&format!(" pid={pid} ")))
        .unwrap_or_else(|| panic!("no exec line for {pid} in:\n{out}"));
    let kept = std::str::from_utf8(&long.bytes()[..FILENAME_CAP - 1]).unwrap();
    assert!(
        exec.contains(&format!(" file={kept} [file name truncated] argv: ")),
        "{exec}"
    );
}

/// The whole stderr of a run that must fail, and its exit code.
fn failure(cmd: &mut Command) -> (String, Option<i32>) {
    let out = cmd.stdout(Stdio::null()).output().unwrap();
    (String::from_utf8(out.stderr).unwrap(), out.status.code())
}

fn assert_one_line(stderr: &str, expected: &str) {
    assert_eq!(stderr.lines().count(), 1, "one line expected: {stderr}");
    assert!(
        stderr.starts_with("forkwatch-tui: ") && stderr.contains(expected),
        "{stderr}"
    );
}

/// Without privileges `--backend auto` falls back (tests/backends.rs); asking for eBPF by
/// name is refused.
#[test]
fn without_privileges_the_ebpf_backend_says_so_in_one_line() {
    let nobody = Nobody::with(&[BIN]);
    let (err, code) =
        failure(
            nobody
                .command(&[], "forkwatch-tui")
                .args(["events", "--backend", "ebpf"]),
        );
    assert_eq!(code, Some(1));
    assert_one_line(&err, "needs root, or CAP_BPF and CAP_PERFMON");
    assert!(err.contains("the eBPF backend cannot run: "), "{err}");

    let (err, code) =
        failure(Command::new("unshare").args(["-Ur", BIN, "events", "--backend", "ebpf"]));
    assert_eq!(code, Some(1));
    assert_one_line(&err, "runs in a user namespace");
}

#[test]
fn unmountable_tracefs_is_one_line() {
    // In a private mount namespace tracefs is hidden, and without CAP_SYS_ADMIN (but with
    // CAP_BPF and CAP_PERFMON) it cannot be mounted again.
    let script = format!(
        "mount -t tmpfs none /sys/kernel/tracing && exec setpriv --bounding-set=-sys_admin --inh-caps=-all {BIN} events --backend ebpf"
    );
    let (err, code) = failure(Command::new("unshare").args(["-m", "sh", "-c", &script]));
    assert_eq!(code, Some(1));
    assert_one_line(
        &err,
        "tracefs is not mounted at /sys/kernel/tracing and mounting it failed",
    );
}

#[test]
fn bad_arguments_are_refused_before_anything_loads() {
    let (err, code) = failure(Command::new(BIN).args(["events", "--kinds", "fork,spawn"]));
    assert_eq!(code, Some(2));
    assert!(err.contains("unknown event kind `spawn`"), "{err}");
    let (err, code) = failure(Command::new(BIN).args(["events", "--schema", "otel"]));
    assert_eq!(code, Some(2));
    assert!(err.contains("--json"), "{err}");
    let (err, code) = failure(Command::new(BIN).args(["events", "--duration=-1"]));
    assert_eq!(code, Some(2));
    assert!(err.contains("not a positive number of seconds"), "{err}");
    let (err, code) = failure(Command::new(BIN).args(["--buffer-mib", "3", "events"]));
    assert_eq!(code, Some(1));
    assert_one_line(&err, "must be a power of two");
    // A socket buffer may have any size: the proc connector takes 3 MiB.
    let out = Command::new(BIN)
        .args(["--buffer-mib", "3", "events", "--backend", "netlink"])
        .args(["--duration", "0.2"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}
