//! `forkwatch-tui tree`: the machine's process tree from a fresh model, made as the UI
//! makes its own (the live source first, then /proc, then a short stream of events), and
//! printed as text or JSON (`print`). With `--check` it compares that model with /proc
//! instead ([`crate::tracker::fidelity`]). `past`: the same tree from a recording
//! (`replay --tree-at`), and what changed between two of its times (`replay --diff`).

mod past;
mod print;

use std::{io, process::ExitCode, time::Duration};

use anyhow::{Context, Result, bail};

pub use past::{diff, model_at, tree_at};
pub use print::TreeOptions;

use super::{resync, resync_due, seeded_tracker};
use crate::{
    clock::{self, WallClock},
    privileges,
    proc::snapshot,
    signals::StopSignals,
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

/// Prints the tree of a fresh model; with `check`, compares it with /proc instead. With
/// `follow`, the model follows events until a stop signal (Ctrl-C) first.
pub async fn run(
    live: LiveOptions,
    options: TreeOptions,
    check: bool,
    follow: bool,
) -> Result<ExitCode> {
    if check && options.place.is_some() {
        bail!("tree --check compares every process: --container and --cgroup do not apply");
    }
    // The source first, then /proc: what happens while /proc is read is queued in the
    // source and joins the snapshot in the model.
    let (mut source, selection) = Source::open_live(&live)?;
    privileges::keep_only(selection.backend.privileges_to_read() | privileges::to_reread_proc())?;
    super::print_notices(&selection);
    let mut tracker = seeded_tracker()?;
    let at_ns = if follow {
        let mut stop = StopSignals::catch()?;
        eprintln!(
            "forkwatch-tui: following events with {}; stop with Ctrl-C",
            selection.summary()
        );
        stream(&mut source, &mut tracker, stop.recv()).await?
    } else {
        stream(&mut source, &mut tracker, tokio::time::sleep(STREAM)).await?
    };
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

/// Applies the source's events until `until` resolves, then what it still holds,
/// re-syncing with /proc as the tracker asks after lost events. Returns the time the model
/// stands at.
async fn stream(
    source: &mut Source,
    tracker: &mut Tracker,
    until: impl Future<Output = ()>,
) -> Result<u64> {
    tokio::pin!(until);
    let mut batch = Vec::with_capacity(4096);
    loop {
        let ended = tokio::select! {
            more = source.next_batch(&mut batch) => !more?,
            () = resync_due(tracker) => {
                resync(tracker)?;
                false
            }
            () = &mut until => true,
        };
        tracker.apply(&batch);
        batch.clear();
        if ended {
            break;
        }
    }
    let at_ns = clock::boottime_ns();
    source.finish(&mut batch);
    tracker.apply(&batch);
    if tracker.next_resync().is_some() {
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
    // After lost events the model was read again from /proc: what it is compared with
    // then is partly /proc itself.
    let lost = match tracker.model().counts().lost {
        0 => String::new(),
        n => format!(
            "; {n} events were lost, and the model read /proc again after them (the check \
             then says less)"
        ),
    };
    if found.is_empty() {
        let compared = tracker.model().counts().alive;
        println!(
            "no difference: the model's {compared} live processes (from {backend}) are those \
             /proc shows, with the same start times and parents, in two comparisons{lost}"
        );
        return Ok(ExitCode::SUCCESS);
    }
    for difference in &found {
        println!("{}", difference.line(clock));
    }
    eprintln!(
        "forkwatch-tui: {} differences between the model and /proc, found in two comparisons \
         ({} events lost before them)",
        found.len(),
        tracker.model().counts().lost
    );
    Ok(ExitCode::FAILURE)
}

/// Reads /proc, feeds the model every event up to the end of the read, and compares.
async fn compare_once(source: &mut Source, tracker: &mut Tracker) -> Result<Vec<Difference>> {
    let read_from_ns = clock::boottime_ns();
    let snapshot = snapshot::take().context("cannot read /proc")?;
    stream(source, tracker, tokio::time::sleep(STREAM)).await?;
    let found = fidelity::compare(tracker.model(), &snapshot, read_from_ns);
    Ok(found)
}
