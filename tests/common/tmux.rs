//! The real binary in a real terminal: a tmux server of its own with one window (120x40
//! unless asked) running `sh`, typed into and read from. It takes OSC 52 clipboard writes
//! into its paste buffers (`set-clipboard on`), so a control sequence that reached the
//! terminal shows there.

use std::{
    path::PathBuf,
    process::Command,
    time::{Duration, Instant},
};

const BIN: &str = env!("CARGO_BIN_EXE_forkwatch-tui");
pub const PROMPT: &str = "fwtest$ ";
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// A tmux server with one window running `sh`; killed when dropped, whatever happened.
pub struct Tmux {
    socket: String,
    /// The UI's log, in a directory of its own: a fixed name under /tmp could be anyone's.
    log: PathBuf,
    _log_dir: tempfile::TempDir,
}

impl Tmux {
    /// A 120x40 window at the shell's prompt.
    pub fn start(name: &str) -> Self {
        Self::start_sized(name, 120, 40)
    }

    /// A `width` x `height` window at the shell's prompt.
    pub fn start_sized(name: &str, width: u16, height: u16) -> Self {
        let unique = format!(
            "fw-{name}-{}-{}",
            std::process::id(),
            forkwatch::clock::boottime_ns()
        );
        let log_dir = tempfile::tempdir().unwrap();
        let tmux = Self {
            log: log_dir.path().join("ui.log"),
            socket: unique,
            _log_dir: log_dir,
        };
        let shell = format!("env PS1='{PROMPT}' sh");
        let (width, height) = (width.to_string(), height.to_string());
        tmux.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "main",
            "-x",
            &width,
            "-y",
            &height,
            &shell,
        ]);
        tmux.run(&["set-option", "-s", "set-clipboard", "on"]);
        tmux.wait_for("the shell's prompt", |screen| {
            screen.contains(PROMPT.trim_end())
        });
        tmux
    }

    pub fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux runs");
        assert!(out.status.success(), "tmux {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Types `text` as it is, then Enter if asked.
    pub fn type_text(&self, text: &str, enter: bool) {
        self.run(&["send-keys", "-t", "main", "-l", text]);
        if enter {
            self.key("Enter");
        }
    }

    /// Presses a key, named as tmux names them (`Enter`, `Escape`, `q`).
    pub fn key(&self, key: &str) {
        self.run(&["send-keys", "-t", "main", key]);
    }

    /// The paste buffers: empty unless something wrote the clipboard.
    pub fn buffers(&self) -> String {
        self.run(&["list-buffers"])
    }

    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "main"])
    }

    /// A tmux format of the pane, e.g. `#{alternate_on}`.
    pub fn pane(&self, format: &str) -> String {
        self.run(&["display-message", "-p", "-t", "main", format])
            .trim()
            .to_owned()
    }

    /// Polls the screen until `ready` holds; fails after [`TIMEOUT`] showing the screen.
    pub fn wait_for(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        self.wait_within(TIMEOUT, what, ready)
    }

    /// [`Tmux::wait_for`] with a guard of its own, for what the UI takes long to show
    /// (after a storm of events).
    pub fn wait_within(&self, guard: Duration, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + guard;
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "no {what} after {guard:?}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Searches the UI's tree for `text` (`/`) and waits until a row shows it. It is typed
    /// in two halves, so that no `tmux send-keys` process (whose argv the UI shows too)
    /// matches it; a process still on its way (through a stream) is not there when the
    /// search is typed: `n` searches again until it is.
    pub fn search_until_shown(&self, what: &str, text: &str) -> String {
        let half = text.len() / 2;
        self.type_text("/", false);
        self.type_text(&text[..half], false);
        self.type_text(&text[half..], true);
        self.wait_for(what, |s| {
            // In a row: the status line's `no match for` quotes it too.
            let mut lines: Vec<&str> = s.lines().filter(|l| !l.is_empty()).collect();
            lines.pop();
            let shown = lines.iter().any(|l| l.contains(text));
            if !shown {
                self.type_text("n", false);
            }
            shown
        })
    }

    /// Starts the UI in the shell and waits until it has drawn its first frame.
    pub fn start_ui(&self, args: &str) -> String {
        self.start_ui_with("", args)
    }

    /// [`Tmux::start_ui`] with variables set in its environment (`NAME=VALUE ...`).
    pub fn start_ui_with(&self, env: &str, args: &str) -> String {
        let log = self.log.display();
        self.type_text(&format!("{env} {BIN} --log {log} {args}"), true);
        self.wait_for("UI", |s| s.contains("PID USER") && s.contains("processes"))
    }

    /// Waits for the shell to be back, then checks the terminal is as the UI found it:
    /// the normal screen with what was on it, a visible cursor, no mouse reporting, and
    /// line editing and echo on.
    pub fn assert_restored(&self, ui_command: &str) {
        self.wait_for("prompt after the UI", |s| {
            s.lines().rev().find(|l| !l.is_empty()) == Some(PROMPT.trim_end())
        });
        assert_eq!(
            self.pane("#{alternate_on}"),
            "0",
            "still on the alternate screen"
        );
        assert_eq!(self.pane("#{cursor_flag}"), "1", "the cursor is hidden");
        assert_eq!(
            self.pane("#{mouse_any_flag}"),
            "0",
            "mouse reporting left on"
        );
        let screen = self.screen();
        assert!(
            screen.contains(ui_command),
            "the shell's screen is gone:\n{screen}"
        );

        self.type_text("stty -a; echo FW_MARK_$((40 + 2))", true);
        let screen = self.wait_for("marker", |s| s.contains("FW_MARK_42"));
        let settings: Vec<&str> = screen.split_whitespace().collect();
        for mode in ["icanon", "echo", "isig", "icrnl", "opost"] {
            assert!(
                settings.contains(&mode),
                "{mode} is off after the UI:\n{screen}"
            );
        }
    }

    /// Runs the UI with `args`, which must fail at start; the lines it said, once the
    /// terminal is checked to be as it was.
    pub fn fail_at_start(&self, args: &str) -> Vec<String> {
        self.fail_at_start_with("", args)
    }

    /// [`Tmux::fail_at_start`] with variables set in its environment (`NAME=VALUE ...`).
    pub fn fail_at_start_with(&self, env: &str, args: &str) -> Vec<String> {
        self.type_text(
            &format!("{env} {BIN} --log {} {args}", self.log.display()),
            true,
        );
        self.assert_restored(BIN);
        self.said()
    }

    /// The lines the program said on the screen.
    pub fn said(&self) -> Vec<String> {
        self.screen()
            .lines()
            .filter(|l| l.starts_with("forkwatch-tui:"))
            .map(str::to_owned)
            .collect()
    }

    /// The process the pane's shell runs (the UI).
    pub fn ui_pid(&self) -> u32 {
        let shell = self.pane("#{pane_pid}");
        let children = std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children"))
            .expect("the shell's children");
        children
            .split_whitespace()
            .next()
            .expect("the UI runs")
            .parse()
            .unwrap()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}
