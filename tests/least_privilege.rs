//! What the real binary keeps of root once it runs, read from /proc for every thread of
//! it: each live command only the capabilities it still uses (the UI and `relay` CAP_KILL
//! and CAP_SYS_PTRACE, the netlink and procfs backends CAP_SYS_PTRACE, the probe nothing,
//! `watch` CAP_SYS_PTRACE under hidepid), as nobody or the user who ran sudo, with
//! no_new_privs; a replay none at all, as that user, before it opens the file, and
//! `record --perfetto` none before it reads its recording back.

// The shared directory serves the file tests only.
#[allow(dead_code)]
#[path = "common/accounts.rs"]
mod accounts;
// Of these two only the directory and the waiting for readiness serve here.
#[allow(dead_code)]
#[path = "common/nobody.rs"]
mod nobody;
#[path = "common/program_copy.rs"]
mod program_copy;
#[allow(dead_code)]
#[path = "common/running.rs"]
mod running;
// Some of it serves the UI's own tests only.
#[allow(dead_code)]
#[path = "common/tmux.rs"]
mod tmux;

use std::{
    io::Read,
    os::{fd::FromRawFd, unix::fs::PermissionsExt},
    process::{Child, Command, Stdio},
};

use accounts::Accounts;
use nobody::Nobody;
use running::Running;
use tmux::Tmux;

const BIN: &str = env!("CARGO_BIN_EXE_forkwatch-tui");
const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo.fwrec");
const NOBODY: u32 = 65_534;
/// A user who ran sudo, in these tests: ids no account has, so they come from nowhere else.
const SUDO_UID: u32 = 4321;
const SUDO_GID: u32 = 4322;

const KILL: u64 = 1 << 5;
const SYS_PTRACE: u64 = 1 << 19;

/// Whom a process runs as: all four uids `uid`, all four gids `gid`, and supplementary
/// groups `groups`.
#[derive(Clone, Copy)]
struct Ids {
    uid: u32,
    gid: u32,
    groups: &'static [u32],
}

const AS_NOBODY: Ids = Ids {
    uid: NOBODY,
    gid: NOBODY,
    groups: &[],
};
/// Ids no account has: no supplementary groups.
const AS_SUDO_USER: Ids = Ids {
    uid: SUDO_UID,
    gid: SUDO_GID,
    groups: &[],
};

/// Checks every thread of `pid`: running as `ids`, exactly `caps` effective, permitted
/// and in the bounding set, none inheritable or ambient, and no_new_privs. Returns the
/// number of threads.
fn assert_privileges(pid: u32, ids: Ids, caps: u64) -> usize {
    let tasks: Vec<_> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .map(|task| task.unwrap().path())
        .collect();
    for task in &tasks {
        let status = std::fs::read_to_string(task.join("status")).unwrap();
        let field = |name: &str| -> Vec<&str> {
            let line = status
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .unwrap_or_else(|| panic!("no {name} in {status}"));
            line.split_whitespace().collect()
        };
        let set = |name: &str| u64::from_str_radix(field(name)[0], 16).unwrap();
        let context = format!("{}:\n{status}", task.display());
        assert_eq!(field("Uid"), [ids.uid.to_string().as_str(); 4], "{context}");
        assert_eq!(field("Gid"), [ids.gid.to_string().as_str(); 4], "{context}");
        let groups: Vec<String> = ids.groups.iter().map(u32::to_string).collect();
        assert_eq!(field("Groups"), groups, "{context}");
        for name in ["CapEff", "CapPrm", "CapBnd"] {
            assert_eq!(set(name), caps, "{name} of {context}");
        }
        for name in ["CapInh", "CapAmb"] {
            assert_eq!(set(name), 0, "{name} of {context}");
        }
        assert_eq!(field("NoNewPrivs"), ["1"], "{context}");
    }
    tasks.len()
}

/// `forkwatch-tui ARGS...` started as root without sudo.
fn as_root(args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env_remove("SUDO_UID")
        .env_remove("SUDO_GID");
    command
}

