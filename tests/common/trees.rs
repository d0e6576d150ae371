//! Process trees for tests that follow a subtree: shells that wait at a gate (a fifo) the
//! test opens once the watcher says it is ready, so their descendants are born after it
//! started.

use std::{
    io::{BufRead, BufReader, Write},
    os::unix::{ffi::OsStrExt, fs::OpenOptionsExt},
    path::PathBuf,
    process::{Child, ChildStdout, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

/// A fifo a shell reads a line from (`read go < GATE`) before it goes on.
pub struct Gate {
    path: PathBuf,
    /// Holds the fifo: a fixed name under /tmp could be anyone's.
    _dir: tempfile::TempDir,
}

impl Gate {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("fw-gate-")
            .tempdir()
            .unwrap();
        let path = dir.path().join("gate");
        let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid C string.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        Self { path, _dir: dir }
    }

    pub fn path(&self) -> &str {
        self.path.to_str().unwrap()
    }

    /// Lets the shell waiting at the gate go on, once it is there.
    pub fn open(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        // Without a reader, a non-blocking open fails (ENXIO): the shell is not there yet.
        let mut fifo = loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&self.path)
            {
                Ok(fifo) => break fifo,
                Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
                    assert!(Instant::now() < deadline, "no one waits at {:?}", self.path);
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("{e}"),
            }
        };
        fifo.write_all(b"go\n").unwrap();
    }
}

/// `sh -c CHAIN CHAIN N`: prints "PID PPID", then, while N > 0, runs itself with N - 1 in
/// a child and waits for it. A chain of N processes below the first.
const CHAIN: &str =
    r#"echo "$$ $PPID"; if [ "$1" -gt 0 ]; then sh -c "$0" "$0" $(($1 - 1)) & wait; fi"#;

/// A shell that waits at its gate, then starts a chain of descendants, each forked by the
/// one before; it waits for them and exits 3.
pub struct Chain {
    child: Child,
    stdout: BufReader<ChildStdout>,
    depth: u32,
}

impl Chain {
    pub fn start(gate: &Gate, depth: u32) -> Self {
        let script = format!(
            r#"read go < "$1"; sh -c "$0" "$0" {} & wait; exit 3"#,
            depth - 1
        );
        let mut child = Command::new("sh")
            .args(["-c", &script, CHAIN, gate.path()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        Self {
            stdout: BufReader::new(child.stdout.take().unwrap()),
            child,
            depth,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Each descendant's (pid, ppid), in birth order, once they all exited; then the
    /// shell's exit status.
    pub fn finish(mut self) -> (Vec<(u32, u32)>, ExitStatus) {
        let born: Vec<(u32, u32)> = (0..self.depth)
            .map(|_| {
                let mut line = String::new();
                self.stdout.read_line(&mut line).unwrap();
                let (pid, ppid) = line.trim().split_once(' ').unwrap();
                (pid.parse().unwrap(), ppid.parse().unwrap())
            })
            .collect();
        (born, self.child.wait().unwrap())
    }
}
