//! Command lines through each live backend and the commands that print and record them,
//! against the real kernel: an argument that is not UTF-8 keeps its exact bytes (shown as
//! `\xNN` in text, given in base64 in JSON, kept in a recording), and an argv that could
//! not be read is said to be unknown, never given as an empty one.

#[path = "common/live.rs"]
mod live;

use std::{
    ffi::OsStr,
    io::{BufRead, BufReader, Read, Write},
    os::unix::{
        ffi::OsStrExt,
        fs::PermissionsExt,
        process::{CommandExt, ExitStatusExt},
    },
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use forkwatch::{
    event::{Argv, Event, Kind},
    source::{BackendChoice, Source},
};
use live::{exited, open, read_until};

const BIN: &str = env!("CARGO_BIN_EXE_forkwatch-tui");

/// A command line that is not UTF-8: the program's name a lone 0xff byte, an argument in
/// Latin-1.
const ODD_ARGV: [&[u8]; 4] = [b"\xff", b"-c", b"read line", b"caf\xe9"];
/// The same arguments as JSON gives them in `argv_base64`.
const ODD_BASE64: [&str; 4] = ["/w==", "LWM=", "cmVhZCBsaW5l", "Y2Fm6Q=="];

/// A shell started with [`ODD_ARGV`]; it waits for a line on stdin, then exits 0.
fn odd_shell() -> Child {
    Command::new("/bin/sh")
        .arg0(OsStr::from_bytes(ODD_ARGV[0]))
        .args(ODD_ARGV[1..].iter().map(|a| OsStr::from_bytes(a)))
        .stdin(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Runs [`odd_shell`] to its end; returns its pid.
fn run_odd_shell() -> u32 {
    let mut shell = odd_shell();
    shell.stdin.take().unwrap().write_all(b"\n").unwrap();
    assert!(shell.wait().unwrap().success());
    shell.id()
}

fn exec_argv(events: &[Event], pid: u32) -> Argv {
    events
        .iter()
        .find_map(|e| match &e.kind {
            Kind::Exec { argv, .. } if e.pid == pid => Some(argv.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no exec of {pid}: {events:#?}"))
}

/// Reads `source` until process `pid` has exited; returns its events.
async fn events_of(source: &mut Source, pid: u32) -> Vec<Event> {
    let mut events = Vec::new();
    read_until(source, &mut events, |e| exited(e, pid)).await;
    events.retain(|e| e.pid == pid);
    events
}

/// The shell is alive until its exec was seen, so the backends that read /proc read it.
async fn keeps_the_exact_bytes(backend: BackendChoice) {
    let mut source = open(backend);
    let mut shell = odd_shell();
    let pid = shell.id();
    let mut events = Vec::new();
    read_until(&mut source, &mut events, |e| {
        e.iter()
            .any(|e| e.pid == pid && matches!(e.kind, Kind::Exec { .. }))
    })
    .await;
    shell.stdin.take().unwrap().write_all(b"\n").unwrap();
    read_until(&mut source, &mut events, |e| exited(e, pid)).await;
    assert!(shell.wait().unwrap().success());
    let argv = exec_argv(&events, pid);
    assert_eq!(argv.iter().collect::<Vec<_>>(), ODD_ARGV, "{backend:?}");
}

#[tokio::test]
async fn ebpf_keeps_the_exact_bytes_of_an_argv() {
    keeps_the_exact_bytes(BackendChoice::Ebpf).await;
}

#[tokio::test]
async fn netlink_keeps_the_exact_bytes_of_an_argv() {
    keeps_the_exact_bytes(BackendChoice::Netlink).await;
}

#[tokio::test]
async fn procfs_keeps_the_exact_bytes_of_an_argv() {
    keeps_the_exact_bytes(BackendChoice::Procfs).await;
}

/// Lines of a child's output as bytes, read on a thread; the channel closes at EOF.
fn byte_lines(from: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(from).split(b'\n').map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

/// The next line that holds every one of `parts` (a 30 s guard for each line).
fn line_with(lines: &mpsc::Receiver<Vec<u8>>, parts: &[&str]) -> Vec<u8> {
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no line with {parts:?} within 30 s"));
        let holds = |part: &&str| line.windows(part.len()).any(|w| w == part.as_bytes());
        if parts.iter().all(holds) {
            return line;
        }
    }
}

/// A text line shows every byte escaped: plain ASCII, the odd bytes as `\xNN`.
fn assert_escaped(line: &[u8]) {
    let shown = String::from_utf8_lossy(line);
    assert!(
        line.iter().all(|&b| (0x20..0x7f).contains(&b)),
        "a raw byte in {shown}"
    );
    assert!(
        shown.contains(r"\xff") && shown.contains(r"caf\xe9"),
        "{shown}"
    );
}

/// The JSON of an exec: the exact bytes in `argv_base64`, read back into the same argv.
fn assert_json_exact(line: &[u8]) {
    let value: serde_json::Value = serde_json::from_slice(line).unwrap();
    assert_eq!(value["argv_base64"], serde_json::json!(ODD_BASE64));
    let event: Event = serde_json::from_slice(line).unwrap();
    let Kind::Exec { argv, .. } = &event.kind else {
        panic!("not an exec: {value}")
    };
    assert_eq!(argv.iter().collect::<Vec<_>>(), ODD_ARGV);
}

/// `forkwatch-tui ARGS`, once it says it is watching or recording.
fn start(args: &[&str]) -> (Child, mpsc::Receiver<Vec<u8>>) {
    let mut child = Command::new(BIN)
        .args(["--log", "/dev/null"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut started = String::new();
    BufReader::new(child.stderr.as_mut().unwrap())
        .read_line(&mut started)
        .unwrap();
    assert!(started.contains(" with eBPF"), "{started}");
    let stdout = byte_lines(child.stdout.take().unwrap());
    (child, stdout)
}

/// Ends a run with Ctrl-C: it writes what the kernel had queued and exits 0.
fn interrupt(mut child: Child) {
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "{status:?} (signal {:?})",
        status.signal()
    );
}

#[test]
fn events_shows_the_bytes_escaped_in_text_and_exact_in_json() {
    let (text, text_lines) = start(&["events"]);
    let (json, json_lines) = start(&["events", "--json"]);
    let pid = run_odd_shell();
    let text_exec = line_with(&text_lines, &[" exec ", &format!(" pid={pid} ")]);
    let json_exec = line_with(
        &json_lines,
        &["\"kind\":\"exec\"", &format!("\"pid\":{pid},")],
    );
    interrupt(text);
    interrupt(json);
    assert_escaped(&text_exec);
    assert_json_exact(&json_exec);
}

/// A recording keeps the bytes: `replay --json` gives them back exactly, `replay --text`
/// shows them escaped.
#[test]
fn a_recording_keeps_the_bytes_through_replay() {
    let dir = tempfile::Builder::new()
        .prefix("fw-argv-")
        .tempdir_in("/tmp")
        .unwrap();
    // Open to everyone: a replay may read the file as an unprivileged user.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let file = dir.path().join("odd.fwrec");
    let file = file.to_str().unwrap();
    let (record, _) = start(&["record", "-o", file]);
    let pid = run_odd_shell();
    // Its exit is queued in the kernel by now: the recording ends with it.
    interrupt(record);
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();

    let replay = |format: &str| {
        let out = Command::new(BIN)
            .args(["--log", "/dev/null", "replay", file, format])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let (send, lines) = mpsc::channel();
        for line in out.stdout.split(|&b| b == b'\n') {
            send.send(line.to_vec()).unwrap();
        }
        lines
    };
    let json_exec = line_with(
        &replay("--json"),
        &["\"kind\":\"exec\"", &format!("\"pid\":{pid},")],
    );
    assert_json_exact(&json_exec);
    let text_exec = line_with(&replay("--text"), &[" exec ", &format!(" pid={pid} ")]);
    assert_escaped(&text_exec);
}

/// The proc connector gives pids only, and the argv is read from /proc when the exec is
/// read: a process that has ended by then (a zombie, not yet reaped) has no argv to show.
#[tokio::test]
async fn netlink_says_the_argv_of_a_process_gone_by_then_is_unreadable() {
    let mut source = open(BackendChoice::Netlink);
    let mut child = Command::new("/bin/true").arg("gone").spawn().unwrap();
    let pid = child.id();
    // Ended, not reaped: /proc still shows it, with an empty cmdline.
    let zombie = format!("/proc/{pid}/stat");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&zombie)
        .unwrap()
        .rsplit(')')
        .next()
        .unwrap()
        .starts_with(" Z")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "{pid} never became a zombie"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let events = events_of(&mut source, pid).await;
    child.wait().unwrap();
    let exec = events
        .iter()
        .find_map(|e| match &e.kind {
            Kind::Exec {
                argv,
                argv_unreadable,
                ..
            } => Some((argv.len(), *argv_unreadable)),
            _ => None,
        })
        .expect("an exec event");
    assert_eq!(exec, (0, true), "{events:#?}");
}
