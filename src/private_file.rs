//! Every file forkwatch writes (recordings, the log) is opened here, so that running it as
//! root cannot be turned against the machine or leak what it records.
//!
//! - A new file is created mode 0600 (whatever the umask allows of that): a recording holds
//!   every command line, secrets passed as arguments included.
//! - Nothing is followed at the last component of the path: a symbolic link put there by
//!   another user is refused, not written through (to /etc/shadow, say).
//! - An existing file is written only if it is a regular file, owned by the user it is
//!   opened as, with no other name (hard link) that could be anywhere. It is looked at
//!   without being opened (`O_PATH`: opening a fifo or a device can act on it), then the
//!   very file that was looked at is opened through `/proc/self/fd`, so a swap between the
//!   look and the open changes nothing.
//! - Permissions are never widened: group and others lose what they had, nothing is added.
//! - The null device is the one exception: writing to it keeps nothing (`--log /dev/null`).
//! - Under sudo, a file the user asked for is opened as them ([`privileges::files_as`]):
//!   where they may not write, forkwatch does not write for them (`-o /etc/ld.so.preload`
//!   is refused by the kernel), and a new file is theirs because they made it.
//!
//! Callers get a [`File`], so a writer that takes one can later be given standard output
//! instead (`-o -`).

use std::{
    fs::{File, Metadata, OpenOptions, Permissions},
    io,
    os::{
        fd::AsFd,
        unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt},
    },
    path::{Path, PathBuf},
};

use crate::{
    privileges::{self, User},
    proc,
};

/// What opening does to a file that is already there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Existing {
    /// Emptied: a recording starts a file of its own.
    Replace,
    /// Opened for writing as it is, for the caller to empty (`File::set_len(0)`, which
    /// takes no privilege) when it starts writing: a run that fails before leaves it be.
    Keep,
    /// Written at its end: the log goes on.
    Append,
}

/// Creates `path`, or empties the file there if it may be replaced.
pub fn create(path: &Path) -> io::Result<File> {
    open_for(path, Existing::Replace, None)
}

/// Opens `path` as `user` when given (the user who ran sudo, with their file-system
/// identity: see the module), else as forkwatch runs. An existing file must belong to
/// whom it is opened as.
pub fn open_for(path: &Path, existing: Existing, user: Option<&User>) -> io::Result<File> {
    let owner = user.map_or_else(|| rustix::process::geteuid().as_raw(), |u| u.uid.as_raw());
    privileges::files_as(user, || open(path, existing, owner))?
}

/// A file with no name in the directory `dir`, mode 0600, for reading and writing: no
/// one else can open it (`O_EXCL` keeps it from ever being linked), and it goes when the
/// last descriptor of it is closed.
pub fn unnamed_in(dir: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_TMPFILE | libc::O_EXCL | libc::O_NOCTTY)
        .open(dir)
}

/// A file with no name ([`unnamed_in`]) in `$TMPDIR` when it is set to an absolute path,
/// else in /var/tmp, else in /tmp; if none can hold one, the last directory tried and
/// why, for the caller to word. Not `$XDG_RUNTIME_DIR`, nor /tmp first: those are often
/// memory (tmpfs), and a stream or a merge can grow as large as a recording.
pub fn unnamed() -> Result<File, (PathBuf, io::Error)> {
    let chosen = std::env::var_os("TMPDIR")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute());
    let mut last = None;
    let defaults = ["/var/tmp", "/tmp"].map(PathBuf::from);
    for dir in chosen.into_iter().chain(defaults) {
        match unnamed_in(&dir) {
            Ok(file) => return Ok(file),
            Err(e) => last = Some((dir, e)),
        }
    }
    Err(last.expect("/tmp is always tried"))
}

/// `e` in words; under sudo, when the kernel refused access, also as whom forkwatch tried.
pub fn describe(e: &io::Error, user: Option<&User>) -> String {
    match user {
        Some(user) if e.raw_os_error() == Some(libc::EACCES) => format!(
            "{e}; under sudo forkwatch writes it as uid {}, who ran sudo",
            user.uid.as_raw()
        ),
        _ => e.to_string(),
    }
}

fn open(path: &Path, existing: Existing, owner: u32) -> io::Result<File> {
    // A file removed between the two tries below is created on the next round.
    for _ in 0..3 {
        match create_new(path, existing) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            created => return created,
        }
        match reopen(path, existing, owner) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            reopened => return reopened,
        }
    }
    Err(io::Error::other(
        "it keeps being removed and created again by someone else",
    ))
}

/// A new file, mode 0600. `O_EXCL` fails on any name that exists, a symbolic link (even a
/// dangling one) included.
fn create_new(path: &Path, existing: Existing) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .append(existing == Existing::Append)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NOCTTY)
        .open(path)
}

/// The file already at `path`, if it may be written.
fn reopen(path: &Path, existing: Existing, owner: u32) -> io::Result<File> {
    let handle = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_NOFOLLOW)
        .open(path)?;
    let metadata = handle.metadata()?;
    let null = is_null_device(&metadata);
    if !null {
        check(&metadata, owner)?;
    }
    // The magic link names the inode `handle` holds, whatever `path` names by now.
    let file = OpenOptions::new()
        .write(existing != Existing::Append)
        .append(existing == Existing::Append)
        .truncate(existing == Existing::Replace && !null)
        .custom_flags(libc::O_NOCTTY)
        .open(proc::this_process::fd_path(handle.as_fd()))?;
    if null {
        return Ok(file);
    }
    let mode = metadata.mode() & 0o7777;
    if mode & !0o600 != 0 {
        file.set_permissions(Permissions::from_mode(mode & 0o600))?;
    }
    Ok(file)
}

