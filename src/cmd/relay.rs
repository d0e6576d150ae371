//! `forkwatch-tui relay`: one relay rule, headless. Notices and the summary go to stderr.
//! The rule is the tracker's; this drives it: opens the rule's targets, sends each signal
//! right after its event is applied, drops targets that exit.

use std::{process::ExitCode, slice};

use anyhow::{Result, anyhow};

use super::{resync, resync_due, seeded_tracker};
use crate::{
    privileges,
    relay::{self, Targets},
    signals::StopSignals,
    source::{Feed, Filtering, LiveOptions, Source},
    text,
    tracker::{
        Tracker,
        rules::{Match, Matched, Notice, Rule, RuleFields, SendPath},
    },
};

/// Relays by the rule `fields` until stopped or until no target is left.
pub async fn run(mut live: LiveOptions, fields: RuleFields<'_>) -> Result<ExitCode> {
    let mut stop = StopSignals::catch()?;
    let spec = fields.build().map_err(|e| anyhow!(e))?;
    live.probe.wakeup_gap = relay::WAKEUP_GAP;
    live.probe.kernel_relay = spec.path == SendPath::Kernel;
    let (mut source, selection) = Source::open_live(&live)?;
    let kernel_relay = source.take_kernel_relay();
    // Targets are signalled and checked (their wait channels) whoever they belong to.
    privileges::keep_only(privileges::SIGNAL_ANY_PROCESS | privileges::READ_ANY_PROCESS)?;
    // Opened once the source runs, so an exit of the process to match cannot fall between
    // the check that it exists and the first event. Only a subtree needs the tree.
    let mut tracker = if spec.matching.needs_tree() {
        seeded_tracker()?
    } else {
        Tracker::without_tree()
    };
    let mut targets = Targets::with_kernel_relay(kernel_relay);
    let filtering = follow_subtree(spec.matching, &tracker, &mut source, &mut targets)?;
    let mut notices = Vec::new();
    let id = targets.add_rule(&mut tracker, spec, &mut notices)?;
    print(&mut notices);
    let rule = &tracker.relays().rules()[0];
    eprintln!(
        "forkwatch-tui: {id} ({}) relaying with {}, {}; stop with Ctrl-C",
        rule.spec(),
        selection.summary(),
        // Its reason may quote the kernel's verifier.
        text::escape_str(&rule.sender().to_string())
    );
    super::print_notices(&selection);
    if let Some(filtering) = &filtering {
        // The rule still decides; the kernel only spares us the rest of the machine's events.
        eprintln!(
            "forkwatch-tui: {id}: subtree events: {}",
            text::escape_str(&filtering.to_string())
        );
    }

    let mut batch = Vec::with_capacity(4096);
    while tracker.relays().is_live() {
        let stopping = tokio::select! {
            more = source.next_batch(&mut batch) => !more?,
            () = targets.exited() => {
                targets.drop_exited(&mut tracker, &mut notices);
                false
            }
            () = resync_due(&tracker) => {
                let outcome = resync(&mut tracker)?;
                notices.extend(outcome.notices);
                targets.perform(&mut tracker, &outcome.effects, &mut notices);
                // A child the probe could not add (a full map: the loss) is added again.
                if filtering == Some(Filtering::Kernel)
                    && let Some(subtrees) = tracker.relays().subtrees()
                {
                    source.follow_only(&subtrees);
                }
                false
            }
            () = stop.recv() => true,
        };
        if stopping {
            // What the kernel queued before the stop is still relayed.
            source.finish(&mut batch);
        }
        // Each event's signals are sent before the next event is applied.
        for event in batch.drain(..) {
            let outcome = tracker.apply(slice::from_ref(&event));
            notices.extend(outcome.notices);
            targets.perform(&mut tracker, &outcome.effects, &mut notices);
        }
        targets.count_in_kernel(&mut tracker, false);
        print(&mut notices);
        if stopping {
            break;
        }
    }
    summarize(&mut targets, &mut tracker);
    Ok(ExitCode::SUCCESS)
}

/// Has the source follow the subtree a rule on one matches, before the rule is made: a
/// rule sent in the kernel matches what the probe follows from the moment its entry is
/// written. Where the subtree's events are told from the rest; `None` for another match.
fn follow_subtree(
    matching: Match,
    tracker: &Tracker,
    source: &mut Source,
    targets: &mut Targets,
) -> Result<Option<Filtering>> {
    let Match::Subtree(root) = matching else {
        return Ok(None);
    };
    let Matched::Subtree(pin) = tracker.subtree(root, None)? else {
        unreachable!("a subtree's match is a pin");
    };
    let filtering = source.follow_only(&[pin.subtree()]);
    targets.follow_subtrees(&filtering);
    Ok(Some(filtering))
}

/// The kernel's last counts, then each rule's summary.
fn summarize(targets: &mut Targets, tracker: &mut Tracker) {
    targets.count_in_kernel(tracker, true);
    for rule in tracker.relays().rules() {
        summary(rule, tracker.relays().lost());
    }
}

fn print(notices: &mut Vec<Notice>) {
    for notice in notices.drain(..) {
        eprintln!("forkwatch-tui: {notice}");
    }
}

/// `relay 1 (SPEC): 5 events relayed, 10 signals sent, 0 undelivered, 0 events lost`, then
/// one line per target.
fn summary(rule: &Rule, lost: u64) {
    eprintln!(
        "forkwatch-tui: {} ({}): {} events relayed, {} signals sent, {} undelivered, {lost} events lost",
        rule.id(),
        rule.spec(),
        rule.matched(),
        rule.sent(),
        rule.undelivered()
    );
    for target in rule.targets() {
        eprintln!(
            "forkwatch-tui:   pid {} ({}): {} sent, {} undelivered{}",
            target.pid(),
            target.comm(),
            target.sent(),
            target.undelivered(),
            if target.is_gone() { ", exited" } else { "" }
        );
    }
}
