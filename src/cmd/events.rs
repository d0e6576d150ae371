//! `forkwatch-tui events`: every process event on the machine, one per line.

use std::{io, process::ExitCode, time::Duration};

use anyhow::Result;

use super::{Printing, drive, write_batch};
use crate::{
    privileges,
    signals::StopSignals,
    source::{LiveOptions, Source},
};

/// Prints the events until stopped, or until `duration` has passed.
pub async fn run(
    live: LiveOptions,
    printing: Printing,
    duration: Option<Duration>,
) -> Result<ExitCode> {
    let mut stop = StopSignals::catch()?;
    let (mut source, selection) = Source::open_live(&live)?;
    privileges::keep_only(selection.backend.privileges_to_read())?;
    let mut writer = printing.live_writer(io::stdout().lock())?;
    eprintln!(
        "forkwatch-tui: watching with {}; stop with Ctrl-C",
        selection.summary()
    );
    super::print_notices(&selection);
    drive(&mut source, &mut stop, duration, |batch| {
        write_batch(&mut writer, batch)
    })
    .await?;
    eprintln!("forkwatch-tui: {}", writer.tally.summary());
    Ok(ExitCode::SUCCESS)
}
