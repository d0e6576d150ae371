//! `forkwatch-tui` as a user runs it, its stderr read line by line as it comes, so a test
//! can wait for the line that says it is ready.

use std::{
    io::{BufRead, BufReader, Read},
    process::{Child, Command, ExitStatus, Stdio},
    sync::mpsc,
    thread::JoinHandle,
    time::{Duration, Instant},
};

/// A failure guard, not a wait: every wait ends on a readiness signal first.
pub const GUARD: Duration = Duration::from_secs(20);

pub struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    stdout: Option<JoinHandle<String>>,
}

/// How a run ended.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: Vec<String>,
}

impl Running {
    /// `forkwatch-tui ARGS...`.
    pub fn start(args: &[&str]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_forkwatch-tui"));
        command.args(args);
        Self::spawn(command)
    }

    /// `command` (the binary, set up by the caller: its environment, say).
    pub fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut stdout = child.stdout.take().unwrap();
        let stdout = std::thread::spawn(move || {
            let mut out = String::new();
            let _ = stdout.read_to_string(&mut out);
            out
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
            stdout: Some(stdout),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for a stderr line containing `text`.
    pub fn wait_for(&mut self, text: &str) {
        let deadline = Instant::now() + GUARD;
        while !self.seen.iter().any(|l| l.contains(text)) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!("no `{text}` on stderr; so far: {:?}", self.seen),
            }
        }
    }

    /// Waits for it to end by itself: its status and all it wrote.
    pub fn finish(mut self) -> Finished {
        let deadline = Instant::now() + GUARD;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "it did not end by itself; stderr: {:?}",
                self.seen
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        // The reader threads end at EOF, closing the channel.
        self.seen.extend(self.lines.iter());
        Finished {
            status,
            stdout: self.stdout.take().unwrap().join().unwrap(),
            stderr: std::mem::take(&mut self.seen),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