fn is_null_device(metadata: &Metadata) -> bool {
    metadata.file_type().is_char_device() && metadata.rdev() == libc::makedev(1, 3)
}

/// Refuses anything but a regular file of `owner`'s with one name, saying why.
fn check(metadata: &Metadata, owner: u32) -> io::Result<()> {
    let kind = metadata.file_type();
    let refuse = |why: String| Err(io::Error::new(io::ErrorKind::PermissionDenied, why));
    if kind.is_symlink() {
        return refuse("it is a symbolic link, which forkwatch does not follow".to_owned());
    }
    if !kind.is_file() {
        let what = if kind.is_dir() {
            "a directory"
        } else if kind.is_fifo() {
            "a fifo"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "a device"
        };
        return refuse(format!("it is {what}, not a regular file"));
    }
    if metadata.uid() != owner {
        let whose = if owner == rustix::process::geteuid().as_raw() {
            format!("forkwatch (uid {owner}) replaces only its own files")
        } else {
            format!("forkwatch, writing for uid {owner} (who ran sudo), replaces only their files")
        };
        return refuse(format!("it belongs to uid {}, and {whose}", metadata.uid()));
    }
    if metadata.nlink() > 1 {
        return refuse(format!(
            "it has {} hard links, and forkwatch writes only files with one name",
            metadata.nlink()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::{io::Write, os::unix::fs::symlink};

    use super::*;

    /// Creates `path`, or opens the file there for appending, as the log is opened.
    fn append(path: &Path) -> io::Result<File> {
        open_for(path, Existing::Append, None)
    }

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
    }

    #[test]
    fn a_new_file_is_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new");
        create(&path).unwrap().write_all(b"x").unwrap();
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn an_own_file_is_replaced_or_appended_to_and_loses_group_and_other_bits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("own");
        std::fs::write(&path, b"old").unwrap();
        std::fs::set_permissions(&path, Permissions::from_mode(0o644)).unwrap();
        append(&path).unwrap().write_all(b" more").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"old more");
        assert_eq!(mode(&path), 0o600);
        // Read-only for its owner stays read-only: nothing is added.
        std::fs::set_permissions(&path, Permissions::from_mode(0o440)).unwrap();
        create(&path).unwrap().write_all(b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_eq!(mode(&path), 0o400);
    }

    #[test]
    fn a_file_kept_to_be_replaced_holds_what_it_held_until_the_caller_empties_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kept");
        std::fs::write(&path, b"old contents").unwrap();
        std::fs::set_permissions(&path, Permissions::from_mode(0o644)).unwrap();
        let mut file = open_for(&path, Existing::Keep, None).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"old contents");
        assert_eq!(mode(&path), 0o600);
        file.set_len(0).unwrap();
        file.write_all(b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
    }

    #[test]
    fn links_fifos_directories_and_strangers_files_are_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, b"keep").unwrap();
        let link = dir.path().join("link");
        symlink(&target, &link).unwrap();
        let dangling = dir.path().join("dangling");
        symlink(dir.path().join("nowhere"), &dangling).unwrap();
        let hard = dir.path().join("hard");
        std::fs::hard_link(&target, &hard).unwrap();
        let fifo = dir.path().join("fifo");
        let c_fifo = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid C string.
        assert_eq!(unsafe { libc::mkfifo(c_fifo.as_ptr(), 0o600) }, 0);
        let stranger = dir.path().join("stranger");
        std::fs::write(&stranger, b"theirs").unwrap();
        std::os::unix::fs::chown(&stranger, Some(65_534), Some(65_534)).unwrap();

        let refusal = |path: &Path| create(path).err().unwrap().to_string();
        let symbolic = "it is a symbolic link, which forkwatch does not follow";
        assert_eq!(refusal(&link), symbolic);
        assert_eq!(refusal(&dangling), symbolic);
        assert_eq!(
            refusal(&hard),
            "it has 2 hard links, and forkwatch writes only files with one name"
        );
        assert_eq!(refusal(&fifo), "it is a fifo, not a regular file");
        assert_eq!(refusal(dir.path()), "it is a directory, not a regular file");
        assert_eq!(
            refusal(&stranger),
            "it belongs to uid 65534, and forkwatch (uid 0) replaces only its own files"
        );
        assert_eq!(append(&link).err().unwrap().to_string(), symbolic);
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
        assert_eq!(std::fs::read(&stranger).unwrap(), b"theirs");
        assert!(!dir.path().join("nowhere").exists());
    }

    #[test]
    fn the_null_device_is_written_as_it_is() {
        let before = mode(Path::new("/dev/null"));
        append(Path::new("/dev/null"))
            .unwrap()
            .write_all(b"gone")
            .unwrap();
        create(Path::new("/dev/null"))
            .unwrap()
            .write_all(b"gone")
            .unwrap();
        assert_eq!(mode(Path::new("/dev/null")), before);
        let refused = create(Path::new("/dev/zero")).err().unwrap();
        assert_eq!(refused.to_string(), "it is a device, not a regular file");
    }

    #[test]
    fn a_missing_directory_is_the_system_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = create(&dir.path().join("missing/file")).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}
