//! The trace's file: created like a recording, and written from a whole recording.

use std::{
    fs::{File, Metadata},
    io::{self, BufWriter},
    os::unix::fs::MetadataExt,
    path::Path,
};

use anyhow::{Result, anyhow, bail};

use super::Trace;
use crate::{
    private_file::{self, Existing},
    privileges,
    recording::{Replay, Speed},
    text,
};

/// Creates the trace file `path` as a recording is created (mode 0600, no symbolic link
/// followed, as the user who ran sudo), left as it is until [`Trace::start`] writes: call
/// `set_len(0)` then. Refuses the file of `recording`, which emptying it would destroy.
pub fn create(path: &Path, recording: &Path) -> Result<File> {
    let user = privileges::sudo_user();
    let file = private_file::open_for(path, Existing::Keep, user.as_ref()).map_err(|e| {
        anyhow!(
            "cannot create the Perfetto trace {}: {}",
            text::escape_path(path),
            private_file::describe(&e, user.as_ref())
        )
    })?;
    not_the_recording(&file, path, recording)?;
    Ok(file)
}

/// Refuses `file`, the trace being made at `path`, if it is the recording at `recording`.
pub fn not_the_recording(file: &File, path: &Path, recording: &Path) -> Result<()> {
    let same = |a: &Metadata, b: &Metadata| (a.dev(), a.ino()) == (b.dev(), b.ino());
    if let (Ok(out), Ok(recording)) = (file.metadata(), std::fs::metadata(recording))
        && same(&out, &recording)
    {
        bail!(
            "cannot create the Perfetto trace {}: it is the recording it is made from",
            text::escape_path(path)
        );
    }
    Ok(())
}

/// Writes the trace of the whole of `replay` (played as fast as it reads) to `file`,
/// which [`create`] made; says how many trace events it holds.
pub async fn export(replay: &mut Replay, file: File, path: &Path) -> Result<u64> {
    let failed = |e: io::Error| write_error(path, e);
    file.set_len(0).map_err(failed)?;
    replay.set_speed(Speed::Max);
    let out = BufWriter::new(file);
    let mut trace = Trace::start(out, replay.info(), replay.snapshot()).map_err(failed)?;
    let mut batch = Vec::new();
    while replay.next_batch(&mut batch).await {
        for event in batch.drain(..) {
            trace.event(&event).map_err(failed)?;
        }
    }
    trace.finish(replay.position().end_ns).map_err(failed)
}

/// A failure to write the trace at `path`, in one line.
pub fn write_error(path: &Path, e: io::Error) -> anyhow::Error {
    anyhow!(
        "cannot write the Perfetto trace {}: {e}",
        text::escape_path(path)
    )
}
