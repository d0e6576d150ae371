//! Recording and replay through the real binary and the real kernel, and write errors on
//! real (small or read-only) file systems.

// Only its open directory serves here.
#[allow(dead_code)]
#[path = "common/nobody.rs"]
mod nobody;

use std::{
    collections::HashSet,
    ffi::CString,
    io::{BufRead, BufReader, Read},
    os::unix::ffi::OsStrExt,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use big_argv::BigArgv;
use nobody::Nobody;
use stalled_pipe::StalledPipe;

use forkwatch::{
    event::{Argv, Comm, Creds, Event, Kind, MAX_ARGV_BYTES},
    private_file,
    recording::{Info, Reader, Recorder, SLOW_DISK_BACKLOG, Writer},
};

#[path = "common/big_argv.rs"]
mod big_argv;
#[path = "common/program_copy.rs"]
mod program_copy;
#[path = "common/shell.rs"]
mod shell;
#[path = "common/stalled_pipe.rs"]
mod stalled_pipe;

const BIN: &str = env!("CARGO_BIN_EXE_forkwatch-tui");
/// Only a guard against hanging: readiness is awaited, not slept for.
const GUARD: Duration = Duration::from_secs(120);

/// The binary running in the background, ready (it said "stop with Ctrl-C").
struct Running {
    child: Child,
    stdout: thread::JoinHandle<String>,
    stderr: thread::JoinHandle<String>,
}

fn start(args: &[&str]) -> Running {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let stdout = thread::spawn(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).unwrap();
        s
    });
    let (ready, is_ready) = mpsc::channel();
    let err = child.stderr.take().unwrap();
    let stderr = thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(err).lines() {
            let line = line.unwrap();
            if line.contains("stop with Ctrl-C") {
                let _ = ready.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    if is_ready.recv_timeout(GUARD).is_err() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{args:?} never got ready: {}", stderr.join().unwrap());
    }
    Running {
        child,
        stdout,
        stderr,
    }
}

impl Running {
    /// Ctrl-C, then what it printed.
    fn interrupt(self) -> (std::process::ExitStatus, String, String) {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let mut child = self.child;
        let status = child.wait().unwrap();
        (
            status,
            self.stdout.join().unwrap(),
            self.stderr.join().unwrap(),
        )
    }
}

/// The events of the process trees rooted at `roots`, from JSON lines: each as its time
/// and the JSON object without the times. (Two probes stamp the same kernel event a few
/// microseconds apart, so times are compared separately; and each reads an exit's CPU time
/// and context switches as they are when it runs, so those are left out.)
fn tree_events(json_lines: &str, roots: &[u32]) -> Vec<(u64, serde_json::Value)> {
    let mut pids: HashSet<u64> = roots.iter().map(|&p| p.into()).collect();
    json_lines
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| {
            let pid = e["pid"].as_u64().unwrap();
            if e["kind"] == "fork" && pids.contains(&e["ppid"].as_u64().unwrap()) {
                pids.insert(pid);
            }
            pids.contains(&pid)
        })
        .map(|mut e| {
            let object = e.as_object_mut().unwrap();
            let ts_ns = object.remove("ts_ns").unwrap().as_u64().unwrap();
            object.remove("run_ns");
            for measured in [
                "cpu_user_ns",
                "cpu_system_ns",
                "voluntary_switches",
                "involuntary_switches",
            ] {
                object.remove(measured);
            }
            (ts_ns, e)
        })
        .collect()
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

/// Gives `path`, in a [`Nobody`] directory, to nobody: a replay started as root without
/// sudo reads as nobody, never as root.
fn hand_to_nobody(path: &Path) {
    std::os::unix::fs::chown(path, Some(nobody::UID), Some(nobody::UID)).unwrap();
}

