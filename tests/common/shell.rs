//! A shell a test started, killed when dropped with the processes it runs: killing the
//! shell alone would leave them running.

use std::process::{Child, Command};

pub struct Shell(pub Child);

impl Shell {
    pub fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        // Its children go first: once it is killed they are no longer listed under it.
        let children = format!("/proc/{0}/task/{0}/children", self.0.id());
        for pid in std::fs::read_to_string(children)
            .unwrap_or_default()
            .split_whitespace()
        {
            let _ = Command::new("kill").arg(pid).status();
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
