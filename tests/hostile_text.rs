//! A process that tries to take over root's terminal: its file name, argv and command name
//! hold an OSC 52 clipboard write, ESC, BEL, CR, LF, a C1 CSI (U+009B) and a right-to-left
//! override (U+202E), and one argument forges an event line. `events` (text and JSON),
//! `watch`, `wait`, `relay`, `record` with `replay --text`, and the UI in a real terminal
//! show all of it visibly escaped: one line per event, nothing below 0x20 but LF, and no
//! clipboard write.

#[path = "common/lines.rs"]
mod lines;
#[path = "common/program_copy.rs"]
mod program_copy;
#[path = "common/running.rs"]
mod running;
// Some of it serves the UI's own tests only.
#[allow(dead_code)]
#[path = "common/tmux.rs"]
mod tmux;
// Only its gate serves here.
#[allow(dead_code)]
#[path = "common/trees.rs"]
mod trees;

use std::{
    io,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, ExitStatus, Stdio},
    sync::atomic::{AtomicU32, Ordering},
};

use forkwatch::{event::KindName, text};
use lines::{lines, next_line};
use program_copy::copy_program;
use running::Running;
use tmux::{PROMPT, Tmux};
use trees::Gate;

const BIN: &str = env!("CARGO_BIN_EXE_forkwatch-tui");
const WORKLOAD: &str = env!("CARGO_BIN_EXE_forkwatch-workload");

/// The file the hostile process runs: every sequence, a complete OSC 52 first.
const FILE_NAME: &str = "\x1b]52;c;aGk=\x07\r\n\u{9b}2J\u{202e}fw-hostile";
const FILE_NAME_SHOWN: &str = r"\e]52;c;aGk=\a\r\n\u{9b}2J\u{202e}fw-hostile";
/// The command name the exec gives: the file name's first 15 bytes, which end inside
/// U+009B.
const EXEC_COMM_SHOWN: &str = r"\e]52;c;aGk=\a\r\n\xc2";
/// The command name it then takes (PR_SET_NAME): every sequence in 15 bytes.
const COMM: &str = "\x1b]52;c;\x07\r\n\u{9b}\u{202e}";
const COMM_SHOWN: &str = r"\e]52;c;\a\r\n\u{9b}\u{202e}";
/// An argument that would print an event line of its own.
const FORGED: &str = "\n01:00:00.000000 exit         pid=1 ppid=0 comm=systemd exit_code=0\r";
const FORGED_SHOWN: &str =
    r"'\n01:00:00.000000 exit         pid=1 ppid=0 comm=systemd exit_code=0\r'";

/// The hostile process: a shell waiting at a gate, which then execs a copy of the
/// workload named [`FILE_NAME`] (argv: that path, `name`, [`COMM`], [`FORGED`] and a token
/// unique to it), which takes the name [`COMM`], forks a child that exits, and lives
/// until its stdin ends.
struct Hostile {
    dir: tempfile::TempDir,
    path: PathBuf,
    gate: Gate,
    child: Child,
    stdin: Option<ChildStdin>,
    said: std::sync::mpsc::Receiver<String>,
    token: String,
}

