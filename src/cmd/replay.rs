//! `forkwatch-tui replay FILE`: the terminal UI on a recording (see `ui::replay`) when
//! stdin and stdout are a terminal; otherwise, or with `--text`, `--json` or `--kinds`, a
//! recording's events printed like `events` prints live ones.

use std::{
    io::{self, IsTerminal},
    path::PathBuf,
    process::ExitCode,
};

use anyhow::{Result, anyhow};

use super::{Printing, drive, write_batch};
use crate::{
    cli::ReplayArgs,
    recording::{self, Speed},
    signals::StopSignals,
    text,
};

pub async fn run(args: ReplayArgs) -> Result<ExitCode> {
    let printed = args.text || args.output.json || args.output.kinds.is_some();
    if !printed && io::stdin().is_terminal() && io::stdout().is_terminal() {
        return crate::ui::replay::run(&args).await;
    }
    print(ReplayOptions {
        file: args.file,
        printing: args.output.printing(),
        skip_damage: args.skip_damage,
    })
    .await
}

/// What `replay` prints, and how.
#[derive(Clone, Debug)]
pub struct ReplayOptions {
    pub file: PathBuf,
    pub printing: Printing,
    /// Go on after damage, from the next intact part of the file.
    pub skip_damage: bool,
}

/// Prints a recording's events like `events` prints live ones, then what damage it has.
pub async fn print(options: ReplayOptions) -> Result<ExitCode> {
    let mut stop = StopSignals::catch()?;
    let path = text::escape_path(&options.file);
    let mut replay = recording::open(&options.file)?;
    replay.set_speed(Speed::Max);
    replay.skip_damage(options.skip_damage);
    eprintln!("forkwatch-tui: replaying {path}, {}", replay.info());
    let mut writer = options
        .printing
        .writer(io::stdout().lock(), replay.info().wall_clock());
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
        let rest = if options.skip_damage {
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
