//! The terminal UI's memory under argv that costs bytes: the real binary in tmux on the
//! real kernel, while 16,000 execs of `/bin/true` with 8,000 empty arguments each run and
//! a process with 4 MB of argv sleeps. Its peak resident memory (VmHWM) must stay under
//! the bounds the README states.

#[path = "common/big_argv.rs"]
mod big_argv;

use std::{
    path::PathBuf,
    process::Command,
    time::{Duration, Instant},
};

use big_argv::BigArgv;

const BIN: &str = env!("CARGO_BIN_EXE_forkwatch-tui");
const WORKLOAD: &str = env!("CARGO_BIN_EXE_forkwatch-workload");
const TIMEOUT: Duration = Duration::from_secs(120);
/// The README's bounds (section "The terminal UI"), about twice what was measured: at
/// most 130 MiB resident, 64 MiB above the start (without the byte budgets: 246 MiB, 180
/// MiB above).
const BOUND_KIB: u64 = 256 * 1024;
const GROWTH_KIB: u64 = 128 * 1024;

/// A tmux server with one 120x40 window running the UI; killed when dropped.
struct Tmux {
    socket: String,
    log: PathBuf,
}

impl Tmux {
    fn start_ui() -> Self {
        let socket = format!(
            "fw-memory-{}-{}",
            std::process::id(),
            forkwatch::clock::boottime_ns()
        );
        let log = std::env::temp_dir().join(format!("{socket}.log"));
        let tmux = Self { socket, log };
        let ui = format!("{BIN} --log {}", tmux.log.display());
        tmux.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "main",
            "-x",
            "120",
            "-y",
            "40",
            &ui,
        ]);
        tmux.wait_for("the UI", |s| {
            s.contains("PID USER") && s.contains("processes")
        });
        tmux
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux runs");
        assert!(out.status.success(), "tmux {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", "main", "-l", text]);
        self.run(&["send-keys", "-t", "main", "Enter"]);
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "main"])
    }

    fn wait_for(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "no {what} after {TIMEOUT:?}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The UI's VmRSS and VmHWM, in KiB.
    fn memory(&self) -> (u64, u64) {
        let ui = self.run(&["display-message", "-p", "-t", "main", "#{pane_pid}"]);
        let status = std::fs::read_to_string(format!("/proc/{}/status", ui.trim())).unwrap();
        let field = |name: &str| -> u64 {
            let line = status.lines().find(|l| l.starts_with(name)).unwrap();
            line.split_whitespace().nth(1).unwrap().parse().unwrap()
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
        let _ = std::fs::remove_file(&self.log);
    }
}

#[test]
fn thousands_of_execs_with_thousands_of_arguments_keep_the_ui_under_its_bound() {
    let tmux = Tmux::start_ui();
    let (start, _) = tmux.memory();
    let out = Command::new(WORKLOAD)
        .args(["execs", "16000", "8000"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // Started after the storm: once the UI shows it (filtered on its name), it has
    // applied every exec before it.
    let big = BigArgv::start();
    let marker = format!("fwbig{}", big.token);
    tmux.run(&["send-keys", "-t", "main", "-l", "f"]);
    tmux.type_text(&marker);
    let row = format!("sh -c sleep 600; : {marker} xxxx");
    let pid = big.pid().to_string();
    let screen = tmux.wait_for("the 4 MB shell", |s| {
        s.contains(&format!("filter `{marker}`"))
            && s.lines()
                .any(|l| l.trim_start().starts_with(&pid) && l.contains(&row))
    });
    let (now, peak) = tmux.memory();
    eprintln!("UI resident: {start} KiB at start, {now} KiB after, {peak} KiB at most");
    assert!(
        peak < BOUND_KIB && peak < start + GROWTH_KIB,
        "the UI peaked at {peak} KiB, {start} KiB at start (bounds: {BOUND_KIB} KiB, \
         {GROWTH_KIB} KiB above the start)"
    );
    // The model's byte budget, not the count limits, held it there.
    let status = screen.lines().last().unwrap_or_default();
    assert!(status.contains(" dropped for memory │"), "{screen}");
}