/// Whether the /proc these tests see is mounted with `hidepid` (other than 0 or `off`),
/// read here from mountinfo rather than asked of forkwatch, whose answer is under test.
fn proc_hides_pids() -> bool {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    // The last mount on /proc is the one seen. Fields: ... mount point (5th) ... " - "
    // type source options.
    let proc = mounts
        .lines()
        .rfind(|line| line.split(' ').nth(4) == Some("/proc"))
        .expect("/proc is mounted");
    let (_, fs) = proc.split_once(" - ").unwrap();
    let options = fs.split(' ').nth(2).unwrap_or_default();
    options
        .split(',')
        .filter_map(|option| option.strip_prefix("hidepid="))
        .any(|value| value != "0" && value != "off")
}

/// A process of root's to watch, wait for and relay to.
struct Sleeper(Child);

impl Sleeper {
    fn start() -> Self {
        Self(Command::new("sleep").arg("1000").spawn().unwrap())
    }

    fn pid(&self) -> String {
        self.0.id().to_string()
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `command`, waits for `ready` on its stderr, and checks its privileges.
fn check_running(command: Command, ready: &str, ids: Ids, caps: u64) -> usize {
    let mut running = Running::spawn(command);
    running.wait_for(ready);
    assert_privileges(running.pid(), ids, caps)
}

#[test]
fn events_with_the_probe_keep_nothing() {
    check_running(as_root(&["events"]), "stop with Ctrl-C", AS_NOBODY, 0);
}

#[test]
fn the_netlink_and_procfs_backends_keep_ptrace_read_access() {
    for backend in ["netlink", "procfs"] {
        let command = as_root(&["events", "--backend", backend]);
        check_running(command, "stop with Ctrl-C", AS_NOBODY, SYS_PTRACE);
    }
}

#[test]
fn watch_and_wait_with_the_probe_keep_nothing() {
    let sleeper = Sleeper::start();
    // Unless /proc hides other users' processes (hidepid): then watch keeps CAP_SYS_PTRACE.
    let reread = if proc_hides_pids() { SYS_PTRACE } else { 0 };
    let watch = as_root(&["watch", &sleeper.pid()]);
    check_running(watch, "stop with Ctrl-C", AS_NOBODY, reread);
    let wait = as_root(&["wait", &sleeper.pid()]);
    check_running(wait, "waiting for 1 process", AS_NOBODY, 0);
}

#[test]
fn watch_keeps_ptrace_read_access_where_proc_hides_other_users_processes() {
    let sleeper = Sleeper::start();
    // A /proc of its own, mounted with hidepid, in a mount namespace of its own.
    let mut watch = Command::new("unshare");
    watch
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(r#"mount -t proc -o hidepid=invisible proc /proc && exec "$0" "$@""#)
        .args([BIN, "watch", &sleeper.pid()])
        .env_remove("SUDO_UID")
        .env_remove("SUDO_GID");
    check_running(watch, "stop with Ctrl-C", AS_NOBODY, SYS_PTRACE);
}

#[test]
fn relay_keeps_kill_and_ptrace_read_access() {
    let sleeper = Sleeper::start();
    let relay = as_root(&["relay", "--to", &sleeper.pid()]);
    check_running(relay, "stop with Ctrl-C", AS_NOBODY, KILL | SYS_PTRACE);
}

#[test]
fn record_keeps_nothing_in_its_writing_thread_either() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.fwrec");
    let record = as_root(&["record", "-o", file.to_str().unwrap()]);
    // Unless /proc hides other users' processes: its snapshot needs CAP_SYS_PTRACE then.
    let reread = if proc_hides_pids() { SYS_PTRACE } else { 0 };
    let threads = check_running(record, "stop with Ctrl-C", AS_NOBODY, reread);
    assert!(threads >= 2, "the recorder's thread is checked too");
}

#[test]
fn with_sudo_a_live_command_becomes_the_user_who_ran_it() {
    let mut events = as_root(&["events"]);
    events
        .env("SUDO_UID", SUDO_UID.to_string())
        .env("SUDO_GID", SUDO_GID.to_string());
    check_running(events, "stop with Ctrl-C", AS_SUDO_USER, 0);
}

/// The user who ran sudo keeps their supplementary groups: a live command runs with them,
/// and a replay reads a recording that one of them may read.
#[test]
fn with_sudo_the_user_keeps_their_groups() {
    let accounts = Accounts::new();
    let as_them = Ids {
        uid: accounts::UID,
        gid: accounts::GID,
        groups: &[accounts::GID, accounts::SHARED_GID],
    };
    let mut events = accounts.sudo(std::path::Path::new(BIN));
    events.args(["--log", "/dev/null", "events"]);
    check_running(events, "stop with Ctrl-C", as_them, 0);

    let shared = accounts.path("shared.fwrec");
    std::fs::copy(DEMO, &shared).unwrap();
    std::os::unix::fs::chown(&shared, Some(0), Some(accounts::SHARED_GID)).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = accounts
        .sudo(std::path::Path::new(BIN))
        .args(["--log", "/dev/null", "replay", "--text"])
        .arg(&shared)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.stdout.is_empty());
}

#[test]
fn the_ui_keeps_kill_and_ptrace_read_access_in_every_thread() {
    let dir = tempfile::tempdir().unwrap();
    let tmux = Tmux::start("caps");
    tmux.type_text(
        &format!(
            "env -u SUDO_UID -u SUDO_GID {BIN} --log {} --record {}",
            dir.path().join("ui.log").display(),
            dir.path().join("ui.fwrec").display()
        ),
        true,
    );
    tmux.wait_for("UI", |s| s.contains("PID USER") && s.contains("● rec"));
    let threads = assert_privileges(tmux.ui_pid(), AS_NOBODY, KILL | SYS_PTRACE);
    assert!(threads >= 2, "the recorder's thread is checked too");
    tmux.type_text("q", false);
    tmux.assert_restored(BIN);
}

#[test]
fn a_replay_started_with_sudo_runs_as_the_user_with_no_capabilities() {
    let dir = Nobody::with(&[DEMO]);
    // Under sudo a `--log` is opened as the user: in a directory of theirs.
    let theirs = dir.path("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(SUDO_UID), Some(SUDO_GID)).unwrap();
    let tmux = Tmux::start("sudo-replay");
    tmux.type_text(
        &format!(
            "SUDO_UID={SUDO_UID} SUDO_GID={SUDO_GID} {BIN} --log {} replay {}",
            theirs.join("ui.log").display(),
            dir.path("demo.fwrec").display()
        ),
        true,
    );
    // It stays at the end of the recording until told to quit.
    tmux.wait_for("the replay's end", |s| s.contains("│ ended 1x "));
    assert_privileges(tmux.ui_pid(), AS_SUDO_USER, 0);
    tmux.type_text("q", false);
    tmux.assert_restored(BIN);
}

#[test]
fn a_replay_started_as_root_runs_as_nobody_with_no_capabilities() {
    let dir = Nobody::with(&[DEMO]);
    // A pipe that takes one page and is read one byte: the replay is held writing, after
    // it opened and read the file, until it is killed.
    let mut fds = [0; 2];
    // SAFETY: pipe fills the two fds; fcntl works on the one just made.
    unsafe {
        assert_eq!(libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC), 0);
        assert!(libc::fcntl(fds[1], libc::F_SETPIPE_SZ, 4096) > 0);
    }
    // SAFETY: both fds are fresh and owned here from now on.
    let (mut read_end, write_end) = unsafe {
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::fs::File::from_raw_fd(fds[1]),
        )
    };
    let mut replay = as_root(&["replay", dir.path("demo.fwrec").to_str().unwrap(), "--json"])
        .stdin(Stdio::null())
        .stdout(write_end)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = [0];
    assert_eq!(read_end.read(&mut first).unwrap(), 1, "the replay printed");
    assert_privileges(replay.id(), AS_NOBODY, 0);
    replay.kill().unwrap();
    replay.wait().unwrap();
}

