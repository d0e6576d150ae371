//! Streams: `record -o -` through a real pipe into `replay -`, headless and in the UI
//! under tmux, `replay --follow` of a file being recorded, and the inputs refused.

#[path = "common/lines.rs"]
mod lines;
#[allow(dead_code)]
#[path = "common/tmux.rs"]
mod tmux;

use std::{
    collections::HashMap,
    fs::File,
    io::Read,
    path::Path,
    process::{Child, ChildStdout, Command, Output, Stdio},
    sync::mpsc,
};

use lines::{lines, next_line};
use serde_json::Value;
use tmux::Tmux;

const BIN: &str = env!("CARGO_BIN_EXE_forkwatch-tui");
const WORKLOAD: &str = env!("CARGO_BIN_EXE_forkwatch-workload");

/// One test at a time: each loads a probe, and the storm is the measure of the pipe.
static ALONE: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn alone() -> std::sync::MutexGuard<'static, ()> {
    ALONE.lock().unwrap_or_else(|e| e.into_inner())
}

/// `record -o -` started, its stdout a pipe; its stderr lines, read once it is recording.
/// Without samples: the viewers here print events as `replay --json` does, which leaves
/// samples out, and the counts they show are compared with the recorder's.
fn recorder() -> (Child, ChildStdout, mpsc::Receiver<String>) {
    let mut child = Command::new(BIN)
        .args(["record", "-o", "-", "--sample-interval", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let said = lines(child.stderr.take().unwrap());
    let stdout = child.stdout.take().unwrap();
    (child, stdout, said)
}

fn wait_recording(said: &mpsc::Receiver<String>) {
    let line = next_line(said, "recorder's first line");
    assert!(line.contains("recording with"), "{line}");
}

fn signal(child: &Child, signal: i32) {
    // SAFETY: kill has no memory-safety preconditions; the child is ours.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
}

/// The events of JSON lines.
fn events(json: &str) -> Vec<Value> {
    json.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The number of events in a summary line: `recorded 123 events (...)`, `123 events (...)`.
fn counted(line: &str) -> u64 {
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "events").expect(line);
    words[at - 1].parse().expect(line)
}

#[test]
fn a_stream_through_a_pipe_under_a_fork_storm_loses_nothing() {
    let _alone = alone();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.fwrec");
    let (mut record, stream, said) = recorder();
    // tee keeps what went through the pipe, to compare with what the viewer showed.
    let mut tee = Command::new("tee")
        .arg(&copy)
        .stdin(stream)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let viewer = Command::new(BIN)
        .args(["replay", "-", "--json"])
        .stdin(tee.stdout.take().unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_recording(&said);
    // A subtree that is alive at the end, started while the stream runs.
    let mut subtree = Command::new("sh")
        .args(["-c", "sleep 300 & sleep 300 & echo ready; wait"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = [0; 6];
    subtree
        .stdout
        .take()
        .unwrap()
        .read_exact(&mut ready)
        .unwrap();
    let storm = Command::new(WORKLOAD)
        .args(["storm", "--workers", "2", "--seconds", "2"])
        .output()
        .unwrap();
    assert!(storm.status.success());
    let report: Value = serde_json::from_slice(&storm.stdout).unwrap();
    let root = subtree.id().to_string();
    let (live, at) = tree(&["tree", "--json", "--pid", &root]);
    signal(&record, libc::SIGINT);
    assert!(record.wait().unwrap().success());
    let recorded = next_line(&said, "recorder's summary");
    assert!(tee.wait().unwrap().success());
    let viewed = viewer.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&viewed.stderr);
    assert!(viewed.status.success(), "{stderr}");
    assert!(stderr.contains("the stream ended"), "{stderr}");

    let shown = events(&String::from_utf8_lossy(&viewed.stdout));
    assert_nothing_lost(&shown, &copy, &recorded, &report);
    // The viewer's events are the recording's, so the tree they make at the end is the
    // recording's: the live one.
    let copy = copy.to_str().unwrap();
    // At the moment the live tree was taken.
    let (end, _) = tree(&["replay", copy, "--json", "--tree-at", &at, "--pid", &root]);
    assert_eq!(end, live);
    assert_eq!(end.len(), 3, "{end:?}");
    signal(&subtree, libc::SIGKILL);
    subtree.wait().unwrap();
}

/// Everything the recorder wrote (its summary `recorded`, the `copy` tee kept) the viewer
/// `shown`, in order, none lost; and every fork of the storm that `report`ed, under the
/// worker that made it.
fn assert_nothing_lost(shown: &[Value], copy: &Path, recorded: &str, report: &Value) {
    let from_file = Command::new(BIN)
        .args(["replay", "--json"])
        .arg(copy)
        .output()
        .unwrap();
    assert!(from_file.status.success());
    assert_eq!(shown, events(&String::from_utf8_lossy(&from_file.stdout)));
    assert!(recorded.contains(", 0 lost"), "{recorded}");
    assert_eq!(counted(recorded), shown.len() as u64, "{recorded}");
    assert!(!shown.iter().any(|e| e["kind"] == "lost"));
    let mut forks: HashMap<u64, u64> = HashMap::new();
    for event in shown.iter().filter(|e| e["kind"] == "fork") {
        *forks.entry(event["ppid"].as_u64().unwrap()).or_default() += 1;
    }
    let workers = report["workers"].as_array().unwrap();
    for (worker, made) in workers.iter().zip(report["forks"].as_array().unwrap()) {
        let worker = worker.as_u64().unwrap();
        assert_eq!(
            forks.get(&worker),
            made.as_u64().as_ref(),
            "worker {worker}"
        );
    }
}

/// The processes `forkwatch-tui ARGS` prints as a JSON tree (pid, parent, start tick, argv),
/// and the time of day it is of.
fn tree(args: &[&str]) -> (Vec<(u64, u64, u64, Value)>, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
    let tree: Value = serde_json::from_slice(&out.stdout).unwrap();
    let number = |p: &Value, field: &str| p[field].as_u64().unwrap();
    let processes = (tree["processes"].as_array().unwrap().iter())
        .map(|p| {
            // /proc gives start times in clock ticks (10 ms), events to the nanosecond.
            let tick = number(p, "start_ns") / 10_000_000;
            let ids = (number(p, "pid"), number(p, "ppid"), tick);
            (ids.0, ids.1, ids.2, p["argv"].clone())
        })
        .collect();
    (processes, tree["time"].as_str().unwrap().to_owned())
}

/// The UI's status line (the last line of the screen).
fn status(screen: &str) -> &str {
    screen
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
}

/// `replay -` in the UI under tmux, fed by a recorder through a FIFO; the recorder.
fn ui_on_a_stream(tmux: &Tmux, dir: &Path) -> Child {
    let fifo = dir.join("stream");
    let path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: the path is a valid C string.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
    tmux.type_text(&format!("{BIN} replay - < {}", fifo.display()), true);
    // Opening blocks until the shell opened the other end.
    let writer = File::options().write(true).open(&fifo).unwrap();
    let record = Command::new(BIN)
        .args(["record", "-o", "-"])
        .stdout(writer)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    tmux.wait_for("UI", |s| s.contains("PID USER") && s.contains("processes"));
    record
}

#[test]
fn the_ui_on_a_stream_answers_keys_and_says_when_it_broke() {
    let _alone = alone();
    let dir = tempfile::tempdir().unwrap();
    // Wide: the marker's row is deep in the tree, after the resource columns.
    let tmux = Tmux::start_sized("stream-broke", 220, 40);
    let mut record = ui_on_a_stream(&tmux, dir.path());
    tmux.wait_for("arriving", |s| status(s).contains("arriving"));

    // A process started after the stream: found by a search while the stream runs.
    let marker = format!("fwstream{}", std::process::id());
    let mut named = Command::new(WORKLOAD)
        .args(["name", &marker])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = [0; 5];
    named.stdout.take().unwrap().read_exact(&mut ready).unwrap();
    tmux.search_until_shown("the marker, selected", &marker);
    tmux.type_text("s", false);
    tmux.wait_for("paused", |s| status(s).contains("paused"));
    tmux.type_text("s", false);
    tmux.wait_for("playing", |s| !status(s).contains("paused"));

    signal(&record, libc::SIGKILL);
    record.wait().unwrap();
    let screen = tmux.wait_for("stream broke", |s| status(s).contains("stream broke"));
    assert!(screen.contains("PID USER"), "{screen}");
    assert!(screen.contains(&marker), "{screen}");
    drop(named.stdin.take());
    named.wait().unwrap();
    tmux.type_text("q", false);
    tmux.assert_restored(BIN);
}

#[test]
fn the_ui_on_a_stream_says_when_it_ended() {
    let _alone = alone();
    let dir = tempfile::tempdir().unwrap();
    let tmux = Tmux::start("stream-ended");
    let mut record = ui_on_a_stream(&tmux, dir.path());
    signal(&record, libc::SIGINT);
    assert!(record.wait().unwrap().success());
    let screen = tmux.wait_for("stream ended", |s| status(s).contains("stream ended"));
    assert!(screen.contains("PID USER"), "{screen}");
    tmux.type_text("q", false);
    tmux.assert_restored(BIN);
}

#[test]
fn a_followed_recording_shows_events_written_after_it_started() {
    let _alone = alone();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("growing.fwrec");
    let mut record = Command::new(BIN)
        .args(["record", "-o"])
        .arg(&file)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let said = lines(record.stderr.take().unwrap());
    wait_recording(&said);
    let mut follower = Command::new(BIN)
        .args(["replay", "--json", "--follow"])
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let shown = lines(follower.stdout.take().unwrap());
    let follower_said = lines(follower.stderr.take().unwrap());
    next_line(&follower_said, "follower's first line");
    // Started after the follower: its exit arrives through the file.
    let exit = Command::new(WORKLOAD).args(["exit", "7"]).spawn().unwrap();
    let pid = u64::from(exit.id());
    exit.wait_with_output().unwrap();
    loop {
        let event: Value = serde_json::from_str(&next_line(&shown, "the exit")).unwrap();
        if event["kind"] == "exit" && event["pid"] == pid {
            assert_eq!(event["exit_code"], 7);
            break;
        }
    }
    signal(&record, libc::SIGINT);
    assert!(record.wait().unwrap().success());
    assert!(follower.wait().unwrap().success());
    let rest: Vec<String> = follower_said.iter().collect();
    assert!(rest.iter().any(|l| l.contains("ended")), "{rest:?}");
}

fn replay_stdin(input: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .args(["replay", "-", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), input).unwrap();
    child.wait_with_output().unwrap()
}

fn one_line(out: &Output) -> String {
    assert!(!out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(out.stdout.is_empty(), "{out:?}");
    stderr
}

#[test]
fn bad_streams_are_one_line_and_a_failure() {
    let empty = one_line(&replay_stdin(b""));
    assert!(empty.contains("the input is empty"), "{empty}");
    let text = one_line(&replay_stdin(b"{\"kind\":\"fork\"}\n"));
    assert!(text.contains("not a forkwatch recording"), "{text}");
}

#[test]
fn a_stream_to_or_from_a_terminal_is_refused() {
    let tmux = Tmux::start("stream-tty");
    tmux.type_text(&format!("{BIN} record -o -; echo status=$?"), true);
    let screen = tmux.wait_for("status", |s| s.lines().any(|l| l.starts_with("status=")));
    let said = tmux.said();
    assert_eq!(said.len(), 1, "{screen}");
    assert!(said[0].contains("terminal"), "{screen}");
    assert!(screen.contains("status=1"), "{screen}");

    tmux.type_text("clear", true);
    // Typed before the screen is cleared, the next command's echo would be cleared with
    // it and its output would follow the prompt, on the prompt's line.
    tmux.wait_for("a cleared screen", |s| !s.contains("status="));
    tmux.type_text(&format!("{BIN} replay -; echo status=$?"), true);
    let screen = tmux.wait_for("status", |s| s.lines().any(|l| l.starts_with("status=")));
    let said = tmux.said();
    assert_eq!(said.len(), 1, "{screen}");
    assert!(
        said[0].contains("standard input, which is a terminal"),
        "{screen}"
    );
    assert!(screen.contains("status=1"), "{screen}");
}

#[test]
fn a_recorder_whose_reader_went_away_stops_with_one_line() {
    let _alone = alone();
    let (mut record, mut stream, said) = recorder();
    wait_recording(&said);
    let mut start = [0; 12];
    stream.read_exact(&mut start).unwrap();
    drop(stream);
    // Events make it write, which finds the pipe closed.
    while record.try_wait().unwrap().is_none() {
        Command::new(WORKLOAD).args(["exit", "0"]).status().unwrap();
    }
    assert_eq!(record.wait().unwrap().code(), Some(1));
    let rest: Vec<String> = said.iter().collect();
    assert_eq!(rest.len(), 1, "{rest:?}");
    assert!(
        rest[0].contains("the reader of the stream went away after"),
        "{rest:?}"
    );
}
