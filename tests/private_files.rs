//! Files forkwatch writes as root, made by the real binary: `record -o`, the UI's
//! `--record` and `--log` refuse a symbolic link and another user's file (leaving both
//! untouched) in one line before anything else happens, create new files mode 0600 under
//! umask 022, and replace an own file without widening its permissions.

#[path = "common/accounts.rs"]
mod accounts;
// Some of it serves the UI's own tests only.
#[allow(dead_code)]
#[path = "common/tmux.rs"]
mod tmux;

use std::{
    os::unix::{
        fs::{MetadataExt, PermissionsExt, symlink},
        process::CommandExt,
    },
    path::{Path, PathBuf},
    process::{Command, Output},
};

use accounts::Accounts;
use tmux::Tmux;

const BIN: &str = env!("CARGO_BIN_EXE_forkwatch-tui");
const NOBODY: u32 = 65_534;

/// `forkwatch-tui ARGS...` under umask 022, as a shell would start it.
fn command(args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command.args(args);
    // SAFETY: umask is async-signal-safe and touches no memory.
    unsafe {
        command.pre_exec(|| {
            libc::umask(0o022);
            Ok(())
        })
    };
    command
}

fn run(args: &[&str]) -> Output {
    command(args).output().unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

fn stderr_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A directory with the files an attacker would leave: `link` to `target` (which must
/// stay as it is), and `theirs`, a file of nobody's.
struct Traps {
    dir: tempfile::TempDir,
}

impl Traps {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("target"), "keep me\n").unwrap();
        symlink(dir.path().join("target"), dir.path().join("link")).unwrap();
        std::fs::write(dir.path().join("theirs"), "theirs\n").unwrap();
        std::os::unix::fs::chown(dir.path().join("theirs"), Some(NOBODY), Some(NOBODY)).unwrap();
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn path_str(&self, name: &str) -> String {
        self.path(name).to_str().unwrap().to_owned()
    }

    /// The target and the other user's file are as they were.
    fn assert_untouched(&self) {
        assert_eq!(
            std::fs::read_to_string(self.path("target")).unwrap(),
            "keep me\n"
        );
        assert_eq!(mode(&self.path("target")), 0o644);
        assert!(
            std::fs::symlink_metadata(self.path("link"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(
            std::fs::read_to_string(self.path("theirs")).unwrap(),
            "theirs\n"
        );
    }
}

const LINK_REFUSED: &str = "it is a symbolic link, which forkwatch does not follow";
const THEIRS_REFUSED: &str =
    "it belongs to uid 65534, and forkwatch (uid 0) replaces only its own files";

#[test]
fn record_refuses_a_link_and_another_users_file_and_makes_new_files_0600() {
    let traps = Traps::new();
    for (name, why) in [("link", LINK_REFUSED), ("theirs", THEIRS_REFUSED)] {
        let path = traps.path_str(name);
        let out = run(&["record", "-o", &path, "--duration", "1"]);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            stderr_lines(&out),
            [format!(
                "forkwatch-tui: cannot create the recording {path}: {why}"
            )]
        );
    }
    traps.assert_untouched();

    let new = traps.path("new.fwrec");
    let out = run(&["record", "-o", new.to_str().unwrap(), "--duration", "1"]);
    assert!(out.status.success(), "{:?}", stderr_lines(&out));
    assert_eq!(mode(&new), 0o600);
    assert!(
        std::fs::read(&new)
            .unwrap()
            .starts_with(&forkwatch::recording::MAGIC)
    );

    // An own file is replaced; what group and others could do with it they no longer can.
    let own = traps.path("own.fwrec");
    std::fs::write(&own, "old contents\n").unwrap();
    std::fs::set_permissions(&own, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run(&["record", "-o", own.to_str().unwrap(), "--duration", "1"]);
    assert!(out.status.success(), "{:?}", stderr_lines(&out));
    assert!(
        std::fs::read(&own)
            .unwrap()
            .starts_with(&forkwatch::recording::MAGIC)
    );
    assert_eq!(mode(&own), 0o600);
}

#[test]
fn the_log_refuses_a_link_and_another_users_file_and_is_made_0600_in_a_0700_directory() {
    let traps = Traps::new();
    for (name, why) in [("link", LINK_REFUSED), ("theirs", THEIRS_REFUSED)] {
        let path = traps.path_str(name);
        // Refused before the command does anything: its own error never comes.
        let out = run(&["--log", &path, "replay", "/nonexistent-fw.fwrec"]);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            stderr_lines(&out),
            [format!(
                "forkwatch-tui: cannot open the log file {path}: {why}"
            )]
        );
    }
    traps.assert_untouched();

    // The default place, under a state directory that does not exist yet.
    let state = traps.path("state");
    let out = command(&["replay", "/nonexistent-fw.fwrec"])
        .env("XDG_STATE_HOME", &state)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{:?}", stderr_lines(&out));
    let log = state.join("forkwatch/forkwatch.log");
    assert_eq!(mode(&state), 0o700);
    assert_eq!(mode(&state.join("forkwatch")), 0o700);
    assert_eq!(mode(&log), 0o600);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("privileges given up"), "{text}");

    // An own log with 0644 is appended to and loses the group's and others' read.
    let own = traps.path("own.log");
    std::fs::write(&own, "earlier run\n").unwrap();
    std::fs::set_permissions(&own, std::fs::Permissions::from_mode(0o644)).unwrap();
    run(&[
        "--log",
        own.to_str().unwrap(),
        "replay",
        "/nonexistent-fw.fwrec",
    ]);
    let text = std::fs::read_to_string(&own).unwrap();
    assert!(
        text.starts_with("earlier run\n") && text.len() > 12,
        "{text}"
    );
    assert_eq!(mode(&own), 0o600);
}

/// The UI opens its recording before it gives up privileges, but empties it only once
/// the pins and rules asked for are made: a mistake in them leaves an existing file as it
/// was, and a run without one replaces all of it.
#[test]
fn a_bad_pin_leaves_an_existing_recording_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ui.fwrec");
    let old = "old contents\n".repeat(300_000);
    std::fs::write(&file, &old).unwrap();
    let tmux = Tmux::start("record-kept");
    assert_eq!(
        tmux.fail_at_start(&format!("--record {} --pin 4194304", file.display())),
        ["forkwatch-tui: cannot pin: no process with pid 4194304"]
    );
    assert!(std::fs::read_to_string(&file).unwrap() == old, "changed");

    tmux.start_ui(&format!("--record {}", file.display()));
    tmux.wait_for("the recording segment", |s| s.contains("│ ● rec "));
    tmux.type_text("q", false);
    tmux.assert_restored(BIN);
    let mut reader = forkwatch::recording::Reader::open(&file).unwrap();
    while reader.next_batch(&mut Vec::new()).unwrap() {}
    assert!(reader.end().is_some(), "not closed properly");
    let made = std::fs::read(&file).unwrap();
    assert!(made.len() < old.len() / 2, "{} bytes", made.len());
}

#[test]
fn the_uis_recording_is_refused_in_one_line_before_the_terminal_is_taken() {
    let traps = Traps::new();
    let tmux = Tmux::start("record-link");
    let link = traps.path_str("link");
    assert_eq!(
        tmux.fail_at_start(&format!("--record {link}")),
        [format!(
            "forkwatch-tui: cannot create the recording {link}: {LINK_REFUSED}"
        )]
    );
    traps.assert_untouched();
}

/// Under sudo a recording is created as the user who ran sudo: where they may not write,
/// the kernel refuses it (sudo makes no root-owned file there for them); where they may,
/// in their home or through one of their groups, it is theirs, and a replay under sudo
/// reads it.
#[test]
fn with_sudo_a_recording_is_created_as_the_user_who_ran_it() {
    let accounts = Accounts::new();
    let roots = accounts.path("roots");
    std::fs::create_dir(&roots).unwrap();
    std::fs::set_permissions(&roots, std::fs::Permissions::from_mode(0o755)).unwrap();
    let refused = roots.join("r.fwrec");
    let out = accounts
        .sudo(Path::new(BIN))
        .args(["--log", "/dev/null", "record", "-o"])
        .arg(&refused)
        .args(["--duration", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_lines(&out),
        [format!(
            "forkwatch-tui: cannot create the recording {}: Permission denied (os error 13); \
             under sudo forkwatch writes it as uid {}, who ran sudo",
            refused.display(),
            accounts::UID
        )]
    );
    assert!(!refused.exists());

    for dir in [accounts.home(), accounts.shared_dir()] {
        let made = dir.join("r.fwrec");
        let out = accounts
            .sudo(Path::new(BIN))
            .args(["--log", "/dev/null", "record", "-o"])
            .arg(&made)
            .args(["--duration", "1"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{:?}", stderr_lines(&out));
        let metadata = std::fs::symlink_metadata(&made).unwrap();
        assert_eq!(
            (metadata.uid(), metadata.gid(), mode(&made)),
            (accounts::UID, accounts::GID, 0o600)
        );
    }
    let out = accounts
        .sudo(Path::new(BIN))
        .args(["--log", "/dev/null", "replay", "--text"])
        .arg(accounts.home().join("r.fwrec"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", stderr_lines(&out));
    assert!(!out.stdout.is_empty());
}

/// Under sudo `--log` is opened as the user who ran sudo: a file of root's and a directory
/// they may not write are refused, untouched; where they may write, the log and the
/// directories made for it are theirs. The default log ignores the environment (HOME and
/// XDG_STATE_HOME, which `sudo -E` keeps) and goes to root's home from the user database,
/// as root's.
#[test]
fn with_sudo_a_log_is_the_users_where_they_say_and_roots_by_default() {
    let accounts = Accounts::new();
    let roots = accounts.path("roots");
    std::fs::create_dir(&roots).unwrap();
    std::fs::set_permissions(&roots, std::fs::Permissions::from_mode(0o755)).unwrap();
    let roots_log = roots.join("roots.log");
    std::fs::write(&roots_log, "root's\n").unwrap();
    let new = roots.join("new.log");
    let uid = accounts::UID;
    for (log, why) in [
        (
            &roots_log,
            format!(
                "it belongs to uid 0, and forkwatch, writing for uid {uid} (who ran sudo), \
                 replaces only their files"
            ),
        ),
        (
            &new,
            format!(
                "Permission denied (os error 13); under sudo forkwatch writes it as uid {uid}, \
                 who ran sudo"
            ),
        ),
    ] {
        let out = accounts
            .sudo(Path::new(BIN))
            .arg("--log")
            .arg(log)
            .args(["replay", "/nonexistent-fw.fwrec"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            stderr_lines(&out),
            [format!(
                "forkwatch-tui: cannot open the log file {}: {why}",
                log.display()
            )]
        );
    }
    assert_eq!(std::fs::read_to_string(&roots_log).unwrap(), "root's\n");
    assert!(!new.exists());

    let theirs = accounts.home().join("state/forkwatch.log");
    let out = accounts
        .sudo(Path::new(BIN))
        .arg("--log")
        .arg(&theirs)
        .args(["replay", "/nonexistent-fw.fwrec"])
        .output()
        .unwrap();
    let said = stderr_lines(&out);
    assert!(said[0].contains("cannot replay"), "{said:?}");
    for made in [&theirs, &accounts.home().join("state")] {
        let metadata = std::fs::symlink_metadata(made).unwrap();
        assert_eq!((metadata.uid(), metadata.gid()), (uid, accounts::GID));
    }

    // The environment points at a place of the user's.
    let trap = accounts.home().join("trap");
    std::fs::create_dir(&trap).unwrap();
    std::os::unix::fs::chown(&trap, Some(uid), Some(accounts::GID)).unwrap();
    let out = accounts
        .sudo(Path::new(BIN))
        .env("HOME", &trap)
        .env("XDG_STATE_HOME", &trap)
        .args(["replay", "/nonexistent-fw.fwrec"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read_dir(&trap).unwrap().count(), 0);
    let log = accounts
        .root_home()
        .join(".local/state/forkwatch/forkwatch.log");
    let metadata = std::fs::symlink_metadata(&log).unwrap();
    assert_eq!((metadata.uid(), mode(&log)), (0, 0o600));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("privileges given up"), "{text}");
}
