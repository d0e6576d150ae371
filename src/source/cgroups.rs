//! cgroup v2 ids turned into paths, for the probe, whose events carry only the id.
//!
//! A cgroup v2 id is the inode number of its directory in the cgroup file system. An id not
//! seen yet is first looked for where its process is now (`/proc/PID/cgroup`, confirmed by
//! the directory's inode: two system calls); failing that (the process is gone, or moved
//! on), a walk of that file system finds every cgroup's path, at most once per
//! [`RESCAN_GAP`] (or longer if walks are slow). Paths are kept within [`MAX_PATHS`] paths
//! and [`MAX_PATH_BYTES`] bytes: per event the cost is one hash lookup.

use std::{
    collections::HashSet,
    os::unix::{ffi::OsStrExt, fs::MetadataExt},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use crate::{
    clock,
    event::{CgroupPath, KeyMap, MAX_CGROUP_PATH_BYTES},
    proc::place,
};

/// Where cgroup v2 is mounted: the unified hierarchy, or its place beside v1 ones.
const MOUNTS: [&str; 2] = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"];
/// `CGROUP2_SUPER_MAGIC` from include/uapi/linux/magic.h.
const CGROUP2_MAGIC: i64 = 0x6367_7270;

/// The shortest time between two walks.
const RESCAN_GAP: Duration = Duration::from_millis(20);
/// A walk is followed by at least this many times its own duration without one: walks
/// cost at most a twentieth of a CPU, however many unknown ids come.
const RESCAN_FACTOR: u32 = 20;
/// The most paths kept, and the most bytes in them.
pub const MAX_PATHS: usize = 16_384;
pub const MAX_PATH_BYTES: usize = 4 << 20;
/// The most directories one walk visits.
const MAX_WALK: usize = 65_536;
/// The most ids remembered as having no directory.
const MAX_MISSING: usize = 4096;

/// Where the cgroup v2 hierarchy is mounted, if it is: `/sys/fs/cgroup` on a unified
/// system, `/sys/fs/cgroup/unified` beside cgroup v1 ones.
pub fn cgroup2_mount() -> Option<PathBuf> {
    MOUNTS
        .iter()
        .map(Path::new)
        .find(|p| rustix::fs::statfs(*p).is_ok_and(|s| s.f_type == CGROUP2_MAGIC))
        .map(Path::to_path_buf)
}

/// Paths of cgroup ids, cached.
pub struct CgroupPaths {
    /// The cgroup v2 mount; `None` when there is none, and no id has a path.
    root: Option<PathBuf>,
    /// Hashed cheaply: the ids are inode numbers the kernel gives out.
    paths: KeyMap<u64, CgroupPath>,
    /// The bytes of the paths kept.
    bytes: usize,
    /// The last id looked up and its path: events come in runs of one cgroup (a build, a
    /// storm), and this spares them the hash lookup.
    last: Option<(u64, CgroupPath)>,
    /// Ids a walk that began after their event did not find: removed cgroups, or ones
    /// outside this mount. Not looked for again.
    missing: HashSet<u64>,
    /// When the next walk may be.
    next_walk: Option<Instant>,
    /// CLOCK_BOOTTIME at which the last walk began.
    walked_at_ns: u64,
}

impl CgroupPaths {
    /// Finds the cgroup v2 mount and walks it once.
    pub fn new() -> Self {
        Self::at(cgroup2_mount())
    }

    fn at(root: Option<PathBuf>) -> Self {
        let mut paths = Self {
            root,
            paths: KeyMap::default(),
            bytes: 0,
            last: None,
            missing: HashSet::new(),
            next_walk: None,
            walked_at_ns: 0,
        };
        paths.walk(None);
        paths
    }

    /// The path of cgroup `id`, as seen in an event of process `pid` at `ts_ns`; `None` if
    /// it has none (yet).
    pub fn path(&mut self, id: u64, pid: u32, ts_ns: u64) -> Option<CgroupPath> {
        if let Some((last, path)) = &self.last
            && *last == id
        {
            return Some(path.clone());
        }
        if let Some(path) = self.paths.get(&id) {
            self.last = Some((id, path.clone()));
            return Some(path.clone());
        }
        if let Some(path) = self.where_process_is(id, pid) {
            if self.paths.len() < MAX_PATHS && self.bytes + path.as_bytes().len() <= MAX_PATH_BYTES
            {
                self.bytes += path.as_bytes().len();
                self.paths.insert(id, path.clone());
            }
            return Some(path);
        }
        if self.missing.contains(&id) || self.next_walk.is_some_and(|t| Instant::now() < t) {
            return None;
        }
        let found = self.walk(Some(id));
        if found.is_none() && ts_ns < self.walked_at_ns {
            if self.missing.len() >= MAX_MISSING {
                self.missing.clear();
            }
            self.missing.insert(id);
        }
        found
    }

    /// The cgroup process `pid` is in now, if it is cgroup `id`.
    fn where_process_is(&self, id: u64, pid: u32) -> Option<CgroupPath> {
        let root = self.root.as_ref()?;
        let path = place::cgroup_path(pid)?;
        let relative = std::ffi::OsStr::from_bytes(path.as_bytes().strip_prefix(b"/")?);
        let dir = std::fs::symlink_metadata(root.join(relative)).ok()?;
        (dir.is_dir() && dir.ino() == id).then_some(path)
    }

    /// Walks the cgroup file system again, keeping what fits in the bounds, and `wanted`
    /// in any case; returns `wanted`'s path.
    fn walk(&mut self, wanted: Option<u64>) -> Option<CgroupPath> {
        let root = self.root.clone()?;
        let started = Instant::now();
        self.walked_at_ns = clock::boottime_ns();
        let mut paths = KeyMap::default();
        let mut bytes = 0;
        let mut found = None;
        let mut visited = 0;
        let mut pending = vec![(root.clone(), b"/".to_vec())];
        while let Some((dir, path)) = pending.pop() {
            let Ok(meta) = std::fs::symlink_metadata(&dir) else {
                continue;
            };
            let id = meta.ino();
            if path.len() > MAX_CGROUP_PATH_BYTES {
                continue;
            }
            let fits = paths.len() < MAX_PATHS && bytes + path.len() <= MAX_PATH_BYTES;
            if fits || wanted == Some(id) {
                let path = CgroupPath::new(&path);
                if wanted == Some(id) {
                    found = Some(path.clone());
                }
                bytes += path.as_bytes().len();
                paths.insert(id, path);
            }
            visited += 1;
            if visited >= MAX_WALK {
                break;
            }
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                // What one walk may visit bounds what waits to be visited.
                if visited + pending.len() >= MAX_WALK {
                    break;
                }
                // Only directories are cgroups; a symlink is never followed.
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    let name = entry.file_name();
                    let mut child = path.clone();
                    if child.len() > 1 {
                        child.push(b'/');
                    }
                    child.extend_from_slice(name.as_bytes());
                    pending.push((entry.path(), child));
                }
            }
        }
        self.paths = paths;
        self.bytes = bytes;
        self.last = None;
        self.missing.retain(|id| !self.paths.contains_key(id));
        let gap = RESCAN_GAP.max(started.elapsed() * RESCAN_FACTOR);
        self.next_walk = Some(Instant::now() + gap);
        tracing::debug!(paths = self.paths.len(), bytes, ?gap, "cgroup paths walked");
        found
    }
}

