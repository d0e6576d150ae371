//! `forkwatch-tui replay FILE` without the terminal UI (which `ui::replay` is, chosen by
//! the command line): a recording's events printed like `events` prints live ones.

use std::{fs::File, io, path::Path, process::ExitCode};

use anyhow::{Result, anyhow};

use super::{StopSignals, drive, write_batch};
use crate::{
    cli::ReplayArgs,
    event::EventWriter,
    privileges,
    recording::{OpenError, Replay, Speed},
    text,
};

pub async fn run(args: ReplayArgs) -> Result<ExitCode> {
    let mut stop = StopSignals::catch()?;
    let path = text::escape_path(&args.file);
    let mut replay = open(&args.file)?;
    replay.set_speed(Speed::Max);
    replay.skip_damage(args.skip_damage);
    eprintln!("forkwatch-tui: replaying {path}, {}", replay.info());
    let mut writer = EventWriter::new(
        io::stdout().lock(),
        args.output.json,
        args.output.kinds.unwrap_or_default(),
        replay.info().wall_clock(),
    );
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

/// Opens the recording at `path` and gives up every privilege before a byte of it is read:
/// whoever wrote it controls all of it. Run with sudo, it is opened as the user who ran
/// sudo, so sudo cannot read for them what they could not read themselves; run by root
/// itself, it is opened as root (a root shell's own recordings are root's) and read as
/// nobody. Says in one line why it cannot be opened; when it may not be read, also who
/// tried.
pub fn open(path: &Path) -> Result<Replay> {
    let file = if privileges::sudo_user().is_some() {
        privileges::give_up_all()?;
        File::open(path)
    } else {
        let file = File::open(path);
        privileges::give_up_all()?;
        file
    };
    file.map_err(OpenError::Io)
        .and_then(Replay::from_file)
        .map_err(|e| {
            let denied =
                matches!(&e, OpenError::Io(e) if e.kind() == io::ErrorKind::PermissionDenied);
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
