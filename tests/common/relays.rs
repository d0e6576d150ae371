//! Relay rules driven as the `relay` command drives them: the tracker follows the events
//! (with a process tree or without one) and the targets' pidfds send the signals it asks
//! for, each event's right after it.

use std::slice;

use anyhow::Result;
use forkwatch::{
    clock,
    event::Event,
    proc::snapshot::ProcessInfo,
    relay::Targets,
    tracker::{
        Tracker,
        model::Model,
        rules::{Notice, Rule, RuleId, RuleSpec},
    },
};

pub struct Relays {
    tracker: Tracker,
    targets: Targets,
}

impl Relays {
    /// Rules that need no process tree.
    pub fn new() -> Self {
        Self {
            tracker: Tracker::without_tree(),
            targets: Targets::default(),
        }
    }

    /// Rules that follow `model`, seeded from /proc now.
    pub fn with_tree(model: Model) -> Self {
        Self {
            tracker: Tracker::new(model, clock::boottime_ns()),
            targets: Targets::default(),
        }
    }

    /// Opens the rule's targets and adds it; its warnings go to `notices`.
    pub fn add(&mut self, spec: RuleSpec, notices: &mut Vec<Notice>) -> Result<RuleId> {
        self.targets.add_rule(&mut self.tracker, spec, notices)
    }

    /// Applies one event and sends the signals it calls for.
    pub fn handle(&mut self, event: &Event, notices: &mut Vec<Notice>) {
        let outcome = self.tracker.apply(slice::from_ref(event));
        notices.extend(outcome.notices);
        self.targets
            .perform(&mut self.tracker, &outcome.effects, notices);
    }

    /// Re-syncs with a fresh /proc snapshot, as after lost events.
    pub fn resync(&mut self, snapshot: &[ProcessInfo], notices: &mut Vec<Notice>) {
        let now = clock::boottime_ns();
        self.tracker.start_resync(now);
        notices.extend(self.tracker.reconcile(snapshot, now).notices);
    }

    /// Resolves when a target has exited; then [`Relays::drop_exited`].
    pub async fn target_exited(&self) {
        self.targets.exited().await
    }

    pub fn drop_exited(&mut self, notices: &mut Vec<Notice>) {
        self.targets.drop_exited(&mut self.tracker, notices);
    }

    pub fn rules(&self) -> &[Rule] {
        self.tracker.relays().rules()
    }

    pub fn is_live(&self) -> bool {
        self.tracker.relays().is_live()
    }
}
