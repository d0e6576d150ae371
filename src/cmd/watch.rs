//! `forkwatch-tui watch PID`: the events of one process's subtree, in the formats of
//! `events` (kmonitor's `monitor_pid`). Who is in the subtree is a [`Pin`]'s rule: its
//! descendants, including those born later, and orphans adopted by pid 1, but not those
//! handed to a subreaper outside it. The run ends when no process is left in it, with the
//! subtree's critical path and the summary. The pin is the tracker's; this drives it.

use std::{io, process::ExitCode, slice};

use anyhow::{Context, Result};

use super::{Printing, critical_path, resync, resync_due, seeded_tracker, write_batch};
use crate::{
    privileges,
    signals::StopSignals,
    source::{Feed, Filtering, LiveOptions, Source},
    text,
    tracker::pins::{self, Pin, TotalsJson},
};

/// Prints the events of `pid`'s subtree until stopped or until none of it is left.
pub async fn run(live: LiveOptions, pid: u32, printing: Printing) -> Result<ExitCode> {
    let mut stop = StopSignals::catch()?;
    // The source first, then /proc, then the pid: a process born or exiting meanwhile is in
    // the snapshot, or its events are queued in the source.
    let (mut source, selection) = Source::open_live(&live)?;
    privileges::keep_only(selection.backend.privileges_to_read() | privileges::to_reread_proc())?;
    let mut tracker = seeded_tracker()?;
    let (watched, model) = tracker.pins_mut();
    let root = pins::live_root(model, pid)?;
    // Printed as they come, not kept.
    watched.add(model, root)?.set_log_len(0);
    let comm = model.get(root).map(|p| p.comm).unwrap_or_default();
    // The pin still decides; the kernel only spares us the rest of the machine's events.
    let filtering = source.follow_only(&tracker.pins().subtrees());

    let json = printing.json;
    let mut writer = printing.live_writer(io::stdout().lock())?;
    eprintln!(
        "forkwatch-tui: watching pid {} ({comm}) and its descendants with {}, {}; stop with Ctrl-C",
        pid,
        selection.summary(),
        text::escape_str(&filtering.to_string())
    );
    super::print_notices(&selection);

    let mut batch = Vec::with_capacity(4096);
    loop {
        let stopping = tokio::select! {
            more = source.next_batch(&mut batch) => !more?,
            () = resync_due(&tracker) => {
                resync(&mut tracker)?;
                // A child the probe could not add (a full map: the loss) is added again.
                if filtering == Filtering::Kernel {
                    source.follow_only(&tracker.pins().subtrees());
                }
                false
            }
            () = stop.recv() => {
                // What the kernel queued before the stop is still written.
                source.finish(&mut batch);
                true
            }
        };
        // `retain` visits every event once, in order: the tracker sees them all.
        batch.retain(|event| tracker.apply(slice::from_ref(event)).pinned > 0);
        let reader_gone = write_batch(&mut writer, &mut batch)?;
        let ended = tracker.pins().list().iter().all(Pin::is_empty);
        if ended {
            eprintln!(
                "forkwatch-tui: no process is left in the subtree of pid {}",
                pid
            );
        }
        if stopping || reader_gone || ended {
            break;
        }
    }
    for line in critical_path::lines(tracker.model(), root) {
        eprintln!("forkwatch-tui: {line}");
    }
    let totals = tracker.pins().list()[0].totals(tracker.model());
    eprintln!("forkwatch-tui: totals: {}", totals.line());
    if json {
        let written = writer
            .write_json_line(&TotalsJson {
                pid,
                totals: &totals,
            })
            .and_then(|()| writer.flush());
        match written {
            // The reader went away: nobody is left to read them.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
            other => other.context("cannot write the totals")?,
        }
    }
    eprintln!("forkwatch-tui: {}", writer.tally.summary());
    Ok(ExitCode::SUCCESS)
}
