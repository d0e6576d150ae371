//! `forkwatch-tui watch PID`: the events of one process's subtree, in the formats of
//! `events` (kmonitor's `monitor_pid`). Who is in the subtree is a [`Pin`]'s rule: its
//! descendants, including those born later, and orphans adopted by pid 1, but not those
//! handed to a subreaper outside it. The run ends when no process is left in it.

use std::{io, process::ExitCode};

use anyhow::Result;

use super::{LiveTree, StopSignals, write_batch};
use crate::{
    cli::WatchArgs,
    clock::WallClock,
    event::EventWriter,
    pins::{self, Pin},
    privileges,
    source::{Feed, LiveOptions, Source},
};

pub async fn run(live: LiveOptions, args: WatchArgs) -> Result<ExitCode> {
    let mut stop = StopSignals::catch()?;
    // The source first, then /proc, then the pid: a process born or exiting meanwhile is in
    // the snapshot, or its events are queued in the source.
    let (mut source, selection) = Source::open_live(&live)?;
    privileges::keep_only(selection.backend.privileges_to_read() | privileges::to_reread_proc())?;
    let mut tree = LiveTree::seed()?;
    let root = pins::live_root(&tree.model, args.pid)?;
    let mut pin = Pin::new(&tree.model, root)?;
    // Printed as they come, not kept.
    pin.set_log_len(0);
    let comm = tree.model.get(root).map(|p| p.comm).unwrap_or_default();

    let mut writer = EventWriter::new(
        io::stdout().lock(),
        args.output.json,
        args.output.kinds.unwrap_or_default(),
        WallClock::now(),
    );
    eprintln!(
        "forkwatch-tui: watching pid {} ({comm}) and its descendants with {}; stop with Ctrl-C",
        args.pid,
        selection.summary()
    );
    super::print_notices(&selection);

    let mut batch = Vec::with_capacity(4096);
    loop {
        let stopping = tokio::select! {
            more = source.next_batch(&mut batch) => !more?,
            () = tree.resync_due() => {
                for change in tree.resync()? {
                    pin.follow(&tree.model, &change);
                }
                false
            }
            () = stop.recv() => {
                // What the kernel queued before the stop is still written.
                source.finish(&mut batch);
                true
            }
        };
        // `retain` visits every event once, in order: the model sees them all.
        batch.retain(|event| {
            let applied = tree.apply(event);
            pin.apply(&tree.model, event, &applied)
        });
        let reader_gone = write_batch(&mut writer, &mut batch)?;
        if pin.is_empty() {
            eprintln!(
                "forkwatch-tui: no process is left in the subtree of pid {}",
                args.pid
            );
        }
        if stopping || reader_gone || pin.is_empty() {
            break;
        }
    }
    eprintln!("forkwatch-tui: {}", writer.tally.summary());
    Ok(ExitCode::SUCCESS)
}