#[test]
fn a_recording_the_user_cannot_read_is_one_line() {
    let dir = Nobody::with(&[DEMO]);
    let file = dir.path("demo.fwrec");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = as_root(&["replay", file.to_str().unwrap(), "--text"])
        .env("SUDO_UID", SUDO_UID.to_string())
        .env("SUDO_GID", SUDO_GID.to_string())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "forkwatch-tui: cannot replay {}: Permission denied (os error 13); a replay reads \
             it as uid {SUDO_UID}, never as root\n",
            file.display()
        )
    );
}

/// `strace` of the calls that give up capabilities and open files, into `log`, then
/// `program`.
fn traced(log: &std::path::Path, program: &str) -> Command {
    let mut command = Command::new("strace");
    command
        .args(["-f", "-qq", "-e", "trace=capset,openat", "-o"])
        .arg(log)
        .arg(program)
        .env_remove("SUDO_UID")
        .env_remove("SUDO_GID");
    command
}

/// From a [`traced`] log: the /proc files of processes (`/proc/PID/...`) opened before
/// capabilities were given up, and after.
fn proc_reads(log: &std::path::Path) -> (Vec<String>, Vec<String>) {
    let log = std::fs::read_to_string(log).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    let drop = lines
        .iter()
        .position(|l| l.contains("capset("))
        .unwrap_or_else(|| panic!("no capset in:\n{log}"));
    let reads = |lines: &[&str]| -> Vec<String> {
        lines
            .iter()
            .filter(|l| {
                l.split_once("\"/proc/").is_some_and(|(_, rest)| {
                    rest.split('/').next().is_some_and(|pid| {
                        !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())
                    })
                })
            })
            .map(|l| (*l).to_owned())
            .collect()
    };
    (reads(&lines[..drop]), reads(&lines[drop..]))
}