#[test]
fn a_replay_shows_the_same_events_as_the_live_stream() {
    let dir = Nobody::with(&[]);
    let file = dir.path("live.fwrec");
    let live = start(&["events", "--json"]);
    let recording = start(&["record", "-o", file.to_str().unwrap()]);

    let token = format!("roundtrip-{}", std::process::id());
    let mut roots = Vec::new();
    for i in 0..5 {
        let mut child = Command::new("/bin/sh")
            .args(["-c", &format!("/bin/echo {token}-{i} >/dev/null; exit {i}")])
            .spawn()
            .unwrap();
        roots.push(child.id());
        assert_eq!(child.wait().unwrap().code(), Some(i));
    }
    let (status, live_out, _) = live.interrupt();
    assert!(status.success());
    let (status, _, record_err) = recording.interrupt();
    assert!(status.success(), "{record_err}");
    assert!(record_err.contains("recorded "), "{record_err}");
    hand_to_nobody(&file);

    let replay = run(&["replay", file.to_str().unwrap(), "--json"]);
    let stderr = String::from_utf8_lossy(&replay.stderr);
    assert!(replay.status.success(), "{stderr}");
    let (replayed_times, replayed): (Vec<_>, Vec<_>) =
        tree_events(&String::from_utf8(replay.stdout).unwrap(), &roots)
            .into_iter()
            .unzip();
    let (live_times, seen_live): (Vec<_>, Vec<_>) =
        tree_events(&live_out, &roots).into_iter().unzip();
    assert_eq!(replayed, seen_live);
    for (replayed, live) in replayed_times.iter().zip(&live_times) {
        assert!(
            replayed.abs_diff(*live) < 1_000_000_000,
            "{replayed} vs {live}"
        );
    }

    for (i, root) in roots.iter().enumerate() {
        let of_root = |kind: &str| {
            replayed
                .iter()
                .filter(|e| e["pid"] == *root && e["kind"] == kind)
                .count()
        };
        assert_eq!((of_root("fork"), of_root("exit")), (1, 1), "pid {root}");
        let exit = replayed
            .iter()
            .find(|e| e["pid"] == *root && e["kind"] == "exit")
            .unwrap();
        assert_eq!(exit["exit_code"], i);
        let echo = format!("{token}-{i}");
        assert!(
            replayed
                .iter()
                .any(|e| e["kind"] == "exec" && e["argv"][1] == echo.as_str()),
            "no exec of echo {echo}"
        );
    }

    // The text form of the same file, without root needed or asked for.
    let text = run(&["replay", file.to_str().unwrap()]);
    assert!(text.status.success());
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains(&format!("argv: /bin/echo {token}-3")),
        "{text}"
    );
}

fn event(i: u32) -> Event {
    Event {
        ts_ns: 5_000_000_000 + u64::from(i) * 1_000,
        pid: 1000 + i,
        tid: 1000 + i,
        ppid: 1,
        start_ns: 5_000_000_000,
        comm: Comm::from("job"),
        creds: Some(Creds::default()),
        cgroup_id: Some(1),
        pid_ns: None,
        cgroup: None,
        kernel_thread: false,
        kind: Kind::Exec {
            filename: "/bin/job".into(),
            argv: Argv::from_args(["job".to_owned(), format!("#{i}")]),
            argv_truncated: false,
            filename_truncated: false,
            argv_unreadable: false,
        },
    }
}

fn info() -> Info {
    Info::here("eBPF", 5_000_000_000)
}

/// A recording of three events frames of 3 events each; the offsets where they start.
fn three_frames(path: &Path) -> Vec<u64> {
    let mut writer = Writer::new(Vec::new(), &info(), &[]).unwrap();
    let mut starts = Vec::new();
    for frame in 0..3 {
        starts.push(writer.summary().bytes);
        for i in 0..3 {
            writer.push(&event(frame * 3 + i)).unwrap();
        }
        writer.write_events().unwrap();
    }
    writer.finish(6_000_000_000).unwrap();
    std::fs::write(path, writer.into_inner()).unwrap();
    starts
}