impl Hostile {
    fn start() -> Self {
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let dir = tempfile::Builder::new().prefix("fw").tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        copy_program(WORKLOAD, &path);
        let gate = Gate::new();
        let token = format!(
            "fwhostile{}x{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        );
        let mut child = Command::new("sh")
            .args(["-c", r#"read go < "$0"; exec "$@""#, gate.path()])
            .arg(&path)
            .args(["name", COMM, FORGED, &token])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        Self {
            dir,
            path,
            gate,
            stdin: child.stdin.take(),
            said: lines(child.stdout.take().unwrap()),
            child,
            token,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Lets it exec, and waits until it has taken its name and forked.
    fn go(&self) {
        self.gate.open();
        assert_eq!(next_line(&self.said, "`named`"), "named");
    }

    /// Ends its stdin, and waits for it to exit.
    fn end(&mut self) -> ExitStatus {
        self.stdin.take();
        self.child.wait().unwrap()
    }

    /// Its path as the text lines show it.
    fn path_shown(&self) -> String {
        text::escape_path(&self.path).into_owned()
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Nothing in `out` can act on a terminal: no control character but LF (C0, DEL, C1), no
/// right-to-left override.
#[track_caller]
fn assert_terminal_safe(out: &str) {
    for (i, c) in out.char_indices() {
        assert!(
            c == '\n' || !(c.is_control() || c == '\u{202e}'),
            "{c:?} at byte {i} of:\n{out}"
        );
    }
}

/// `out` is event lines and only that: each a time of day, a kind and its fields.
#[track_caller]
fn assert_event_lines(out: &str) {
    assert_terminal_safe(out);
    for line in out.lines() {
        let (time, rest) = line.split_at_checked(16).unwrap_or(("", line));
        let timed = time.len() == 16
            && time.ends_with(' ')
            && time[..15]
                .chars()
                .all(|c| c.is_ascii_digit() || c == ':' || c == '.');
        let kind = rest.split(' ').next().unwrap_or("");
        assert!(
            timed && KindName::ALL.iter().any(|k| k.as_str() == kind),
            "not an event line: {line:?}"
        );
    }
}

/// The lines of `out` about `pid` itself, and about its children.
fn about(out: &str, pid: u32) -> (Vec<&str>, Vec<&str>) {
    let own = format!(" pid={pid} ");
    let children = format!(" ppid={pid} ");
    let own = out.lines().filter(|l| l.contains(&own)).collect();
    let children = out.lines().filter(|l| l.contains(&children)).collect();
    (own, children)
}

/// The hostile process's exec and exit, and its child's fork and exit, are each one line,
/// everything escaped, and the command and file names quoted as one word each.
#[track_caller]
fn assert_hostile_events(out: &str, hostile: &Hostile) {
    assert_event_lines(out);
    let (own, children) = about(out, hostile.pid());
    let path = hostile.path_shown();
    assert_eq!(own.len(), 2, "{own:#?}");
    assert!(own[0].contains(" exec "), "{}", own[0]);
    let exec = format!(
        " comm='{EXEC_COMM_SHOWN}' file='{path}' argv: '{path}' name '{COMM_SHOWN}' {FORGED_SHOWN} {}",
        hostile.token
    );
    assert!(
        own[0].ends_with(&exec),
        "{}\ndoes not end with\n{exec}",
        own[0]
    );
    let exit = format!(" comm='{COMM_SHOWN}' exit_code=0 run=");
    assert!(
        own[1].contains(" exit ") && own[1].contains(&exit),
        "{}",
        own[1]
    );
    assert_eq!(children.len(), 2, "{children:#?}");
    let fork = format!(" comm='{COMM_SHOWN}'");
    assert!(children[0].contains(" fork ") && children[0].ends_with(&fork));
    assert!(children[1].contains(" exit ") && children[1].contains(&exit));
    assert!(path.contains(FILE_NAME_SHOWN), "{path}");
}

/// SIGINT, as Ctrl-C.
fn interrupt(running: &Running) {
    // SAFETY: signals our own child.
    unsafe { libc::kill(running.pid() as i32, libc::SIGINT) };
}

#[test]
fn events_prints_one_escaped_line_per_event() {
    let mut hostile = Hostile::start();
    let mut events = Running::start(&["events"]);
    events.wait_for("watching with eBPF");
    hostile.go();
    assert!(hostile.end().success());
    interrupt(&events);
    let run = events.finish();
    assert!(run.status.success(), "{:?}", run.stderr);
    assert_hostile_events(&run.stdout, &hostile);
}

/// JSON lines reach a terminal too: what the text escapes is a `\u` escape there, and the
/// JSON still holds the exact text.
#[test]
fn events_json_spells_what_a_terminal_acts_on_as_escapes() {
    let mut hostile = Hostile::start();
    let mut events = Running::start(&["events", "--json"]);
    events.wait_for("watching with eBPF");
    hostile.go();
    assert!(hostile.end().success());
    interrupt(&events);
    let run = events.finish();
    assert!(run.status.success(), "{:?}", run.stderr);
    assert_terminal_safe(&run.stdout);
    let own: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|e: &serde_json::Value| e["pid"] == hostile.pid())
        .collect();
    assert_eq!(own.len(), 2, "{own:#?}");
    let path = hostile.path.to_str().unwrap();
    assert_eq!(own[0]["kind"], "exec");
    assert_eq!(own[0]["filename"], path);
    assert_eq!(
        own[0]["argv"],
        serde_json::json!([path, "name", COMM, FORGED, hostile.token])
    );
    assert_eq!(
        (&own[1]["kind"], &own[1]["comm"]),
        (&"exit".into(), &COMM.into())
    );
    assert!(
        run.stdout.contains(r"\u009b2J\u202efw-hostile"),
        "{}",
        run.stdout
    );
}

#[test]
fn watch_prints_the_subtree_escaped() {
    let mut hostile = Hostile::start();
    let pid = hostile.pid().to_string();
    let mut watch = Running::start(&["watch", &pid]);
    watch.wait_for("watching pid");
    hostile.go();
    assert!(hostile.end().success());
    let run = watch.finish();
    assert!(run.status.success(), "{:?}", run.stderr);
    assert_hostile_events(&run.stdout, &hostile);
    assert_eq!(run.stdout.lines().count(), 4, "{}", run.stdout);
    assert_terminal_safe(&run.stderr.join("\n"));
}

/// `tree` shows the process's argv escaped in its row, and `tree --json` spells what a
/// terminal acts on as `\u` escapes, the values still exact.
#[test]
fn tree_shows_the_process_escaped() {
    let mut hostile = Hostile::start();
    let pid = hostile.pid().to_string();
    hostile.go();
    let text = Running::start(&["tree", "--pid", &pid]).finish();
    let json = Running::start(&["tree", "--pid", &pid, "--json"]).finish();
    assert!(hostile.end().success());

    assert!(text.status.success(), "{:?}", text.stderr);
    assert_terminal_safe(&text.stdout);
    let row = text.stdout.lines().nth(1).unwrap();
    let argv_shown = format!(
        "{} name {COMM_SHOWN} {} {}",
        hostile.path_shown(),
        text::escape_str(FORGED),
        hostile.token
    );
    assert!(row.starts_with(&format!("{pid:>7} ")), "{row}");
    assert!(
        row.ends_with(&format!("  {argv_shown}")),
        "{row}\n{argv_shown}"
    );

    assert!(json.status.success(), "{:?}", json.stderr);
    assert_terminal_safe(&json.stdout);
    let document: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let process = &document["processes"][0];
    assert_eq!(process["pid"].as_u64(), Some(u64::from(hostile.pid())));
    assert_eq!(process["comm"], COMM);
    let path = hostile.path.to_str().unwrap();
    assert_eq!(
        process["argv"],
        serde_json::json!([path, "name", COMM, FORGED, hostile.token])
    );
}

#[test]
fn wait_names_the_process_escaped() {
    let mut hostile = Hostile::start();
    let pid = hostile.pid().to_string();
    let mut wait = Running::start(&["wait", &pid]);
    wait.wait_for("waiting for 1 process");
    hostile.go();
    assert!(hostile.end().success());
    let run = wait.finish();
    assert_eq!(run.status.code(), Some(0), "{:?}", run.stderr);
    assert_eq!(run.stdout, format!("{pid} ({COMM_SHOWN}): exit 0\n"));
}

/// The target's default action for the signal is to die: the warning, the notice that it
/// exited and the summary each name it.
#[test]
fn relay_notices_and_summary_name_a_target_escaped() {
    let mut hostile = Hostile::start();
    hostile.go();
    let pid = hostile.pid();
    let mut relay = Running::start(&["relay", "--to", &pid.to_string()]);
    relay.wait_for("relaying with");
    // A fork anywhere is relayed.
    Command::new("true").status().unwrap();
    let run = relay.finish();
    assert!(run.status.success(), "{:?}", run.stderr);
    let stderr = run.stderr.join("\n");
    assert_terminal_safe(&stderr);
    let target = format!("pid {pid} ({COMM_SHOWN})");
    let said = |what: &str| run.stderr.iter().any(|l| l.starts_with(what));
    for line in [
        format!("forkwatch-tui: relay 1: target {target} neither blocks nor handles RTMIN+1"),
        format!("forkwatch-tui: relay 1: target {target} exited and was dropped"),
        format!("forkwatch-tui:   {target}: "),
    ] {
        assert!(said(&line), "no `{line}` in:\n{stderr}");
    }
    assert!(
        !hostile.end().success(),
        "the relayed signal did not kill it"
    );
}

/// A recording made on a host whose name is hostile too (in a UTS namespace of its own),
/// into a file whose name is.
#[test]
fn record_and_replay_show_names_paths_and_events_escaped() {
    const HOST: &str = "fw\x1b]52;c;aGk=\x07\r\nexit pid=1\u{9b}\u{202e}";
    const HOST_SHOWN: &str = r"fw\e]52;c;aGk=\a\r\nexit pid=1\u{9b}\u{202e}";
    let mut hostile = Hostile::start();
    let path = hostile.dir.path().join(format!("{FILE_NAME}.fwrec"));
    let path_shown = text::escape_path(&path).into_owned();
    let mut command = Command::new(BIN);
    command.args(["record", "-o"]).arg(&path);
    // SAFETY: only system calls between fork and exec.
    unsafe {
        command.pre_exec(|| {
            if libc::unshare(libc::CLONE_NEWUTS) != 0
                || libc::sethostname(HOST.as_ptr().cast(), HOST.len()) != 0
            {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        })
    };
    let mut record = Running::spawn(command);
    record.wait_for(&format!("recording with eBPF to {path_shown};"));
    hostile.go();
    assert!(hostile.end().success());
    interrupt(&record);
    let recorded = record.finish();
    assert!(recorded.status.success(), "{:?}", recorded.stderr);
    assert_terminal_safe(&recorded.stderr.join("\n"));
    let summary = recorded.stderr.last().unwrap();
    assert!(
        summary.starts_with("forkwatch-tui: recorded ")
            && summary.ends_with(&format!(" to {path_shown}")),
        "{summary}"
    );

    let replay = Running::start(&["replay", path.to_str().unwrap(), "--text"]).finish();
    assert!(replay.status.success(), "{:?}", replay.stderr);
    assert_hostile_events(&replay.stdout, &hostile);
    assert_terminal_safe(&replay.stderr.join("\n"));
    let start = format!("forkwatch-tui: replaying {path_shown}, recorded on {HOST_SHOWN} (Linux ");
    assert!(
        replay.stderr[0].starts_with(&start),
        "{}\n{start}",
        replay.stderr[0]
    );
}

/// The UI on a live machine where the hostile process runs, pinned from the start: its
/// row, its details and the pin's log show it escaped, and nothing wrote the terminal's
/// clipboard, which a raw OSC 52 does (checked at the end, in the same terminal).
#[test]
fn the_ui_shows_a_hostile_process_escaped_and_the_clipboard_stays_empty() {
    // Wide enough for the path in the tree however deep the test runs in it.
    let tmux = Tmux::start_sized("hostile", 240, 50);
    let mut hostile = Hostile::start();
    let pid = hostile.pid();
    let log = hostile.dir.path().join("ui.log");
    tmux.type_text(&format!("{BIN} --log {} --pin {pid}", log.display()), true);
    tmux.wait_for("UI", |s| s.contains("PID USER") && s.contains("processes"));
    hostile.go();
    // The pins pane, its root selected in the tree, then the details and the event log.
    for key in ["P", "Enter", "d", "e"] {
        tmux.key(key);
    }
    let path = hostile.path_shown();
    let screen = tmux.wait_for("the hostile process's details and its pin's log", |s| {
        s.contains(&format!("file     {path}")) && s.contains(&format!("comm='{COMM_SHOWN}'"))
    });
    assert!(
        screen.contains(&format!("{EXEC_COMM_SHOWN}  pid {pid} ")),
        "{screen}"
    );
    let row = screen
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{pid} ")))
        .unwrap_or_else(|| panic!("no row for {pid}:\n{screen}"));
    assert!(row.contains(&path), "{row}");
    assert_terminal_safe(&screen);
    assert_eq!(tmux.buffers(), "", "something wrote the clipboard");

    assert!(hostile.end().success());
    tmux.key("q");
    tmux.wait_for("the prompt after the UI", |s| {
        s.lines().rev().find(|l| !l.is_empty()) == Some(PROMPT.trim_end())
    });
    assert_eq!(tmux.buffers(), "", "something wrote the clipboard");
    // The check can fail: a raw OSC 52 does write it.
    tmux.type_text(r"printf '\033]52;c;aGk=\a'", true);
    tmux.wait_for("the printf's clipboard write", |_| {
        !tmux.buffers().is_empty()
    });
}

/// A path that is not a recording: its name still shows escaped in the one line that says
/// so.
#[test]
fn an_error_quoting_a_file_name_is_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let path: &Path = &dir.path().join(FILE_NAME);
    std::fs::write(path, b"\x7fELF\x02\x01").unwrap();
    let run = Running::start(&["replay", path.to_str().unwrap(), "--text"]).finish();
    assert_eq!(run.status.code(), Some(1));
    assert_eq!(
        run.stderr,
        [format!(
            "forkwatch-tui: cannot replay {}: not a forkwatch recording",
            text::escape_path(path)
        )]
    );
}
