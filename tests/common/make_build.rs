//! A recorded build: `make -j2` of a dozen small C files, in a temporary directory that
//! holds the Makefile, the sources and the recording (`forkwatch-tui record` around the
//! build), kept until dropped.
//!
//! The files come in three groups of four (`a1.c`..`a4.c`, `b1.c`.., `c1.c`..). After each
//! group a stage waits: a shell blocked reading a fifo (`read x < stage1.fifo`) until the
//! test lets it go ([`MakeBuild::release`]); the next group is built only after that stage.
//! So the build holds still at three known moments, when make's subtree is make and the
//! stage's shell, every compiler of the groups before it having exited and none of the
//! groups after it having started. Needs `make` and `cc`. Uses `running`.

use std::{
    ffi::CString,
    fs,
    io::Write,
    os::unix::fs::OpenOptionsExt,
    path::PathBuf,
    process::{Child, Command},
    time::{Duration, Instant},
};

use crate::running::{Finished, GUARD, Running};

pub const GROUPS: [char; 3] = ['a', 'b', 'c'];
pub const PER_GROUP: usize = 4;

const MAKEFILE: &str = "\
.PHONY: all stage1 stage2 stage3
all: stage3
A = a1.o a2.o a3.o a4.o
B = b1.o b2.o b3.o b4.o
C = c1.o c2.o c3.o c4.o
stage1: $(A)
\tread x < stage1.fifo
$(B): | stage1
stage2: $(B) stage1
\tread x < stage2.fifo
$(C): | stage2
stage3: $(C) stage2
\tread x < stage3.fifo
%.o: %.c
\tcc -c $< -o $@
";

pub struct MakeBuild {
    dir: tempfile::TempDir,
    recorder: Option<Running>,
    make: Child,
}

impl MakeBuild {
    /// Writes the build, starts recording, then starts `make -j2` once the recording runs.
    pub fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("fw-make-")
            .tempdir_in("/tmp")
            .unwrap();
        fs::write(dir.path().join("Makefile"), MAKEFILE).unwrap();
        for group in GROUPS {
            for i in 1..=PER_GROUP {
                let name = format!("{group}{i}");
                let source = format!("int {name}(int x) {{ return x * {i} + 1; }}\n");
                fs::write(dir.path().join(format!("{name}.c")), source).unwrap();
            }
        }
        for stage in 1..=GROUPS.len() {
            let fifo = CString::new(format!("{}/stage{stage}.fifo", dir.path().display())).unwrap();
            // SAFETY: a valid C string; mkfifo has no other precondition.
            assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        }
        let file = dir.path().join("build.fwrec");
        let mut recorder = Running::start(&["record", "-o", file.to_str().unwrap()]);
        recorder.wait_for("recording with");
        let make = Command::new("make")
            .args(["-j2", "--no-print-directory"])
            .current_dir(dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        Self {
            dir,
            recorder: Some(recorder),
            make,
        }
    }

    pub fn make_pid(&self) -> u32 {
        self.make.id()
    }

    /// Waits until the build holds still at `stage` (1 to 3): its shell is blocked opening
    /// the stage's fifo.
    pub fn wait_at(&self, stage: usize) {
        let fifo = format!("stage{stage}.fifo");
        let deadline = Instant::now() + GUARD;
        while !self.blocked_on(&fifo) {
            assert!(
                Instant::now() < deadline,
                "the build never reached stage {stage}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether a child of make runs `read x < FIFO` and sleeps (in the fifo's open).
    fn blocked_on(&self, fifo: &str) -> bool {
        let Ok(entries) = fs::read_dir("/proc") else {
            return false;
        };
        entries.flatten().any(|entry| {
            let dir = entry.path();
            let cmdline = fs::read(dir.join("cmdline")).unwrap_or_default();
            let stat = fs::read_to_string(dir.join("stat")).unwrap_or_default();
            // pid (comm) STATE PPID ...: after the last ')'.
            let fields: Vec<&str> = stat
                .rsplit_once(')')
                .map_or(vec![], |(_, rest)| rest.split_whitespace().collect());
            String::from_utf8_lossy(&cmdline).contains(fifo)
                && fields.first() == Some(&"S")
                && fields.get(1) == Some(&self.make_pid().to_string().as_str())
        })
    }

    /// Lets the build go on past `stage`.
    pub fn release(&self, stage: usize) {
        let mut fifo = fs::OpenOptions::new()
            .write(true)
            .open(self.dir.path().join(format!("stage{stage}.fifo")))
            .unwrap();
        fifo.write_all(b"go\n").unwrap();
    }

    /// Waits for make to succeed, then stops the recording; returns the recording's path.
    pub fn finish(&mut self) -> PathBuf {
        assert!(self.make.wait().unwrap().success());
        let recorder = self.recorder.take().unwrap();
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(recorder.pid() as i32, libc::SIGINT) };
        let finished = recorder.finish();
        let Finished {
            status,
            stdout,
            stderr,
        } = finished;
        assert!(status.success(), "{stdout}{stderr:?}");
        self.dir.path().join("build.fwrec")
    }
}

impl Drop for MakeBuild {
    /// A failed test leaves no build behind: make is killed, and a stage's shell still
    /// blocked is let go (opening a fifo without a reader fails rather than blocks).
    fn drop(&mut self) {
        let _ = self.make.kill();
        let _ = self.make.wait();
        for stage in 1..=GROUPS.len() {
            let fifo = self.dir.path().join(format!("stage{stage}.fifo"));
            if let Ok(mut fifo) = fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(fifo)
            {
                let _ = fifo.write_all(b"go\n");
            }
        }
    }
}
