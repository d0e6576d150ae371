//! `forkwatch-tui relay`: one relay rule, headless. Notices and the summary go to stderr.

use std::process::ExitCode;

use anyhow::{Result, anyhow};

use super::{LiveTree, StopSignals};
use crate::{
    cli::RelayArgs,
    privileges,
    relay::{self, Notice, Relays, Rule, RuleFields},
    source::{Feed, LiveOptions, Source},
};

pub async fn run(mut live: LiveOptions, args: RelayArgs) -> Result<ExitCode> {
    let mut stop = StopSignals::catch()?;
    let spec = RuleFields {
        to: &args.to,
        pid: args.pid.as_deref(),
        subtree: args.subtree.as_deref(),
        kinds: args.kinds.as_deref(),
        signal: args.signal.as_deref(),
        layout: args.layout.as_deref(),
    }
    .build()
    .map_err(|e| anyhow!(e))?;
    live.probe.wakeup_gap = relay::WAKEUP_GAP;
    let (mut source, selection) = Source::open_live(&live)?;
    // Targets are signalled and checked (their wait channels) whoever they belong to.
    privileges::keep_only(privileges::SIGNAL_ANY_PROCESS | privileges::READ_ANY_PROCESS)?;
    // Opened once the source runs, so an exit of the process to match cannot fall between
    // the check that it exists and the first event. Only a subtree needs the tree.
    let mut tree = spec
        .matching
        .needs_tree()
        .then(LiveTree::seed)
        .transpose()?;
    let mut relays = Relays::default();
    let mut notices = Vec::new();
    let id = relays.add(spec, tree.as_ref().map(|t| &t.model), &mut notices)?;
    print(&mut notices);
    eprintln!(
        "forkwatch-tui: {id} ({}) relaying with {}; stop with Ctrl-C",
        relays.rules()[0].spec(),
        selection.summary()
    );
    super::print_notices(&selection);

    let mut batch = Vec::with_capacity(4096);
    while relays.is_live() {
        let stopping = tokio::select! {
            more = source.next_batch(&mut batch) => !more?,
            () = relays.target_exited() => {
                relays.drop_exited(&mut notices);
                false
            }
            () = resync_due(tree.as_ref()) => {
                if let Some(tree) = &mut tree {
                    for change in tree.resync()? {
                        relays.follow(&tree.model, &change, &mut notices);
                    }
                }
                false
            }
            () = stop.recv() => true,
        };
        if stopping {
            // What the kernel queued before the stop is still relayed.
            source.finish(&mut batch);
        }
        for event in batch.drain(..) {
            match &mut tree {
                Some(tree) => {
                    let applied = tree.apply(&event);
                    relays.handle(&event, Some((&tree.model, &applied)), &mut notices);
                }
                None => relays.handle(&event, None, &mut notices),
            }
        }
        print(&mut notices);
        if stopping {
            break;
        }
    }
    for rule in relays.rules() {
        summary(rule, relays.lost());
    }
    Ok(ExitCode::SUCCESS)
}

/// [`LiveTree::resync_due`], or pending for ever without a tree.
async fn resync_due(tree: Option<&LiveTree>) {
    match tree {
        Some(tree) => tree.resync_due().await,
        None => std::future::pending().await,
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
