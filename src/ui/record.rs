//! `forkwatch-tui --record FILE`: the live UI records what it shows. The loop that owns
//! the state hands every batch to [`Recording::tee`] before the state applies it, and the
//! recording starts from the snapshot the state's model started from, so a replay
//! rebuilds the same tree. A [`Recorder`] thread writes, so a slow or failing disk never
//! holds up the UI; the state learns how the recording goes on every tick.

use std::{
    fs::File,
    path::{Path, PathBuf},
};

use anyhow::Result;
use ratatui::{style::Stylize, text::Span};

use super::AppEvent;
use crate::{
    clock,
    proc::snapshot::ProcessInfo,
    recording::{Info, Recorder, SLOW_DISK_BACKLOG},
    text,
    tracker::model::Model,
};

/// How the recording goes, for the status line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// Events handed to the recorder.
    pub events: u64,
    /// Of them, those not written yet: many when the disk is slow.
    pub backlog: usize,
    /// Of them, those that did not fit in the recorder's queue: recorded as lost.
    pub unqueued: u64,
    /// The write error that stopped the recording, as one line.
    pub error: Option<String>,
}

impl Status {
    /// Takes the recording's `newest` status: whether it changed, and the write error that
    /// stopped the recording if it is new (said once, in full, in the banner).
    pub fn follow(&mut self, newest: Status) -> (bool, Option<String>) {
        if *self == newest {
            return (false, None);
        }
        let failed = newest.error.clone().filter(|_| self.error.is_none());
        *self = newest;
        (true, failed)
    }
}

/// A recording being written while the UI runs.
pub struct Recording {
    recorder: Recorder,
    path: PathBuf,
    events: u64,
}

impl Recording {
    /// Starts recording to `file` (made by [`crate::recording::create`] at `path`; an
    /// error if it cannot be written) with the /proc snapshot taken at `start_ns` that the
    /// model starts from, and names `source` as the backend.
    pub fn create(
        file: File,
        path: &Path,
        source: &str,
        start_ns: u64,
        snapshot: &[ProcessInfo],
    ) -> Result<Self> {
        let info = Info::here(source, start_ns);
        let keyframes = Model::for_keyframes(snapshot);
        let recorder = Recorder::with_keyframes(file, path, &info, snapshot, keyframes)?;
        Ok(Self {
            recorder,
            path: path.to_owned(),
            events: 0,
        })
    }

    pub fn status(&self) -> Status {
        Status {
            events: self.events,
            backlog: self.recorder.backlog(),
            unqueued: self.recorder.unqueued(),
            error: self.recorder.error().map(str::to_owned),
        }
    }

    /// Sees `event` before the state does: records a batch of events (without waiting);
    /// on a tick, returns how the recording goes, for the state.
    pub fn tee(&mut self, event: &AppEvent) -> Option<AppEvent> {
        match event {
            AppEvent::Events(batch) => {
                if self.recorder.error().is_none() {
                    self.recorder.record(batch.clone());
                    self.events += batch.len() as u64;
                }
                None
            }
            AppEvent::Tick(_) => Some(AppEvent::Recording(self.status())),
            _ => None,
        }
    }

    /// Writes what waits and the end frame, and says what was recorded; the write error,
    /// if one stopped the recording.
    pub fn finish(self) -> Result<String> {
        let summary = self.recorder.finish(clock::boottime_ns())?;
        Ok(format!(
            "recorded {} to {}",
            summary.describe(),
            text::escape_path(&self.path)
        ))
    }
}

/// Ends `recording`, if there is one, whatever ended the UI (`ended`, the loop's outcome),
/// and says how it went on stderr: the terminal must be given back by then. Then the
/// loop's error; with none, the recording's.
pub(super) fn end_recording(ended: Result<()>, recording: Option<Recording>) -> Result<()> {
    let Some(recording) = recording else {
        return ended;
    };
    match (recording.finish(), ended) {
        (Ok(summary), ended) => {
            eprintln!("forkwatch-tui: {summary}");
            ended
        }
        (Err(e), Ok(())) => Err(e),
        (Err(e), Err(failed)) => {
            eprintln!("forkwatch-tui: {e:#}");
            Err(failed)
        }
    }
}

/// The status line's segment while recording: events recorded, a slow disk, events it
/// had to record as lost, or that a write error stopped it.
pub(super) fn status(status: Option<&Status>) -> Option<Vec<Span<'static>>> {
    let status = status?;
    if status.error.is_some() {
        return Some(vec!["● recording stopped: write error".red().bold()]);
    }
    let mut spans = vec!["●".red(), format!(" rec {} events", status.events).into()];
    if status.backlog >= SLOW_DISK_BACKLOG {
        spans.push(
            format!(" slow disk: {} waiting", status.backlog)
                .black()
                .on_yellow(),
        );
    }
    if status.unqueued > 0 {
        spans.push(
            format!(" {} recorded as lost: disk too slow", status.unqueued)
                .black()
                .on_yellow(),
        );
    }
    Some(spans)
}
