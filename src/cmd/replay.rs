//! `forkwatch-tui replay FILE` without the terminal UI (which `ui::replay` is, chosen by
//! the command line): a recording's events printed like `events` prints live ones, or
//! instead its Perfetto trace (`--perfetto OUT`) and a subtree's critical path
//! (`--critical-path PID`).

use std::{
    io::{self, BufWriter},
    path::{Path, PathBuf},
    process::ExitCode,
};

use anyhow::{Result, anyhow};

use super::{Printing, critical_path::Replayed, drive, perfetto, perfetto::Trace, write_batch};
use crate::{
    event::Tally,
    recording::{self, Speed},
    signals::StopSignals,
    text,
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
    file: &Path,
    printing: Printing,
    skip_damage: bool,
    instead: &Instead,
) -> Result<ExitCode> {
    let mut stop = StopSignals::catch()?;
    let path = text::escape_path(file);
    // Before the recording is opened, which gives up the privileges to create it as the
    // user who ran sudo.
    let out = instead
        .perfetto
        .as_deref()
        .map(perfetto::create)
        .transpose()?;
    let mut replay = recording::open(file)?;
    replay.set_speed(Speed::Max);
    replay.skip_damage(skip_damage);
    eprintln!("forkwatch-tui: replaying {path}, {}", replay.info());
    let trace_path = instead.perfetto.as_deref().unwrap_or(Path::new(""));
    let failed = |e: io::Error| {
        anyhow!(
            "cannot write the Perfetto trace {}: {e}",
            text::escape_path(trace_path)
        )
    };
    let mut trace = match out {
        Some(file) => {
            file.set_len(0).map_err(failed)?;
            let out = BufWriter::new(file);
            Some(Trace::start(out, replay.info(), replay.snapshot()).map_err(failed)?)
        }
        None => None,
    };
    let mut chain = (instead.critical_path).map(|pid| Replayed::new(replay.snapshot(), pid));
    let printed = trace.is_none() && chain.is_none();
    let mut writer = printing.writer(io::stdout().lock(), replay.info().wall_clock());
    let mut tally = Tally::default();
    drive(&mut replay, &mut stop, None, |batch| {
        if let Some(trace) = &mut trace {
            batch
                .iter()
                .try_for_each(|e| trace.event(e))
                .map_err(failed)?;
        }
        if let Some(chain) = &mut chain {
            chain.apply(batch);
        }
        if printed {
            return write_batch(&mut writer, batch);
        }
        batch.drain(..).for_each(|e| tally.add(&e));
        Ok(false)
    })
    .await?;
    let end_ns = replay.position().end_ns;
    if let Some(trace) = trace {
        let written = trace.finish(end_ns).map_err(failed)?;
        eprintln!(
            "forkwatch-tui: wrote {written} trace events to {}",
            text::escape_path(trace_path)
        );
    }
    if let (Some(chain), Some(pid)) = (&mut chain, instead.critical_path) {
        let lines = chain
            .lines(end_ns)
            .ok_or_else(|| anyhow!("no process with pid {pid} in {path}"))?;
        for line in lines {
            println!("{line}");
        }
    }
    let tally = if printed { &writer.tally } else { &tally };
    eprintln!("forkwatch-tui: {}", tally.summary());

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
