//! Where a process lives: its PID namespace and its cgroup v2 path.

use std::{borrow::Cow, fmt, sync::Arc};

use crate::text;

/// A process's PID namespace and the process id it has there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PidNamespace {
    /// The namespace's inode number, as `/proc/PID/ns/pid` shows it (`pid:[INODE]`).
    pub inode: u32,
    /// The process id (thread group id) inside that namespace.
    pub pid: u32,
}

/// A cgroup v2 path as the kernel gives it (`/system.slice/sshd.service`), relative to the
/// root of the cgroup hierarchy. Bytes, not text: a directory name can be anything. Shared:
/// every event of a cgroup holds the same bytes, so a clone costs a reference count.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CgroupPath(Arc<[u8]>);

impl CgroupPath {
    pub fn new(bytes: &[u8]) -> Self {
        Self(bytes.into())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// As text, undecodable bytes replaced by U+FFFD: for JSON and searching, not for a
    /// terminal.
    pub fn as_str(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }

    /// As a terminal may show it: [escaped](text::escape).
    pub fn escaped(&self) -> Cow<'_, str> {
        text::escape(&self.0)
    }
}

/// Shown [escaped](text::escape): safe to print anywhere.
impl fmt::Display for CgroupPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.escaped())
    }
}

impl fmt::Debug for CgroupPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.escaped())
    }
}

impl From<&str> for CgroupPath {
    fn from(s: &str) -> Self {
        Self::new(s.as_bytes())
    }
}
