//! The headless subcommands.
pub mod events;
pub mod record;
pub mod replay;

use std::{io, time::Duration};

use anyhow::{Context, Result};
use tokio::signal::unix::{SignalKind, signal};

use crate::{event::Event, output::EventWriter, source::Source};

/// Hands every batch from `source` to `consume` until the source ends, `consume` returns
/// true, Ctrl-C or SIGTERM arrives, or `duration` has passed. After a stop, what the
/// source still holds is handed over too.
pub async fn drive(
    source: &mut Source,
    duration: Option<Duration>,
    mut consume: impl FnMut(&mut Vec<Event>) -> Result<bool>,
) -> Result<()> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let deadline = tokio::time::sleep(duration.unwrap_or(Duration::MAX));
    tokio::pin!(deadline);

    let mut batch = Vec::with_capacity(4096);
    let ended = loop {
        tokio::select! {
            more = source.next_batch(&mut batch) => if !more? {
                consume(&mut batch)?;
                break true;
            },
            _ = interrupt.recv() => break false,
            _ = terminate.recv() => break false,
            () = &mut deadline => break false,
        }
        if consume(&mut batch)? {
            break true;
        }
    };
    // What the kernel queued before the stop still counts.
    if !ended {
        source.finish(&mut batch);
        consume(&mut batch)?;
    }
    Ok(())
}

/// Writes and clears `batch`; true if the reader went away (a closed pipe ends the run).
pub fn write_batch<W: io::Write>(
    writer: &mut EventWriter<W>,
    batch: &mut Vec<Event>,
) -> Result<bool> {
    let result = batch
        .drain(..)
        .try_for_each(|event| writer.write(&event))
        .and_then(|()| writer.flush());
    match result {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(true),
        other => other.context("cannot write events").map(|()| false),
    }
}
