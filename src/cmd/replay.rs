//! `forkwatch-tui replay FILE` without the terminal UI (which `ui::replay` is, chosen by
//! the command line): a recording's events printed like `events` prints live ones, or
//! instead its Perfetto trace (`--perfetto OUT`) and a subtree's critical path
//! (`--critical-path PID`).

use std::{
    fs::File,
    io::{self, BufWriter},
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::{Result, anyhow};

use super::{
    Printing,
    critical_path::Replayed,
    drive,
    perfetto::{self, Trace, write_error},
    write_batch,
};
use crate::{
    event::{Event, Tally},
    recording::{self, Replay, Speed, StreamEnd},
    signals::StopSignals,
    text,
    tracker::model::Model,
};

/// What a replay makes instead of printing its events.
#[derive(Clone, Debug, Default)]
pub struct Instead {
    /// Write the Perfetto trace here.
    pub perfetto: Option<PathBuf>,
    /// Print the critical path of the first process with this pid.
    pub critical_path: Option<u32>,
}

/// Prints the recording at `file` like `events` prints live events (or makes what
/// `instead` asks for), then what damage it has; with `skip_damage`, goes on after damage
/// from the next intact part of the file.
pub async fn run(
    files: &[PathBuf],
    printing: Printing,
    (skip_damage, follow): (bool, bool),
    instead: &Instead,
) -> Result<ExitCode> {
    let mut stop = StopSignals::catch()?;
    let path = recording::describe(files);
    // Before the recording is opened, which gives up the privileges to create it as the
    // user who ran sudo.
    let out = instead
        .perfetto
        .as_deref()
        .map(|to| {
            let file = perfetto::create(to, &files[0])?;
            for other in &files[1..] {
                perfetto::not_the_recording(&file, to, other)?;
            }
            Ok::<_, anyhow::Error>((to, file))
        })
        .transpose()?;
    let opened = recording::open_any(files, follow, skip_damage, Model::for_keyframes, &mut stop);
    let Some(opened) = opened.await? else {
        eprintln!("forkwatch-tui: stopped before the recording's start arrived");
        return Ok(ExitCode::FAILURE);
    };
    let (mut replay, damaged) = (opened.replay, opened.damaged);
    replay.set_speed(Speed::Max);
    replay.skip_damage(skip_damage);
    eprintln!("forkwatch-tui: replaying {path}, {}", replay.info());
    recording::say_damaged(&damaged);
    let mut made = Made {
        trace: out
            .map(|(to, file)| start_trace(to, file, &replay))
            .transpose()?,
        chain: (instead.critical_path).map(|pid| (pid, Replayed::new(replay.snapshot(), pid))),
    };
    let printed = made.trace.is_none() && made.chain.is_none();
    let info = replay.info();
    let mut writer = printing.writer(io::stdout().lock(), info.wall_clock(), info.hosts());
    writer.seed(
        replay
            .snapshot()
            .iter()
            .map(|p| (p.pid, p.ppid, p.start_ns)),
    );
    let mut tally = Tally::default();
    drive(&mut replay, &mut stop, None, |batch| {
        made.take(batch)?;
        if printed {
            return write_batch(&mut writer, batch);
        }
        batch.drain(..).for_each(|e| tally.add(&e));
        Ok(false)
    })
    .await?;
    made.finish(replay.position().end_ns, &path)?;
    let tally = if printed { &writer.tally } else { &tally };
    eprintln!("forkwatch-tui: {}", tally.summary());
    if replay.is_following() {
        return Ok(report_stream_end(&replay, &path));
    }
    let status = report_damage(&replay, &path, skip_damage)?;
    recording::after_damaged(&damaged)?;
    Ok(status)
}

/// Says how a stream (or a followed file) came to its end, if it did (not when stopped):
/// an error (exit status 1) if it broke.
fn report_stream_end(replay: &Replay, path: &str) -> ExitCode {
    let path = if path == "standard input" {
        "the stream"
    } else {
        path
    };
    match replay.stream_end() {
        Some(StreamEnd::Ended) => {
            eprintln!("forkwatch-tui: {path} ended: the recorder stopped properly");
            ExitCode::SUCCESS
        }
        Some(StreamEnd::Broke(reason)) => {
            let reason = text::escape_str(&reason);
            eprintln!("forkwatch-tui: {path} broke: {reason}; everything before it was replayed");
            ExitCode::FAILURE
        }
        None => ExitCode::SUCCESS,
    }
}

/// A Perfetto trace being written, and where.
type TraceTo<'a> = (Trace<BufWriter<File>>, &'a Path);

/// What a replay makes instead of printing its events.
struct Made<'a> {
    trace: Option<TraceTo<'a>>,
    chain: Option<(u32, Replayed)>,
}

impl Made<'_> {
    fn take(&mut self, batch: &[Event]) -> Result<()> {
        if let Some((trace, to)) = &mut self.trace {
            for event in batch {
                trace.event(event).map_err(|e| write_error(to, e))?;
            }
        }
        if let Some((_, chain)) = &mut self.chain {
            chain.apply(batch);
        }
        Ok(())
    }

    /// Ends the trace and prints the critical path, once the recording (up to `end_ns`)
    /// is read.
    fn finish(self, end_ns: u64, path: &str) -> Result<()> {
        if let Some((trace, to)) = self.trace {
            let written = trace.finish(end_ns).map_err(|e| write_error(to, e))?;
            let to = text::escape_path(to);
            eprintln!("forkwatch-tui: wrote {written} trace events to {to}");
        }
        if let Some((pid, mut chain)) = self.chain {
            let lines = chain
                .lines(end_ns)
                .ok_or_else(|| anyhow!("no process with pid {pid} in {path}"))?;
            for line in lines {
                println!("{line}");
            }
        }
        Ok(())
    }
}

/// The trace of `replay` into `file` at `to`, started: the recording's snapshot written.
fn start_trace<'a>(to: &'a Path, file: File, replay: &Replay) -> Result<TraceTo<'a>> {
    file.set_len(0).map_err(|e| write_error(to, e))?;
    let trace = Trace::start(BufWriter::new(file), replay.info(), replay.snapshot())
        .map_err(|e| write_error(to, e))?;
    Ok((trace, to))
}

/// Says what damage the replay met: an error (exit status 1) if any.
fn report_damage(replay: &Replay, path: &str, skip_damage: bool) -> Result<ExitCode> {
    if let Some((last, earlier)) = replay.damage().split_last() {
        for damage in earlier {
            eprintln!("forkwatch-tui: {path} is {damage}");
        }
        let untold = replay.damaged() - replay.damage().len() as u64;
        if untold > 0 {
            eprintln!("forkwatch-tui: {path} is damaged at {untold} more places before the last");
        }
        let rest = if skip_damage {
            "the intact parts were replayed"
        } else {
            "everything before it was replayed (--skip-damage goes on after it)"
        };
        return Err(anyhow!("{path} is {last}; {rest}"));
    }
    if replay.has_ended() && !replay.closed_properly() {
        eprintln!(
            "forkwatch-tui: note: {path} was not closed properly (the recorder was killed or \
             crashed); everything in it was replayed"
        );
    }
    Ok(ExitCode::SUCCESS)
}