/// Checks that the [`traced`] `log` shows /proc read, and only after the drop.
fn assert_read_after_the_drop(log: &std::path::Path) {
    let (before, after) = proc_reads(log);
    assert!(
        before.is_empty(),
        "{} /proc files read before privileges were given up, the first: {:?}",
        before.len(),
        before.first()
    );
    assert!(!after.is_empty(), "the snapshot is not in the log");
}

/// /proc, which other users' processes fill, is read only once privileges are given up:
/// `record`'s snapshot, and the UI's snapshot, pins and rules (here up to a pin that fails).
#[test]
fn record_and_the_ui_read_proc_only_without_privileges() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("record.strace");
    let out = traced(&log, BIN)
        .args(["--log", "/dev/null", "record", "--duration", "1", "-o"])
        .arg(dir.path().join("r.fwrec"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_read_after_the_drop(&log);

    let tmux = Tmux::start("proc-after-drop");
    let log = dir.path().join("ui.strace");
    tmux.type_text(
        &format!(
            "env -u SUDO_UID -u SUDO_GID strace -f -qq -e trace=capset,openat -o {} {BIN} \
             --log /dev/null --record {} --pin 4194304",
            log.display(),
            dir.path().join("ui.fwrec").display()
        ),
        true,
    );
    // The command is longer than a line.
    tmux.assert_restored("--pin 4194304");
    assert_eq!(
        tmux.said(),
        ["forkwatch-tui: cannot pin: no process with pid 4194304"]
    );
    assert_read_after_the_drop(&log);
}

/// `record --perfetto` reads back the recording it made (the user's file) for the trace
/// only once every privilege is given up: here with the netlink backend, which keeps
/// CAP_SYS_PTRACE while it records.
#[test]
fn record_reads_its_recording_back_for_the_trace_without_privileges() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("record.strace");
    let out = Command::new("strace")
        .args([
            "-f",
            "-qq",
            "-e",
            "trace=capset,openat,read,pread64,readv,preadv",
            "-o",
        ])
        .arg(&log)
        .arg(BIN)
        .args(["--log", "/dev/null", "record", "--backend", "netlink"])
        .args(["--duration", "1", "-o"])
        .arg(dir.path().join("r.fwrec"))
        .arg("--perfetto")
        .arg(dir.path().join("r.json"))
        .env_remove("SUDO_UID")
        .env_remove("SUDO_GID")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let log = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    // The recording is opened once more for reading through its fd's magic link.
    let fd = lines
        .iter()
        .find_map(|l| {
            let (_, rest) = l.split_once("\"/proc/self/fd/")?;
            let (_, rest) = rest.split_once("\", O_RDONLY|O_CLOEXEC) = ")?;
            rest.trim().parse::<u32>().ok()
        })
        .unwrap_or_else(|| panic!("the recording is not reopened in:\n{log}"));
    let first_read = lines
        .iter()
        .position(|l| {
            ["read(", "pread64(", "readv(", "preadv("]
                .iter()
                .any(|call| l.contains(&format!(" {call}{fd},")))
        })
        .unwrap_or_else(|| panic!("fd {fd} is never read in:\n{log}"));
    let last_drop = lines[..first_read]
        .iter()
        .rfind(|l| l.contains("capset("))
        .expect("privileges are given up");
    assert!(
        last_drop.contains("effective=0, permitted=0, inheritable=0"),
        "read while keeping {last_drop}"
    );
}
