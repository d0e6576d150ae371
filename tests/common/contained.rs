//! A process in a container of its own: a freshly made cgroup v2 directory and a new PID
//! namespace (`unshare --pid --fork --mount-proc`), whose pid 1 waits for a line. Standard
//! library only, so that the library's unit tests can use it too.

use std::{
    io::Write,
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, Stdio},
    time::Duration,
};

/// A cgroup v2 directory made for one test, removed when dropped (after its processes,
/// which the test ends first). Its name holds an escape sequence, as anyone's may.
pub struct Cgroup {
    pub dir: PathBuf,
}

impl Cgroup {
    /// Makes `fw-TAG-PID-\e[1m` under the cgroup v2 mount `root`.
    pub fn new(root: &Path, tag: &str) -> Self {
        let dir = root.join(format!("fw-{tag}-{}-\u{1b}[1m", std::process::id()));
        std::fs::create_dir(&dir).expect("a cgroup can be made (tests run as root)");
        Self { dir }
    }

    /// Its path as the kernel names it: from the hierarchy's root.
    pub fn path(&self) -> String {
        format!("/{}", self.dir.file_name().unwrap().to_str().unwrap())
    }

    /// Its id: its directory's inode.
    pub fn id(&self) -> u64 {
        std::fs::metadata(&self.dir).unwrap().ino()
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        // A cgroup can be removed once its last process has exited, which the kernel
        // notes a moment after the exit: a few attempts.
        for _ in 0..100 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("could not remove {}", self.dir.display());
    }
}

/// A shell that moves itself into a cgroup and becomes `unshare`, whose child, pid 1 of a
/// new PID namespace, runs `sh -c 'read line' MARKER` until it reads a line.
pub struct Contained {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Contained {
    pub fn start(cgroup: &Cgroup, marker: &str) -> Self {
        let script =
            "echo $$ > \"$1\" && exec unshare --pid --fork --mount-proc sh -c 'read line' \"$2\"";
        let mut child = Command::new("sh")
            .args(["-c", script, "sh"])
            .arg(cgroup.dir.join("cgroup.procs"))
            .arg(marker)
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        Self { child, stdin }
    }

    /// The pid of `unshare` (first the shell's).
    pub fn outer(&self) -> u32 {
        self.child.id()
    }

    /// Lets the namespace's pid 1 end, and reaps `unshare`.
    pub fn finish(mut self) {
        let mut stdin = self.stdin.take().unwrap();
        stdin.write_all(b"\n").unwrap();
        drop(stdin);
        assert!(self.child.wait().unwrap().success());
    }
}

impl Drop for Contained {
    fn drop(&mut self) {
        if self.stdin.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The inode of the PID namespace of process `pid`, from `/proc/PID/ns/pid`.
pub fn pid_namespace_inode(pid: u32) -> u32 {
    let link = std::fs::read_link(format!("/proc/{pid}/ns/pid")).unwrap();
    let text = link.to_str().unwrap();
    text["pid:[".len()..text.len() - 1].parse().unwrap()
}