impl Default for CgroupPaths {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory tree stands in for the cgroup file system: its inodes are the ids.
    #[test]
    fn finds_new_directories_by_inode_and_forgets_none_that_fit() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.slice");
        std::fs::create_dir(&a).unwrap();
        let ino = |p: &Path| std::fs::metadata(p).unwrap().ino();
        let mut paths = CgroupPaths::at(Some(dir.path().to_path_buf()));
        let now = clock::boottime_ns();
        assert_eq!(paths.path(ino(&a), 0, now).unwrap().as_bytes(), b"/a.slice");
        assert_eq!(
            paths.path(ino(dir.path()), 0, now).unwrap().as_bytes(),
            b"/"
        );

        let b = a.join("b \u{1b}.scope");
        std::fs::create_dir(&b).unwrap();
        paths.next_walk = None;
        let found = paths.path(ino(&b), 0, clock::boottime_ns()).unwrap();
        assert_eq!(found.as_bytes(), "/a.slice/b \u{1b}.scope".as_bytes());

        // An id no walk after its event finds is not looked for again.
        paths.next_walk = None;
        assert_eq!(paths.path(u64::MAX, 0, 0), None);
        assert!(paths.missing.contains(&u64::MAX));
    }

    #[test]
    fn the_machines_cgroup_root_is_found() {
        let mut paths = CgroupPaths::new();
        let root = paths.root.clone().expect("cgroup v2 is mounted here");
        let id = std::fs::metadata(&root).unwrap().ino();
        assert_eq!(paths.path(id, 0, 0).unwrap().as_bytes(), b"/");
    }

    /// A cgroup made after the last walk, with no walk allowed: found where its process is.
    #[test]
    fn a_new_cgroup_is_found_where_its_process_is_without_a_walk() {
        let mut paths = CgroupPaths::new();
        let root = paths.root.clone().expect("cgroup v2 is mounted here");
        let dir = root.join(format!("fw-where-{}", std::process::id()));
        std::fs::create_dir(&dir).unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        std::fs::write(dir.join("cgroup.procs"), child.id().to_string()).unwrap();
        paths.next_walk = Some(Instant::now() + Duration::from_secs(3600));
        let id = std::fs::metadata(&dir).unwrap().ino();
        let found = paths.path(id, child.id(), clock::boottime_ns());
        let _ = child.kill();
        let _ = child.wait();
        for _ in 0..100 {
            if std::fs::remove_dir(&dir).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let expected = format!("/fw-where-{}", std::process::id());
        assert_eq!(found.unwrap().as_bytes(), expected.as_bytes());
        assert_eq!(
            paths.path(id, 0, 0).unwrap().as_bytes(),
            expected.as_bytes(),
            "kept"
        );
        assert_eq!(
            paths.path(id + 1_000_000, child.id(), 0),
            None,
            "another id"
        );
    }
}
