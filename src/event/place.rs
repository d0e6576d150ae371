//! Where a process lives: its PID namespace and its cgroup v2 path.

use std::{
    borrow::Cow,
    fmt,
    hash::{Hash, Hasher},
    sync::{Arc, OnceLock},
};

use serde_json::value::RawValue;

use crate::text;

/// A process's PID namespace and the process id it has there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PidNamespace {
    /// The namespace's inode number, as `/proc/PID/ns/pid` shows it (`pid:[INODE]`).
    pub inode: u32,
    /// The process id (thread group id) inside that namespace.
    pub pid: u32,
}

/// The longest cgroup path kept (PATH_MAX): sources give none longer (a longer one is
/// unknown), and in a recording a longer one is damage, so memory stays bounded per path.
pub const MAX_CGROUP_PATH_BYTES: usize = 4096;

/// A cgroup v2 path as the kernel gives it (`/system.slice/sshd.service`), relative to the
/// root of the cgroup hierarchy. Bytes, not text: a directory name can be anything. Shared:
/// every event of a cgroup holds the same bytes, so a clone costs a reference count.
#[derive(Clone)]
pub struct CgroupPath(Arc<Shared>);

struct Shared {
    bytes: Box<[u8]>,
    /// What an event's JSON form says of the path, made by its first event's: the same
    /// for every event of the cgroup, so the others copy it rather than escape the path
    /// and find its container again (README, Performance, has the figures).
    json: OnceLock<JsonFields>,
}

/// The JSON values of an event's `cgroup`, `cgroup_base64` and `container` fields.
pub(super) struct JsonFields {
    pub cgroup: Box<RawValue>,
    pub cgroup_base64: Option<String>,
    pub container: Box<RawValue>,
}

impl CgroupPath {
    pub fn new(bytes: &[u8]) -> Self {
        Self(Arc::new(Shared {
            bytes: bytes.into(),
            json: OnceLock::new(),
        }))
    }

    /// `bytes` as a path if it is no longer than [`MAX_CGROUP_PATH_BYTES`].
    pub fn bounded(bytes: &[u8]) -> Option<Self> {
        (bytes.len() <= MAX_CGROUP_PATH_BYTES).then(|| Self::new(bytes))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0.bytes
    }

    /// As text, undecodable bytes replaced by U+FFFD: for JSON and searching, not for a
    /// terminal.
    pub fn as_str(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(self.as_bytes())
    }

    /// As a terminal may show it: [escaped](text::escape).
    pub fn escaped(&self) -> Cow<'_, str> {
        text::escape(self.as_bytes())
    }

    /// The JSON fields of the path, made by `make` the first time.
    pub(super) fn json_fields(&self, make: impl FnOnce(&Self) -> JsonFields) -> &JsonFields {
        self.0.json.get_or_init(|| make(self))
    }
}

impl PartialEq for CgroupPath {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for CgroupPath {}

impl Hash for CgroupPath {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
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
