//! `forkwatch-tui events`: every process event on the machine, one per line.

use std::{borrow::Borrow, io, process::ExitCode, time::Duration};

use anyhow::{Context, Result};

use super::StopSignals;
use crate::{
    cli::EventsArgs, clock::WallClock, event::Event, output::EventWriter, probe::ProbeOptions,
    source::Source,
};

pub async fn run(args: EventsArgs, probe_options: ProbeOptions) -> Result<ExitCode> {
    let mut stop = StopSignals::catch()?;
    let (mut source, selection) = Source::open_live(&args.live, &probe_options)?;
    let mut writer = EventWriter::new(io::stdout().lock(), &args.output, WallClock::now());
    eprintln!(
        "forkwatch-tui: watching with {}; stop with Ctrl-C",
        selection.summary()
    );
    for notice in selection.notices() {
        eprintln!("forkwatch-tui: {notice}");
    }

    let deadline = tokio::time::sleep(args.duration.unwrap_or(Duration::MAX));
    tokio::pin!(deadline);

    let mut batch = Vec::with_capacity(4096);
    let ended = loop {
        tokio::select! {
            more = source.next_batch(&mut batch) => if !more? {
                write_events(&mut writer, batch.drain(..))?;
                break true;
            },
            () = stop.recv() => break false,
            () = &mut deadline => break false,
        }
        if write_events(&mut writer, batch.drain(..))? {
            break true;
        }
    };
    // What the kernel queued before the stop is still written.
    if !ended {
        source.finish(&mut batch);
        write_events(&mut writer, batch.drain(..))?;
    }
    eprintln!("forkwatch-tui: {}", writer.tally.summary());
    Ok(ExitCode::SUCCESS)
}

/// Writes `events`; true if the reader went away (a closed pipe ends the run).
pub(super) fn write_events<W: io::Write, E: Borrow<Event>>(
    writer: &mut EventWriter<W>,
    events: impl IntoIterator<Item = E>,
) -> Result<bool> {
    let result = events
        .into_iter()
        .try_for_each(|event| writer.write(event.borrow()))
        .and_then(|()| writer.flush());
    match result {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(true),
        other => other.context("cannot write events").map(|()| false),
    }
}
