//! The headless subcommands.
pub mod events;
pub mod record;
pub mod relay;
pub mod replay;
pub mod wait;

use std::{io, time::Duration};

use anyhow::{Context, Result};
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::{event::Event, output::EventWriter, source::Source};

/// Ctrl-C (SIGINT) and SIGTERM, caught from the moment this is made. Make it before
/// anything else, certainly before saying the command is ready: a signal that arrives
/// before it exists kills the process and loses what the kernel had queued.
pub struct StopSignals {
    interrupt: Signal,
    terminate: Signal,
}

impl StopSignals {
    pub fn catch() -> Result<Self> {
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// Resolves when either signal arrives.
    pub async fn recv(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

/// Hands every batch from `source` to `consume` until the source ends, `consume` returns
/// true, `stop` fires, or `duration` has passed. After a stop, what the source still holds
/// is handed over too.
pub async fn drive(
    source: &mut Source,
    stop: &mut StopSignals,
    duration: Option<Duration>,
    mut consume: impl FnMut(&mut Vec<Event>) -> Result<bool>,
) -> Result<()> {
    let deadline = tokio::time::sleep(duration.unwrap_or(Duration::MAX));
    tokio::pin!(deadline);
    let mut batch = Vec::with_capacity(4096);
    let ended = loop {
        tokio::select! {
            more = source.next_batch(&mut batch) => if !more? {
                consume(&mut batch)?;
                break true;
            },
            () = stop.recv() => break false,
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
