//! `forkwatch-tui events`: every process event on the machine, one per line.

use std::{io, process::ExitCode};

use anyhow::Result;

use super::{StopSignals, drive, write_batch};
use crate::{
    cli::EventsArgs,
    clock::WallClock,
    event::EventWriter,
    privileges,
    source::{LiveOptions, Source},
};

pub async fn run(live: LiveOptions, args: EventsArgs) -> Result<ExitCode> {
    let mut stop = StopSignals::catch()?;
    let (mut source, selection) = Source::open_live(&live)?;
    privileges::keep_only(selection.backend.privileges_to_read())?;
    let mut writer = EventWriter::new(
        io::stdout().lock(),
        args.output.json,
        args.output.kinds.unwrap_or_default(),
        WallClock::now(),
    );
    eprintln!(
        "forkwatch-tui: watching with {}; stop with Ctrl-C",
        selection.summary()
    );
    super::print_notices(&selection);
    drive(&mut source, &mut stop, args.duration, |batch| {
        write_batch(&mut writer, batch)
    })
    .await?;
    eprintln!("forkwatch-tui: {}", writer.tally.summary());
    Ok(ExitCode::SUCCESS)
}
