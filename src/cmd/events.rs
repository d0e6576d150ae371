//! `forkwatch-tui events`: every process event on the machine, one per line.

use std::{io, process::ExitCode};

use anyhow::Result;

use super::{drive, write_batch};
use crate::{
    cli::EventsArgs, clock::WallClock, output::EventWriter, probe::ProbeOptions, source::Source,
};

pub async fn run(args: EventsArgs, probe_options: ProbeOptions) -> Result<ExitCode> {
    let mut source = Source::open_live(&probe_options)?;
    let mut writer = EventWriter::new(io::stdout().lock(), &args.output, WallClock::now());
    eprintln!(
        "forkwatch-tui: watching with {}; stop with Ctrl-C",
        source.name()
    );
    drive(&mut source, args.duration, |batch| {
        write_batch(&mut writer, batch)
    })
    .await?;
    eprintln!("forkwatch-tui: {}", writer.tally.summary());
    Ok(ExitCode::SUCCESS)
}
