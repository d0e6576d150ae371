//! The headless subcommands (`events`, `watch`, `wait`, `relay`, `record`, `replay`,
//! `tree`), a module each, and what they share: the loop that hands a [`Feed`]'s batches
//! to a command, how events are printed ([`Printing`]), the tracker of a command that follows a
//! subtree and its re-syncs. Each takes plain options, which `cli` makes from the command
//! line; a new command is a module here, a variant of `cli::Command` and a line in
//! main.rs.
pub mod critical_path;
pub mod events;
pub mod perfetto;
pub mod record;
pub mod relay;
pub mod replay;
pub mod tree;
pub mod wait;
pub mod watch;

use std::{io, time::Duration};

use anyhow::{Context, Result};

use crate::{
    clock,
    clock::WallClock,
    event::{Event, EventWriter, KindSet, Schema, container::PlaceFilter, host::Hosts},
    proc::snapshot,
    recording,
    signals::StopSignals,
    source::{Feed, Selection},
    text,
    tracker::{Outcome, Tracker, model::Model},
};

/// How a command prints events: text lines or JSON objects (in which schema), of these
/// kinds only, of one container or cgroup only if asked.
#[derive(Clone, Debug)]
pub struct Printing {
    pub json: bool,
    pub schema: Schema,
    pub kinds: KindSet,
    pub place: Option<PlaceFilter>,
}

impl Printing {
    /// The writer to `out` of events of `hosts`, dating them with `clock`: each JSON
    /// line names its host.
    pub fn writer<W: io::Write>(self, out: W, clock: WallClock, hosts: Hosts) -> EventWriter<W> {
        EventWriter::new(out, self.json, self.kinds, clock)
            .confined_to(self.place)
            .on_hosts(hosts)
            .in_schema(self.schema)
    }

    /// The writer to `out` of this machine's events as they happen. OpenTelemetry records
    /// name a process's ancestors, so then it first learns from /proc who started whom:
    /// call it once the event source runs, so that nothing born meanwhile is missed.
    pub fn live_writer<W: io::Write>(self, out: W) -> Result<EventWriter<W>> {
        let ancestry = self.json && self.schema == Schema::Otel;
        let here = Hosts {
            own: recording::this_host(),
            merged: Vec::new(),
        };
        let mut writer = self.writer(out, WallClock::now(), here);
        if ancestry {
            let processes = snapshot::take().context("cannot read /proc")?;
            writer.seed(processes.iter().map(|p| (p.pid, p.ppid, p.start_ns)));
        }
        Ok(writer)
    }
}

/// Hands every batch from `source` (live or a replay) to `consume` until the source ends,
/// `consume` returns true, `stop` fires, or `duration` has passed. After a stop, what the
/// source still holds is handed over too.
pub async fn drive(
    source: &mut impl Feed,
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

/// The tracker of a headless command that follows a subtree (`watch`, `relay
/// --subtree`), its model seeded from /proc: call it once the event source runs, so that
/// nothing born or exiting meanwhile is missed.
pub fn seeded_tracker() -> Result<Tracker> {
    let mut model = Model::default();
    model.seed(&snapshot::take().context("cannot read /proc")?);
    Ok(Tracker::new(model, clock::boottime_ns()))
}

/// Resolves when the tracker calls for a re-read of /proc ([`resync`]) after lost events,
/// so that a member whose exit was lost does not keep the command running for ever;
/// pending while none is due.
pub async fn resync_due(tracker: &Tracker) {
    match tracker.next_resync() {
        Some(at) => {
            let wait = at.saturating_sub(clock::boottime_ns());
            tokio::time::sleep(Duration::from_nanos(wait)).await
        }
        None => std::future::pending().await,
    }
}

/// Reads /proc again and re-syncs the tracker with it ([`Tracker::reconcile`]). Nothing is
/// held back meanwhile: events wait in the kernel (the probe's ring buffer, the socket's
/// receive buffer), whose size bounds them and whose overflow is counted lost, and the
/// snapshot keeps at most `MAX_ARGV_BYTES` of argv per process.
pub fn resync(tracker: &mut Tracker) -> Result<Outcome> {
    let now = clock::boottime_ns();
    tracker.start_resync(now);
    let snapshot = snapshot::take().context("cannot read /proc")?;
    Ok(tracker.reconcile(&snapshot, now))
}

/// Prints, a line each, why the backends better than the chosen one could not run (escaped:
/// the reasons quote the kernel's errors).
fn print_notices(selection: &Selection) {
    for notice in selection.notices() {
        eprintln!("forkwatch-tui: {}", text::escape_str(&notice));
    }
}
