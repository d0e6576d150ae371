//! `forkwatch-tui replay FILE`: the terminal UI on a recording (see `ui::replay`) when
//! stdin and stdout are a terminal; otherwise, or with `--text`, `--json` or `--kinds`, a
//! recording's events printed like `events` prints live ones.

use std::{
    io::{self, IsTerminal},
    process::ExitCode,
};

use anyhow::{Result, anyhow};

use super::{StopSignals, drive, write_batch};
use crate::{
    cli::ReplayArgs,
    output::EventWriter,
    recording::{Replay, Speed},
    source::Source,
};

pub async fn run(args: ReplayArgs) -> Result<ExitCode> {
    let printed = args.text || args.output.json || args.output.kinds.is_some();
    if !printed && io::stdin().is_terminal() && io::stdout().is_terminal() {
        return crate::ui::replay::run(&args).await;
    }
    let mut stop = StopSignals::catch()?;
    let path = args.file.display();
    let mut replay = Replay::open(&args.file).map_err(|e| anyhow!("cannot replay {path}: {e}"))?;
    replay.set_speed(Speed::Max);
    replay.skip_damage(args.skip_damage);
    eprintln!("forkwatch-tui: replaying {path}, {}", replay.info());
    let mut writer = EventWriter::new(
        io::stdout().lock(),
        &args.output,
        replay.info().wall_clock(),
    );
    let mut source = Source::Replay(Box::new(replay));
    drive(&mut source, &mut stop, None, |batch| {
        write_batch(&mut writer, batch)
    })
    .await?;
    eprintln!("forkwatch-tui: {}", writer.tally.summary());

    let Some(replay) = source.replay_mut() else {
        unreachable!("the source was made a replay above")
    };
    if let Some((last, earlier)) = replay.damage().split_last() {
        for damage in earlier {
            eprintln!("forkwatch-tui: {path} is {damage}");
        }
        let untold = replay.damaged() - replay.damage().len() as u64;
        if untold > 0 {
            eprintln!("forkwatch-tui: {path} is damaged at {untold} more places before the last");
        }
        let rest = if args.skip_damage {
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
