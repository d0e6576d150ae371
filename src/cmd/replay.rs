//! `forkwatch-tui replay FILE`: the terminal UI on a recording (see `ui::replay`) when
//! stdin and stdout are a terminal; otherwise, or with `--text`, `--json` or `--kinds`, a
//! recording's events printed like `events` prints live ones.

use std::{
    io::{self, IsTerminal},
    path::Path,
    process::ExitCode,
};

use anyhow::{Result, anyhow};

use super::{StopSignals, drive, write_batch};
use crate::{
    cli::ReplayArgs,
    output::EventWriter,
    privileges,
    recording::{OpenError, Replay, Speed},
    source::Source,
    text,
};

pub async fn run(args: ReplayArgs) -> Result<ExitCode> {
    // Whoever wrote the file controls all of it: it is opened and read without privileges.
    privileges::give_up_all()?;
    let printed = args.text || args.output.json || args.output.kinds.is_some();
    if !printed && io::stdin().is_terminal() && io::stdout().is_terminal() {
        return crate::ui::replay::run(&args).await;
    }
    let mut stop = StopSignals::catch()?;
    let path = text::escape_path(&args.file);
    let mut replay = open(&args.file)?;
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

/// Opens the recording at `path`, or says in one line why not; when it may not be read,
/// also who tried (the replay runs as the user who ran sudo, or nobody).
pub fn open(path: &Path) -> Result<Replay> {
    Replay::open(path).map_err(|e| {
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
    })
}
