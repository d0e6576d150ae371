//! A shell that runs other programs for a test; killed with its children when dropped,
//! as killing the shell alone would leave them running.

use std::process::{Child, Command};

pub struct Shell(Child);

impl Shell {
    pub fn new(shell: Child) -> Self {
        Self(shell)
    }

    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Its children's pids, as /proc lists them.
    pub fn children(&self) -> Vec<String> {
        std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", self.pid()))
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        for pid in self.children() {
            let _ = Command::new("kill").arg(pid).status();
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
