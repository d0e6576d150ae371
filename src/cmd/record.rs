//! `forkwatch-tui record`: the live events, with the /proc snapshot they start from, into a
//! recording file.

use std::{
    fs::File,
    io::{self, IsTerminal},
    os::fd::AsFd,
    path::Path,
    process::ExitCode,
    time::Duration,
};

use anyhow::{Context, Result, anyhow, bail};

use super::{drive, perfetto};
use crate::{
    clock,
    event::container::PlaceFilter,
    private_file::Existing,
    privileges,
    proc::snapshot,
    recording::{self, Info, QUEUE_BYTES, Recorder, Replay, SLOW_DISK_BACKLOG},
    signals::StopSignals,
    source::{Feed, LiveOptions, Source},
    text,
    tracker::model::Model,
};

/// Records to `output` until stopped, or until `duration` has passed; only the processes
/// and events of `place` if one is given. With `perfetto`, then writes the recording as a
/// Perfetto trace there.
pub async fn run(
    live: LiveOptions,
    output: &Path,
    duration: Option<Duration>,
    place: Option<PlaceFilter>,
    perfetto: Option<&Path>,
) -> Result<ExitCode> {
    let stream = output == Path::new(recording::STANDARD_STREAM);
    if stream {
        refuse_stream(perfetto)?;
    }
    let mut stop = StopSignals::catch()?;
    let (mut source, selection) = Source::open_live(&live)?;
    let file = if stream {
        stdout_file()?
    } else {
        recording::create(output, Existing::Keep)?
    };
    // Both opened while forkwatch may still open anything: the recording is read back
    // (through the file just created, whatever its path names by then) once it is written.
    let export = perfetto
        .map(|to| anyhow::Ok((to, perfetto::create(to, output)?, recording::reopen(&file)?)))
        .transpose()?;
    // Before /proc is read, and before the recorder's thread starts, so that it has no more.
    privileges::keep_only(selection.backend.privileges_to_read() | privileges::to_reread_proc())?;
    // The source is open before the snapshot is taken, so nothing falls between them.
    let start_ns = clock::boottime_ns();
    let mut snapshot = snapshot::take().context("cannot read /proc")?;
    if let Some(place) = &place {
        snapshot.retain(|p| place.admits(p.cgroup.as_ref().map(|c| c.as_bytes())));
    }
    let info = Info::here(source.name(), start_ns);
    let path = if stream {
        "standard output".into()
    } else {
        text::escape_path(output)
    };
    // Emptied only now: a run that failed before leaves an earlier recording as it was.
    if !stream {
        file.set_len(0)
            .with_context(|| format!("cannot empty the recording {path}"))?;
    }
    let keyframes = Model::for_keyframes(&snapshot);
    let recorder = Recorder::with_keyframes(file, output, &info, &snapshot, keyframes)?;
    eprintln!(
        "forkwatch-tui: recording with {} to {path}; stop with Ctrl-C",
        selection.summary()
    );
    super::print_notices(&selection);

    let mut behind = false;
    let mut unqueued = 0;
    let driven = drive(&mut source, &mut stop, duration, |batch| {
        if let Some(place) = &place {
            batch.retain(|event| place.passes(event));
        }
        recorder.record(std::mem::take(batch));
        if let Some(error) = recorder.error() {
            bail!("{error}");
        }
        say_how_writing_keeps_up(&recorder, &mut behind, &mut unqueued);
        Ok(false)
    })
    .await;
    // Also when the source failed: the events before the failure belong in the file.
    let finished = recorder.finish(clock::boottime_ns());
    if let Ok(summary) = &finished {
        eprintln!("forkwatch-tui: recorded {} to {path}", summary.describe());
    }
    driven?;
    finished?;
    if let Some((to, out, written)) = export {
        export_trace(to, out, written, &path).await?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Says when the recorder falls behind (`behind` holds whether it last said so) and
/// when events start not to fit in its queue (`unqueued`: how many did not, last time).
fn say_how_writing_keeps_up(recorder: &Recorder, behind: &mut bool, unqueued: &mut u64) {
    let backlog = recorder.backlog();
    if !*behind && backlog >= SLOW_DISK_BACKLOG {
        *behind = true;
        eprintln!("forkwatch-tui: the disk is slow: {backlog} events wait in memory to be written");
    } else if *behind && backlog < SLOW_DISK_BACKLOG / 10 {
        *behind = false;
        eprintln!("forkwatch-tui: the recording has caught up");
    }
    if recorder.unqueued() > *unqueued && *unqueued == 0 {
        eprintln!(
            "forkwatch-tui: the disk is too slow: events that do not fit in the {} MiB \
             queue are recorded as lost",
            QUEUE_BYTES >> 20
        );
    }
    *unqueued = recorder.unqueued();
}

/// Why a stream cannot be recorded as asked, if it cannot.
fn refuse_stream(perfetto: Option<&Path>) -> Result<()> {
    if io::stdout().is_terminal() {
        bail!(
            "-o - writes the recording, which is binary, to standard output, which is a \
             terminal: pipe it (| forkwatch-tui replay -) or redirect it"
        );
    }
    if perfetto.is_some() {
        bail!(
            "--perfetto reads the recording back, which a stream (-o -) cannot: record to a file"
        );
    }
    Ok(())
}

/// Standard output, as the file the recorder writes to.
fn stdout_file() -> Result<File> {
    let fd = io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .context("cannot write the recording to standard output")?;
    Ok(File::from(fd))
}

/// Writes the Perfetto trace of the recording just `written` (at `path`) to `out` at `to`,
/// reading it as a replay does: with every privilege given up, as it is the user's file.
async fn export_trace(to: &Path, out: File, written: File, path: &str) -> Result<()> {
    privileges::give_up_all()?;
    let mut replay = Replay::from_file(written)
        .map_err(|e| anyhow!("cannot read back the recording {path}: {e}"))?;
    let events = perfetto::export(&mut replay, out, to).await?;
    let to = text::escape_path(to);
    eprintln!("forkwatch-tui: wrote {events} trace events to {to}");
    Ok(())
}
