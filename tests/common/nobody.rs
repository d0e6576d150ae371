//! The built binaries as an ordinary user runs them: uid and gid 65534 ("nobody"), no
//! supplementary groups. target/ may be closed to that user (a clone under /root, as CI
//! makes), so they run from copies in a fresh directory that anyone can enter.

use std::{
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::Command,
};

use crate::program_copy::copy_program;

pub const UID: u32 = 65_534;

/// A directory under /tmp, open to everyone, with copies of some files in it; removed
/// when dropped.
pub struct Nobody {
    dir: tempfile::TempDir,
}

impl Nobody {
    /// Copies `files` (binaries, or anything else the user must read) into the directory,
    /// under their own names.
    pub fn with(files: &[&str]) -> Self {
        // /tmp itself rather than $TMPDIR, which may be private to root.
        let dir = tempfile::Builder::new()
            .prefix("fw-nobody-")
            .tempdir_in("/tmp")
            .unwrap();
        let open = std::fs::Permissions::from_mode(0o755);
        std::fs::set_permissions(dir.path(), open.clone()).unwrap();
        for file in files {
            let copy = dir.path().join(Path::new(file).file_name().unwrap());
            copy_program(file, &copy);
            std::fs::set_permissions(&copy, open.clone()).unwrap();
        }
        Self { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `setpriv` as the user, then `wrapper` (e.g. `unshare --user`), then the copy of
    /// the program named `program`.
    pub fn command(&self, wrapper: &[&str], program: &str) -> Command {
        let mut command = Command::new("setpriv");
        command
            .arg(format!("--reuid={UID}"))
            .arg(format!("--regid={UID}"))
            .arg("--clear-groups")
            .args(wrapper)
            .arg(self.path(program));
        command
    }
}
