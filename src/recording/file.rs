//! Opening recording files: created for the user who asked for them, opened for reading
//! with every privilege given up. The terminal UI and the commands both record and replay.

use std::{fs::File, io, os::fd::AsFd, path::Path};

use anyhow::{Result, anyhow};

use super::{OpenError, Replay, Stream};
use crate::{private_file, privileges, proc, signals::StopSignals, text};

/// Creates the recording file `path` ([`private_file`]; what becomes of an existing one
/// `existing` says), or says in one line why not. Under sudo it is created as the user who
/// ran sudo, in their name and with their rights: they asked for it, and a replay reads it
/// as them.
pub fn create(path: &Path, existing: private_file::Existing) -> Result<File> {
    let user = privileges::sudo_user();
    private_file::open_for(path, existing, user.as_ref()).map_err(|e| {
        anyhow!(
            "cannot create the recording {}: {}",
            text::escape_path(path),
            private_file::describe(&e, user.as_ref())
        )
    })
}

/// Opens `file`, a recording [`create`] made, once more for reading: through the file
/// itself, not its path, which may name another file by then.
pub fn reopen(file: &File) -> Result<File> {
    File::open(proc::this_process::fd_path(file.as_fd()))
        .map_err(|e| anyhow!("cannot read back the recording: {e}"))
}

/// Names standard input to `replay` and standard output to `record -o`: a stream.
pub const STANDARD_STREAM: &str = "-";

/// Opens the recording at `path` and gives up every privilege before a byte of it is read:
/// whoever wrote it controls all of it. Run with sudo, it is opened as the user who ran
/// sudo, so sudo cannot read for them what they could not read themselves; run by root
/// itself, it is opened as root (a root shell's own recordings are root's) and read as
/// nobody. Says in one line why it cannot be opened; when it may not be read, also who
/// tried.
pub fn open(path: &Path) -> Result<Replay> {
    open_file(path)
        .and_then(Replay::from_file)
        .map_err(|e| cannot_replay(path, &e))
}

/// [`open`], or when the recording is still arriving, its replay as it arrives: with
/// `follow`, of the file at `path` while it is written ([`follow`](super::follow)); from
/// standard input when `path` is [`STANDARD_STREAM`] ([`Stream`]). Waits for the
/// recording's info and snapshot to arrive; `None` if `stop` came first.
pub async fn open_arriving(
    path: &Path,
    follow: bool,
    stop: &mut StopSignals,
) -> Result<Option<Replay>> {
    let stdin = path == Path::new(STANDARD_STREAM);
    if !stdin && !follow {
        return open(path).map(Some);
    }
    let opened = async {
        if stdin {
            // Given up before the spool file is made: the stream is read as nobody.
            privileges::give_up_all().map_err(|e| OpenError::Io(io::Error::other(e)))?;
            Stream::spool(io::stdin()).await.map(|(replay, _)| replay)
        } else {
            super::follow(open_file(path)?).await
        }
    };
    tokio::select! {
        replay = opened => replay.map(Some).map_err(|e| {
            if stdin {
                anyhow!("cannot replay standard input: {e}")
            } else {
                cannot_replay(path, &e)
            }
        }),
        () = stop.recv() => Ok(None),
    }
}

/// The file at `path`, opened as [`open`] says.
fn open_file(path: &Path) -> Result<File, OpenError> {
    let file = if privileges::sudo_user().is_some() {
        privileges::give_up_all().map_err(|e| OpenError::Io(io::Error::other(e)))?;
        File::open(path)
    } else {
        let file = File::open(path);
        privileges::give_up_all().map_err(|e| OpenError::Io(io::Error::other(e)))?;
        file
    };
    file.map_err(OpenError::Io)
}

/// Why `path` cannot be replayed, in one line; when it may not be read, also who tried.
fn cannot_replay(path: &Path, e: &OpenError) -> anyhow::Error {
    let denied = matches!(&e, OpenError::Io(e) if e.kind() == io::ErrorKind::PermissionDenied);
    let who = if denied {
        format!(
            "; a replay reads it as uid {}, never as root",
            rustix::process::geteuid().as_raw()
        )
    } else {
        String::new()
    };
    anyhow!("cannot replay {}: {e}{who}", text::escape_path(path))
}
