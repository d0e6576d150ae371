//! Opening recording files: created for the user who asked for them, opened for reading
//! with every privilege given up. The terminal UI and the commands both record and replay.

use std::{
    fs::File,
    io::{self, IsTerminal},
    os::fd::AsFd,
    path::{Path, PathBuf},
};

use anyhow::{Result, anyhow, bail};

use super::{
    OpenError, Reader, Replay, Stream,
    merge::{self, KeyframeModel, Part},
};
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

/// Opens `paths` as [`open`] opens one (each opened before privileges are given up when
/// run by root itself, after when under sudo), then gives them up.
fn open_unprivileged(paths: &[PathBuf]) -> Result<Vec<(PathBuf, io::Result<File>)>> {
    let open_each = || (paths.iter()).map(|p| (p.clone(), File::open(p))).collect();
    if privileges::sudo_user().is_some() {
        privileges::give_up_all()?;
        Ok(open_each())
    } else {
        let files = open_each();
        privileges::give_up_all()?;
        Ok(files)
    }
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
    if stdin && io::stdin().is_terminal() {
        bail!(
            "replay - reads a recording from standard input, which is a terminal: pipe one in \
             (forkwatch-tui record -o - | forkwatch-tui replay -)"
        );
    }
    let opened = async {
        if stdin {
            // Given up before the spool file is made: the stream is read as nobody.
            privileges::give_up_all().map_err(|e| OpenError::Io(io::Error::other(e)))?;
            Stream::spool(io::stdin()).await
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
    let opened = open_unprivileged(&[path.to_path_buf()]);
    let (_, file) = (opened
        .map_err(|e| OpenError::Io(io::Error::other(e)))?
        .pop())
    .expect("one file for one path");
    file.map_err(OpenError::Io)
}

/// Says in one line why the recording at `path` cannot be replayed; when it may not be
/// read, also who tried.
fn cannot_replay(path: &Path, e: &OpenError) -> anyhow::Error {
    let denied = matches!(e, OpenError::Io(e) if e.kind() == io::ErrorKind::PermissionDenied);
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

/// Recordings opened as one replay.
pub struct Opened {
    pub replay: Replay,
    /// Damage in the recordings of a merge that it went on after (`--skip-damage`), a line
    /// each naming its file; the merge itself is intact.
    pub damaged: Vec<String>,
}

/// Opens the recordings at `paths` as one replay: one as [`open`] does, several as their
/// merge ([`merge`](super::merge)), written to a file of its own that has no name and
/// goes when the replay does. A file that cannot be replayed is one line naming it.
pub fn open_all(paths: &[PathBuf], skip_damage: bool, keyframes: KeyframeModel) -> Result<Opened> {
    if let [path] = paths {
        let replay = open(path)?;
        return Ok(Opened {
            replay,
            damaged: Vec::new(),
        });
    }
    let mut parts = Vec::with_capacity(paths.len());
    for (path, file) in open_unprivileged(paths)? {
        let reader = file.map_err(OpenError::Io).and_then(Reader::from_file);
        parts.push(Part {
            path: text::escape_path(&path).into_owned(),
            reader: reader.map_err(|e| cannot_replay(&path, &e))?,
        });
    }
    let out = merge_file()?;
    let (file, damaged) =
        merge::merge(parts, out, skip_damage, keyframes).map_err(|e| anyhow!(e))?;
    let replay = Replay::from_file(file)
        .map_err(|e| anyhow!("cannot replay the merge of {}: {e}", describe(paths)))?;
    Ok(Opened { replay, damaged })
}

/// Opens what `replay` was given: one recording still arriving (standard input, or a
/// file with `follow`) as [`open_arriving`] does, else the recordings at `paths` as
/// [`open_all`] does. `None` if `stop` came before a stream's start.
pub async fn open_any(
    paths: &[PathBuf],
    follow: bool,
    skip_damage: bool,
    keyframes: KeyframeModel,
    stop: &mut StopSignals,
) -> Result<Option<Opened>> {
    let stream = paths.iter().any(|p| p == Path::new(STANDARD_STREAM));
    if !stream && !follow {
        return open_all(paths, skip_damage, keyframes).map(Some);
    }
    let [path] = paths else {
        bail!("a stream (- or --follow) is replayed on its own, not with other recordings");
    };
    let replay = open_arriving(path, follow, stop).await?;
    Ok(replay.map(|replay| Opened {
        replay,
        damaged: Vec::new(),
    }))
}

/// Says each line of `damaged` on stderr.
pub fn say_damaged(damaged: &[String]) {
    for line in damaged {
        eprintln!("forkwatch-tui: {line}; going on after it");
    }
}

/// After a replay that went on after damage in `damaged` of its recordings: an error (exit
/// status 1), as for one damaged recording.
pub fn after_damaged(damaged: &[String]) -> Result<()> {
    match damaged.len() {
        0 => Ok(()),
        1 => Err(anyhow!("{}; the intact parts were replayed", damaged[0])),
        n => Err(anyhow!(
            "{n} of the recordings are damaged; their intact parts were replayed"
        )),
    }
}

/// The file a merge is written to: without a name, so nothing else can open it and it goes
/// when closed ([`private_file::unnamed`]).
fn merge_file() -> Result<File> {
    private_file::unnamed().map_err(|(dir, e)| {
        anyhow!(
            "cannot make a file to merge the recordings in {}: {e}",
            text::escape_path(&dir)
        )
    })
}

/// The names of `paths` for a message, escaped.
pub fn describe(paths: &[PathBuf]) -> String {
    let names: Vec<String> = (paths.iter())
        .map(|path| match path.to_str() {
            Some(STANDARD_STREAM) => "standard input".to_owned(),
            _ => text::escape_path(path).into_owned(),
        })
        .collect();
    names.join(", ")
}
