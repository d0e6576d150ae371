//! The log goes to a file, never to the terminal the UI draws on.

use std::{
    ffi::OsStr,
    fs::File,
    io,
    os::fd::{AsFd, OwnedFd},
    path::{Component, Path, PathBuf},
};

use rustix::{
    fs::{CWD, Mode, OFlags},
    io::Errno,
};
use tracing_subscriber::EnvFilter;

use crate::{
    private_file::{self, Existing},
    privileges::{self, User},
    proc, text,
};

/// `$XDG_STATE_HOME/forkwatch/forkwatch.log`, or `~/.local/state/forkwatch/forkwatch.log`.
/// Under sudo the environment is the user's (`sudo -E`, `env_keep`) and is not asked:
/// the log goes to root's home from the user database, as root's. It records what a root
/// run did, so the user who ran sudo must not be able to read, edit or remove it (as they
/// could in a home of theirs), and plain sudo, which sets HOME to root's, put it there
/// already.
fn default_path(sudo: bool) -> Option<PathBuf> {
    let state = if sudo {
        privileges::root_home()?.join(".local/state")
    } else {
        std::env::var_os("XDG_STATE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/state")))?
    };
    Some(state.join("forkwatch").join("forkwatch.log"))
}

/// Opens the log at `path` for appending ([`private_file`]), as `user` when given (under
/// sudo), making the directories it needs, each private (0700).
fn open(path: &Path, user: Option<&User>) -> anyhow::Result<File> {
    let shown = text::escape_path(path);
    let file_error = |e: io::Error| {
        anyhow::anyhow!(
            "cannot open the log file {shown}: {}",
            private_file::describe(&e, user)
        )
    };
    let Some(name) = path.file_name() else {
        // `/`, `..`: refused as what they are.
        return private_file::open_for(path, Existing::Append, user).map_err(file_error);
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let dir = privileges::files_as(user, || private_dir(dir))
        .and_then(|made| made)
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot make the log's directory for {shown}: {}",
                private_file::describe(&e, user)
            )
        })?;
    // Through the directory just opened, not its path again.
    let inside = proc::this_process::fd_path(dir.as_fd()).join(name);
    private_file::open_for(&inside, Existing::Append, user).map_err(file_error)
}

/// The directory `dir`, made with what is missing of it, mode 0700. A directory made here
/// is entered without following a symbolic link (one put in its place meanwhile leads
/// nowhere); those that were there are followed, as any path is.
fn private_dir(dir: &Path) -> io::Result<OwnedFd> {
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let start = if dir.is_absolute() { "/" } else { "." };
    let mut at = rustix::fs::openat(CWD, start, flags, Mode::empty())?;
    for component in dir.components() {
        let name = match component {
            Component::Normal(name) => name,
            Component::ParentDir => OsStr::new(".."),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => continue,
        };
        at = match rustix::fs::openat(&at, name, flags, Mode::empty()) {
            Err(Errno::NOENT) => match rustix::fs::mkdirat(&at, name, Mode::RWXU) {
                Ok(()) => rustix::fs::openat(&at, name, flags | OFlags::NOFOLLOW, Mode::empty())?,
                // Made by someone else meanwhile: there now, like the others.
                Err(Errno::EXIST) => rustix::fs::openat(&at, name, flags, Mode::empty())?,
                Err(e) => return Err(e.into()),
            },
            opened => opened?,
        };
    }
    Ok(at)
}

/// Starts logging to `path`, or to the default place. The level comes from `FORKWATCH_LOG`
/// (default `info`). A `--log` file that cannot be opened is an error; when the default
/// place cannot be (a user whose HOME is someone else's), the program runs without a log.
/// Under sudo a `--log` is opened as the user who ran sudo: they chose where it goes.
pub fn init(path: Option<&Path>) -> anyhow::Result<()> {
    let sudo = privileges::sudo_user();
    let file = match path {
        Some(path) => open(path, sudo.as_ref())?,
        None => match default_path(sudo.is_some()).map(|path| open(&path, None)) {
            Some(Ok(file)) => file,
            _ => return Ok(()),
        },
    };
    let filter =
        EnvFilter::try_from_env("FORKWATCH_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .init();
    Ok(())
}
