//! `--remote`: the UI viewing another machine's recording streamed over ssh. The other
//! machine is this one, reached through an sshd of the test's own on 127.0.0.1 with a
//! throw-away key (tests/common/sshd.rs), where the remote command is this build's
//! `record -o -` (the default runs it with sudo, which CI's root has no need of).

#[path = "common/program_copy.rs"]
mod program_copy;
#[path = "common/sshd.rs"]
mod sshd;
#[allow(dead_code)]
#[path = "common/tmux.rs"]
mod tmux;

use std::{
    fs,
    path::Path,
    process::{Child, Command},
    time::{Duration, Instant},
};

use sshd::Sshd;
use tmux::Tmux;

const BIN: &str = env!("CARGO_BIN_EXE_forkwatch-tui");

/// A config directory whose file reaches `sshd` with `ssh` (its key and known hosts, or
/// not) and runs `command` there.
fn config(dir: &Path, ssh: &[String], command: &str) -> String {
    let file = dir.join("forkwatch/config.toml");
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    let ssh: Vec<String> = ssh.iter().map(|a| format!("{a:?}")).collect();
    let text = format!(
        "[remote]\nssh = [{}]\ncommand = {command:?}\n",
        ssh.join(", ")
    );
    fs::write(&file, text).unwrap();
    format!("XDG_CONFIG_HOME={}", dir.display())
}

/// The processes below `pid`, depth first.
fn descendants(pid: u32) -> Vec<u32> {
    let children =
        fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    children
        .split_whitespace()
        .filter_map(|c| c.parse().ok())
        .flat_map(|c| std::iter::once(c).chain(descendants(c)))
        .collect()
}

fn parent(pid: u32) -> u32 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_comm = &stat[stat.rfind(')').unwrap() + 2..];
    after_comm.split(' ').nth(1).unwrap().parse().unwrap()
}

fn comm(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Waits for `ready` to hold; fails after 30 s saying `what`.
fn wait_until(what: &str, ready: impl Fn() -> bool) {
    let until = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(Instant::now() < until, "no {what} after 30 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A program of a name no other process has, that sleeps until killed.
fn marker(dir: &Path, name: &str) -> Child {
    let program = dir.join(name);
    program_copy::copy_program("/bin/sleep", &program);
    Command::new(&program).arg("600").spawn().unwrap()
}

#[test]
fn the_remote_tree_is_shown_live_and_a_broken_connection_is_said_while_the_ui_stays() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let env = config(dir.path(), &sshd.ssh(), &format!("{BIN} record -o -"));
    let tmux = Tmux::start_sized("remote", 250, 40);
    let destination = sshd.destination();
    let screen = tmux.start_ui_with(&env, &format!("--remote {destination}"));
    assert!(screen.contains("remote"), "{screen}");

    // Born after the view started: it can only have come through the stream.
    let mut marker = marker(dir.path(), "fwremotemark");
    tmux.search_until_shown("the process started there", "fwremotemark 600");

    // What acts on processes is refused: they are another machine's.
    tmux.type_text("k", false);
    tmux.wait_for("the refusal", |s| s.contains("on a remote view"));

    // The connection breaks: sshd's process for it is killed, so ssh sees it closed.
    let recorder: Vec<u32> = (descendants(sshd.pid()).into_iter())
        .filter(|&pid| comm(pid) == "forkwatch-tui")
        .collect();
    assert_eq!(recorder.len(), 1, "the remote recorder runs under sshd");
    // Its parent: sshd's process for the connection.
    let session = parent(recorder[0]);
    assert_eq!(comm(session), "sshd", "the connection's process");
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(session as i32).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    // Said with what ssh said and how it exited.
    tmux.wait_for("the broken stream", |s| {
        s.contains("the stream broke: ") && s.contains("(ssh exited with status 255)")
    });
    // What arrived stays: the process is still there to find (the notice above the tree
    // may have pushed its row off the screen).
    tmux.search_until_shown("what arrived stays", "fwremotemark 600");
    // The remote recorder notices its output is gone and stops.
    wait_until("the remote recorder's end", || {
        comm(recorder[0]) != "forkwatch-tui"
    });

    // Still answering keys.
    tmux.type_text("/", false);
    tmux.type_text("fwremotemark", true);
    tmux.wait_for("a search after the break", |s| {
        s.contains("fwremotemark 600")
    });
    tmux.type_text("q", false);
    tmux.assert_restored(BIN);
    marker.kill().unwrap();
    marker.wait().unwrap();
}

#[test]
fn what_ssh_says_when_it_cannot_connect_or_run_the_command_is_one_line() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let tmux = Tmux::start_sized("remote-fail", 250, 40);
    let destination = sshd.destination();

    // No key: sshd refuses the login.
    let keyless: Vec<String> = sshd
        .ssh()
        .into_iter()
        .enumerate()
        .filter(|(i, _)| *i != 1 && *i != 2)
        .map(|(_, a)| a)
        .chain(["-o".into(), "PubkeyAuthentication=no".into()])
        .collect();
    let env = config(dir.path(), &keyless, &format!("{BIN} record -o -"));
    let said = tmux.fail_at_start_with(&env, &format!("--remote {destination}"));
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].contains("Permission denied"), "{said:?}");
    assert!(said[0].contains("status 255"), "{said:?}");

    // The remote command is not there (the default asks for sudo, which is not here).
    let tmux = Tmux::start_sized("remote-fail", 250, 40);
    let env = config(
        dir.path(),
        &sshd.ssh(),
        "/nonexistent/forkwatch-tui record -o -",
    );
    let said = tmux.fail_at_start_with(&env, &format!("--remote {destination}"));
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].contains("/nonexistent/forkwatch-tui"), "{said:?}");
    assert!(said[0].contains("status 127"), "{said:?}");

    // A destination that ssh would take for an option never reaches it.
    let tmux = Tmux::start_sized("remote-fail", 250, 40);
    let said = tmux.fail_at_start_with(&env, "--remote=-oProxyCommand=true");
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].contains("not a host"), "{said:?}");
}

