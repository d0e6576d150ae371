//! `forkwatch-tui tree`: the machine's process tree from a fresh model, made as the UI
//! makes its own (the live source first, then /proc, then a short stream of events), and
//! printed as text or JSON (`print`). With `--check` it compares that model with /proc
//! instead ([`crate::tracker::fidelity`]). `past`: the same tree from a recording
//! (`replay --tree-at`), and what changed between two of its times (`replay --diff`).

mod past;
mod print;

use std::{io, process::ExitCode, time::Duration};

use anyhow::{Context, Result};

pub use past::{diff, model_at, tree_at};
pub use print::TreeOptions;

use super::{resync, seeded_tracker};
use crate::{
    clock::{self, WallClock},
    privileges,
    proc::snapshot,
    source::{Feed, LiveOptions, Source},
    tracker::{
        Tracker,
        fidelity::{self, Difference},
    },
    ui::users::Users,
};

/// How long events are taken in after /proc was read: what was born or exited while it
/// was read reaches the model, as it does in the UI's first moments.
const STREAM: Duration = Duration::from_millis(100);

/// Prints the tree of a fresh model; with `check`, compares it with /proc instead.
pub async fn run(live: LiveOptions, options: TreeOptions, check: bool) -> Result<ExitCode> {
    // The source first, then /proc: what happens while /proc is read is queued in the
    // source and joins the snapshot in the model.
    let (mut source, selection) = Source::open_live(&live)?;
    privileges::keep_only(selection.backend.privileges_to_read() | privileges::to_reread_proc())?;
    super::print_notices(&selection);
    let mut tracker = seeded_tracker()?;
    let at_ns = stream(&mut source, &mut tracker, STREAM).await?;
    let clock = WallClock::now();
    if check {
        return compare(&mut source, &mut tracker, &clock, &selection.summary()).await;
    }
    let mut out = io::stdout().lock();
    let mut users = Users::system();
    let shown = print::print(
        tracker.model(),
        at_ns,
        &clock,
        &mut users,
        &options,
        &mut out,
    )?;
    eprintln!(
        "forkwatch-tui: the tree at {}: {shown} processes, from {}",
        clock.time_of_day(at_ns),
        selection.summary()
    );
    Ok(ExitCode::SUCCESS)
}

/// Applies the source's events for `window`, then what it still holds; re-syncs with
/// /proc if events were lost meanwhile. Returns the time the model stands at.
async fn stream(source: &mut Source, tracker: &mut Tracker, window: Duration) -> Result<u64> {
    let lost = tracker.model().counts().lost;
    let deadline = tokio::time::sleep(window);
    tokio::pin!(deadline);
    let mut batch = Vec::with_capacity(4096);
    loop {
        tokio::select! {
            more = source.next_batch(&mut batch) => {
                let more = more?;
                tracker.apply(&batch);
                batch.clear();
                if !more {
                    break;
                }
            }
            () = &mut deadline => break,
        }
    }
    let at_ns = clock::boottime_ns();
    source.finish(&mut batch);
    tracker.apply(&batch);
    if tracker.model().counts().lost > lost {
        resync(tracker)?;
    }
    Ok(at_ns.max(tracker.model().now_ns()))
}

/// `tree --check`: compares the model with /proc twice and reports what both found, a
/// line each; exits 1 if anything was found.
async fn compare(
    source: &mut Source,
    tracker: &mut Tracker,
    clock: &WallClock,
    backend: &str,
) -> Result<ExitCode> {
    let first = compare_once(source, tracker).await?;
    let second = compare_once(source, tracker).await?;
    let found = fidelity::in_both(&first, second);
    if found.is_empty() {
        let compared = tracker.model().counts().alive;
        println!(
            "no difference: the model's {compared} live processes (from {backend}) are those \
             /proc shows, with the same start times and parents, in two comparisons"
        );
        return Ok(ExitCode::SUCCESS);
    }
    for difference in &found {
        println!("{}", difference.line(clock));
    }
    eprintln!(
        "forkwatch-tui: {} differences between the model and /proc, found in two comparisons",
        found.len()
    );
    Ok(ExitCode::FAILURE)
}

/// Reads /proc, feeds the model every event up to the end of the read, and compares.
async fn compare_once(source: &mut Source, tracker: &mut Tracker) -> Result<Vec<Difference>> {
    let read_from_ns = clock::boottime_ns();
    let snapshot = snapshot::take().context("cannot read /proc")?;
    stream(source, tracker, STREAM).await?;
    let found = fidelity::compare(tracker.model(), &snapshot, read_from_ns);
    Ok(found)
}
