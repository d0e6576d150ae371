//! A real terminal for a test: a tmux server of its own with one window running `sh`,
//! killed when dropped. It takes OSC 52 clipboard writes into its paste buffers
//! (`set-clipboard on`), so a control sequence that reached the terminal shows there.

use std::{
    process::Command,
    time::{Duration, Instant},
};

pub const PROMPT: &str = "fwtest$ ";
const TIMEOUT: Duration = Duration::from_secs(30);

pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// A `width` x `height` window at the shell's prompt.
    pub fn start(name: &str, width: u16, height: u16) -> Self {
        let tmux = Self {
            socket: format!(
                "fw-{name}-{}-{}",
                std::process::id(),
                forkwatch::clock::boottime_ns()
            ),
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

    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "main"])
    }

    /// The paste buffers: empty unless something wrote the clipboard.
    pub fn buffers(&self) -> String {
        self.run(&["list-buffers"])
    }

    /// Polls the screen until `ready` holds; fails after [`TIMEOUT`] showing the screen.
    pub fn wait_for(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
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
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}