#[test]
fn two_remotes_are_one_view_with_a_root_per_host() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let env = config(dir.path(), &sshd.ssh(), &format!("{BIN} record -o -"));
    let tmux = Tmux::start_sized("remotes", 250, 40);
    let destination = sshd.destination();
    tmux.start_ui_with(
        &env,
        &format!("--remote {destination} --remote {destination}"),
    );
    // Both hosts are this machine: a process started here is in each stream, under each
    // host's root, the second named apart.
    let mut marker = marker(dir.path(), "fwtwomark");
    let host = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let host = host.trim();
    tmux.type_text("\\", false);
    tmux.type_text("fwtwomark", true);
    let screen = tmux.wait_for("the process under both hosts", |s| {
        s.matches("fwtwomark 600").count() == 2
    });
    let roots: Vec<&str> = screen
        .lines()
        .filter(|l| l.ends_with(&format!(" {host}")) || l.ends_with(&format!(" {host} (2)")))
        .collect();
    assert_eq!(roots.len(), 2, "a root row per host:\n{screen}");
    let marked: Vec<usize> = (screen.lines().enumerate())
        .filter(|(_, l)| l.contains("fwtwomark 600"))
        .map(|(i, _)| i)
        .collect();
    let second_root = (screen
        .lines()
        .position(|l| l.ends_with(&format!(" {host} (2)"))))
    .expect("the second host's root");
    assert!(
        marked[0] < second_root && second_root < marked[1],
        "one under each host:\n{screen}"
    );
    let recorders: Vec<u32> = (descendants(sshd.pid()).into_iter())
        .filter(|&pid| comm(pid) == "forkwatch-tui")
        .collect();
    assert_eq!(recorders.len(), 2, "a remote recorder per host");
    tmux.type_text("q", false);
    tmux.assert_restored(BIN);
    // Quitting ends ssh, and so the remote recorders, which see their output close.
    wait_until("the remote recorders' end", || {
        recorders.iter().all(|&pid| comm(pid) != "forkwatch-tui")
    });
    marker.kill().unwrap();
    marker.wait().unwrap();
}
