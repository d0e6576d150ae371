//! A user who ran sudo, as the real binary sees one: `SUDO_UID` and `SUDO_GID` in its
//! environment, and, in a mount namespace of its own, an /etc/passwd and /etc/group that
//! give that user an account, a home and a supplementary group, and root a home of the
//! test's own. The tests depend on no account of the machine's.

use std::{
    os::unix::fs::{DirBuilderExt, PermissionsExt},
    path::{Path, PathBuf},
    process::Command,
};

/// The user who ran sudo.
pub const UID: u32 = 4321;
pub const GID: u32 = 4322;
/// A group the user is a member of, besides their own.
pub const SHARED_GID: u32 = 4323;

/// The accounts' files and homes, in a directory under /tmp that everyone may enter;
/// removed when dropped.
pub struct Accounts {
    dir: tempfile::TempDir,
}

impl Accounts {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("fw-accounts-")
            .tempdir_in("/tmp")
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let accounts = Self { dir };
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(accounts.root_home())
            .unwrap();
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(accounts.home())
            .unwrap();
        std::os::unix::fs::chown(accounts.home(), Some(UID), Some(GID)).unwrap();
        let passwd = format!(
            "root:x:0:0:root:{}:/bin/sh\nfwuser:x:{UID}:{GID}::{}:/bin/sh\n\
             nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
            accounts.root_home().display(),
            accounts.home().display()
        );
        std::fs::write(accounts.path("passwd"), passwd).unwrap();
        let group = format!(
            "root:x:0:\nfwuser:x:{GID}:\nfwshared:x:{SHARED_GID}:nobody,fwuser\n\
             nogroup:x:65534:\n"
        );
        std::fs::write(accounts.path("group"), group).unwrap();
        accounts
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Root's home in these accounts.
    pub fn root_home(&self) -> PathBuf {
        self.path("root")
    }

    /// The user's home, theirs, mode 0700.
    pub fn home(&self) -> PathBuf {
        self.path("home")
    }

    /// A directory of root's that the user's supplementary group may write (0770).
    pub fn shared_dir(&self) -> PathBuf {
        let dir = self.path("shared");
        if !dir.exists() {
            std::fs::create_dir(&dir).unwrap();
            // Not through the umask.
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o770)).unwrap();
            std::os::unix::fs::chown(&dir, Some(0), Some(SHARED_GID)).unwrap();
        }
        dir
    }

    /// `program` run by root with sudo for the user, with these accounts.
    pub fn sudo(&self, program: &Path) -> Command {
        let mut command = Command::new("unshare");
        command
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(
                r#"mount --bind "$1" /etc/passwd && mount --bind "$2" /etc/group && shift 2 &&
                exec "$@""#,
            )
            .arg("sh")
            .arg(self.path("passwd"))
            .arg(self.path("group"))
            .arg(program)
            .env("SUDO_UID", UID.to_string())
            .env("SUDO_GID", GID.to_string());
        command
    }
}
