//! A copy of /bin/true under a path of an exact length, made of nested directories (a
//! path component may have at most 255 bytes, a whole path 4095).

use std::{os::unix::ffi::OsStrExt, path::PathBuf};

use crate::program_copy::copy_program;

/// The program; its directories are removed when dropped.
pub struct LongPath {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl LongPath {
    /// `/bin/true` copied to a path of exactly `len` bytes.
    pub fn to_true(len: usize) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("fw-long-")
            .tempdir_in("/tmp")
            .unwrap();
        let mut path = dir.path().to_owned();
        let mut left = len - path.as_os_str().len();
        // Directories of 200 bytes, then a file name that makes up the rest (at least 50).
        while left > 250 {
            path.push("d".repeat(199));
            left -= 200;
        }
        path.push("t".repeat(left - 1));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        copy_program("/bin/true", &path);
        assert_eq!(path.as_os_str().as_bytes().len(), len);
        Self { _dir: dir, path }
    }

    pub fn bytes(&self) -> &[u8] {
        self.path.as_os_str().as_bytes()
    }
}