fn argv_numbers(stdout: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| {
            let event: serde_json::Value = serde_json::from_str(l).unwrap();
            event["argv"][1].as_str().unwrap().to_owned()
        })
        .collect()
}

#[test]
fn a_damaged_file_replays_up_to_the_damage_and_fails() {
    let dir = Nobody::with(&[]);
    let path = dir.path("damaged.fwrec");
    let starts = three_frames(&path);
    hand_to_nobody(&path);
    let original = std::fs::read(&path).unwrap();
    let mut bytes = original.clone();
    bytes[starts[1] as usize + 50] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let file = path.to_str().unwrap();

    let out = run(&["replay", file, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(argv_numbers(&out.stdout), ["#0", "#1", "#2"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.lines().last().unwrap(),
        format!(
            "forkwatch-tui: {file} is damaged at byte {}: checksum mismatch; everything before \
             it was replayed (--skip-damage goes on after it)",
            starts[1]
        )
    );

    let out = run(&["replay", file, "--json", "--skip-damage"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        argv_numbers(&out.stdout),
        ["#0", "#1", "#2", "#6", "#7", "#8"]
    );

    // Cut inside the last frame: what came before replays, and the exit says it is damaged.
    std::fs::write(&path, &original[..starts[2] as usize + 10]).unwrap();
    let out = run(&["replay", file, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(argv_numbers(&out.stdout).len(), 6);
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!(
        "is damaged at byte {}: the file ends inside a frame",
        starts[2]
    )));
}

#[test]
fn other_files_and_newer_versions_are_refused_in_one_line() {
    let dir = Nobody::with(&[]);
    let path = dir.path("x.fwrec");
    let file = path.to_str().unwrap();
    let refused = |contents: &[u8]| {
        std::fs::write(&path, contents).unwrap();
        hand_to_nobody(&path);
        let out = run(&["replay", file, "--json"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(out.stdout.is_empty());
        String::from_utf8(out.stderr).unwrap()
    };
    assert_eq!(
        refused(b"#!/bin/sh\necho hi\n"),
        format!("forkwatch-tui: cannot replay {file}: not a forkwatch recording (it is text)\n")
    );
    three_frames(&path);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[8] = 7;
    assert_eq!(
        refused(&bytes),
        format!(
            "forkwatch-tui: cannot replay {file}: written by a newer forkwatch (recording \
             format 7; this one reads up to 4): replay it with a newer forkwatch-tui\n"
        )
    );
}

/// A tmpfs mounted over a fresh directory for the life of the value.
struct Tmpfs {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Tmpfs {
    fn mount(options: &str, flags: libc::c_ulong) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_owned();
        let target = CString::new(path.as_os_str().as_bytes()).unwrap();
        let options = CString::new(options).unwrap();
        // SAFETY: every pointer is a valid NUL-terminated string that outlives the call.
        let rc = unsafe {
            libc::mount(
                c"tmpfs".as_ptr(),
                target.as_ptr(),
                c"tmpfs".as_ptr(),
                flags,
                options.as_ptr().cast(),
            )
        };
        assert_eq!(rc, 0, "mount: {}", std::io::Error::last_os_error());
        Self { _dir: dir, path }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let target = CString::new(self.path.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
    }
}

#[test]
fn unwritable_paths_are_one_clear_line() {
    let readonly = Tmpfs::mount("size=64k", libc::MS_RDONLY);
    let path = readonly.path.join("r.fwrec");
    let out = run(&["record", "-o", path.to_str().unwrap(), "--duration", "5"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        format!(
            "forkwatch-tui: cannot create the recording {}: Read-only file system (os error 30)\n",
            path.display()
        )
    );
    // Not a regular file: refused before a byte is written.
    let out = run(&["record", "-o", "/dev/full", "--duration", "5"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "forkwatch-tui: cannot create the recording /dev/full: it is a device, not a regular \
         file\n"
    );
}

#[test]
fn a_full_disk_stops_the_recording_and_keeps_what_was_written() {
    let small = Tmpfs::mount("size=1m", 0);
    let path = small.path.join("r.fwrec");
    let recorder =
        Recorder::new(private_file::create(&path).unwrap(), &path, &info(), &[]).unwrap();
    // Arguments that do not compress fill the disk quickly.
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut noise = || {
        (0..2000)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                char::from(b'a' + (seed % 26) as u8)
            })
            .collect::<String>()
    };
    let mut sent = Vec::new();
    let deadline = Instant::now() + GUARD;
    while recorder.error().is_none() {
        assert!(Instant::now() < deadline, "the disk never filled");
        let batch: Vec<Event> = (0..50)
            .map(|_| {
                let mut e = event(sent.len() as u32);
                e.kind = Kind::Exec {
                    filename: "/bin/job".into(),
                    argv: Argv::from_args([noise()]),
                    argv_truncated: false,
                    filename_truncated: false,
                    argv_unreadable: false,
                };
                sent.push(e.clone());
                e
            })
            .collect();
        recorder.record(batch);
        thread::sleep(Duration::from_millis(5));
    }
    let error = recorder.finish(0).unwrap_err().to_string();
    let prefix = format!(
        "cannot write to the recording {}: No space left on device (os error 28); the ",
        path.display()
    );
    let written: usize = error
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix(" events written before stay readable"))
        .unwrap_or_else(|| panic!("{error}"))
        .parse()
        .unwrap();
    assert!(written > 0);

    let mut reader = Reader::open(&path).unwrap();
    let mut got = Vec::new();
    while reader.next_batch(&mut got).unwrap() {}
    assert_eq!(got, sent[..written]);
    assert!(reader.end().is_none());
}

#[test]
fn a_stalled_disk_shows_as_backlog_and_loses_nothing() {
    let pipe = StalledPipe::new();
    let recorder = Recorder::new(pipe.open(), &pipe.path, &info(), &[]).unwrap();
    let sent: Vec<Event> = (0..3 * SLOW_DISK_BACKLOG as u32).map(event).collect();
    for batch in sent.chunks(1000) {
        recorder.record(batch.to_vec());
    }
    // Everything was queued without waiting for the disk; most of it is still waiting.
    assert!(
        recorder.backlog() >= SLOW_DISK_BACKLOG,
        "{}",
        recorder.backlog()
    );
    pipe.resume();
    let summary = recorder.finish(0).unwrap();
    assert_eq!(recorder_events(&pipe.bytes()), sent);
    assert_eq!(summary.tally.total(), sent.len() as u64);
}

fn recorder_events(bytes: &[u8]) -> Vec<Event> {
    let mut reader = Reader::new(std::io::Cursor::new(bytes)).unwrap();
    let mut got = Vec::new();
    while reader.next_batch(&mut got).unwrap() {}
    assert!(reader.end().is_some());
    got
}

#[test]
fn a_process_with_megabytes_of_argv_stops_neither_record_nor_replay() {
    let big = BigArgv::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.fwrec");
    let file = path.to_str().unwrap();
    let (status, _, stderr) = start(&["record", "-o", file]).interrupt();
    assert!(status.success(), "{stderr}");

    // In the snapshot, cut as every source cuts it, and flagged.
    let reader = Reader::open(&path).unwrap();
    let shell = reader
        .snapshot()
        .iter()
        .find(|p| p.pid == big.pid())
        .cloned()
        .expect("the big shell is in the snapshot");
    assert!(shell.argv_truncated);
    assert_eq!(shell.argv.byte_len(), MAX_ARGV_BYTES + 1);
    let name = format!("fwbig{}", big.token);
    let first: Vec<&[u8]> = shell.argv.iter().take(4).collect();
    assert_eq!(first, [&b"sh"[..], b"-c", b"sleep 600; :", name.as_bytes()]);

    let out = run(&["replay", file, "--text"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
