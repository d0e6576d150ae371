//! `forkwatch-tui replay FILE` without the terminal UI (which `ui::replay` is, chosen by
//! the command line): a recording's events printed like `events` prints live ones.

use std::{io, path::Path, process::ExitCode};

use anyhow::{Result, anyhow};

use super::{Printing, drive, write_batch};
use crate::{
    recording::{self, Speed},
    signals::StopSignals,
    text,
};

/// Prints the recording at `file` like `events` prints live events, then what damage it
/// has; with `skip_damage`, goes on after damage from the next intact part of the file.
pub async fn run(file: &Path, printing: Printing, skip_damage: bool) -> Result<ExitCode> {
    let mut stop = StopSignals::catch()?;
    let path = text::escape_path(file);
    let mut replay = recording::open(file)?;
    replay.set_speed(Speed::Max);
    replay.skip_damage(skip_damage);
    eprintln!("forkwatch-tui: replaying {path}, {}", replay.info());
    let mut writer = printing.writer(io::stdout().lock(), replay.info().wall_clock());
    drive(&mut replay, &mut stop, None, |batch| {
        write_batch(&mut writer, batch)
    })
    .await?;
    eprintln!("forkwatch-tui: {}", writer.tally.summary());

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
