//! The tracker core: what forkwatch knows of the machine's processes and what follows
//! them, free of side effects: it reads no clock and no /proc, and sends no signal.
//!
//! - [`model`]: the process tree, kept current by applying events.
//! - [`pins`] (watched subtrees) and [`rules`] (relay rules): kept beside the model, each
//!   follows its changes through one interface, [`Follower`].
//! - [`Tracker`]: owns the model, the pins, the relay rules and the loss → re-sync policy
//!   (`resync`). It applies events, tells every follower what each changed, and answers
//!   with an [`Outcome`]: what it asks of its driver ([`Effect`]) and what the user should
//!   be told ([`Notice`]).
//!
//! The drivers (the UI's loop, the headless `watch` and `relay`) feed it events, perform
//! its effects and hand back what came of them: they send relay signals
//! ([`Tracker::delivered`]), watch relay targets exit ([`Tracker::target_exited`]), open
//! the targets of a new rule (the `relay` module, above this one), and re-read /proc when
//! a re-sync is due ([`Tracker::resync_due`], [`Tracker::reconcile`]). Here: the tracker;
//! how followers are told of changes in `follow`; the re-sync policy in `resync`.

pub mod critical_path;
pub mod fidelity;
mod follow;
pub mod model;
pub mod pins;
mod resync;
pub mod rules;

use anyhow::{Result, bail};

pub use follow::{Change, Follower};

use crate::{
    event::{Event, Kind},
    proc::snapshot::ProcessInfo,
};
use model::{Applied, Model};
use pins::Pins;
use resync::Resync;
use rules::{Delivery, Fields, Matched, NewRule, Notice, Relays, RtSignal, RuleId, TargetId};

/// Something the tracker asks its driver to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Queue `signal` with `fields` (see [`rules::siginfo`]) for a relay target, at once;
    /// then say what became of it ([`Tracker::delivered`]).
    Signal {
        target: TargetId,
        signal: RtSignal,
        fields: Fields,
    },
}

/// What applying events (or a re-sync) asks of the driver and tells the user.
#[derive(Debug, Default)]
pub struct Outcome {
    /// To perform in order, right away.
    pub effects: Vec<Effect>,
    pub notices: Vec<Notice>,
    /// Events that went into a pin: a pin's event concerned it and passed its mask.
    pub pinned: usize,
    /// The events given were held back while /proc is re-read: they are applied with its
    /// snapshot, and come back then in [`Outcome::released`].
    pub held: bool,
    /// After a re-sync: the events held back meanwhile (and a loss report for those that
    /// did not fit), now applied.
    pub released: Vec<Event>,
}

/// The model, the pins, the relay rules and the re-sync policy. See the module
/// documentation.
#[derive(Debug)]
pub struct Tracker {
    model: Model,
    pins: Pins,
    relays: Relays,
    resync: Resync,
    /// Events are applied to the model. Without, only relay rules that need no tree
    /// follow them (the headless `relay` of one pid, or of every process).
    follows_tree: bool,
}

impl Tracker {
    /// The tracker of `model`, seeded from /proc (or from a recording's snapshot) at
    /// `seeded_ns`, CLOCK_BOOTTIME.
    pub fn new(model: Model, seeded_ns: u64) -> Self {
        Self {
            model,
            pins: Pins::default(),
            relays: Relays::default(),
            resync: Resync::seeded_at(seeded_ns),
            follows_tree: true,
        }
    }

    /// A tracker for relay rules alone: no process tree is kept, so rules that match a
    /// subtree cannot be made, and nothing is ever re-synced.
    pub fn without_tree() -> Self {
        Self {
            follows_tree: false,
            ..Self::new(Model::default(), 0)
        }
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    pub fn pins(&self) -> &Pins {
        &self.pins
    }

    /// The pins to change, with the model they are made on.
    pub fn pins_mut(&mut self) -> (&mut Pins, &Model) {
        (&mut self.pins, &self.model)
    }

    pub fn relays(&self) -> &Relays {
        &self.relays
    }

    /// Starts again from `model` (a replay that went back to its snapshot): what was
    /// learnt from the events goes, the pins and relay rules stay as they are.
    pub fn restart(&mut self, model: Model) {
        self.model = model;
        self.resync = Resync::default();
    }

    /// Applies events in order: each to the model, then to the pins and the relay rules.
    /// While /proc is re-read they are held back instead ([`Outcome::held`]).
    pub fn apply(&mut self, events: &[Event]) -> Outcome {
        let mut out = Outcome::default();
        if self.resync.hold(events.iter().cloned()) {
            out.held = true;
            return out;
        }
        self.take_in(events, &mut out);
        out
    }

    /// Holds `events` while /proc is re-read, as [`Tracker::apply`] would, without copying
    /// them; gives them back otherwise, to be applied.
    pub fn hold(&mut self, events: Vec<Event>) -> Option<Vec<Event>> {
        if self.resync.holds() {
            self.resync.hold(events);
            return None;
        }
        Some(events)
    }

    fn take_in(&mut self, events: &[Event], out: &mut Outcome) {
        for event in events {
            let applied = if self.follows_tree {
                self.model.apply(event)
            } else {
                Applied::default()
            };
            let change = Change::of_event(&self.model, event, &applied);
            if self.pins.follow(&change, out) {
                out.pinned += 1;
            }
            self.relays.follow(&change, out);
            if matches!(event.kind, Kind::Lost { .. }) && self.follows_tree {
                self.resync.lost();
            }
        }
    }

    /// Advances the model's time (see [`Model::tick`]).
    pub fn tick(&mut self, now_ns: u64) {
        self.model.tick(now_ns);
    }

    /// When the next re-read of /proc is due (CLOCK_BOOTTIME nanoseconds): after lost
    /// events, a second after the last one. `None` while no loss calls for one, or one is
    /// under way.
    pub fn next_resync(&self) -> Option<u64> {
        self.resync.next_ns()
    }

    /// Whether the driver should re-read /proc at `now_ns`.
    pub fn resync_due(&self, now_ns: u64) -> bool {
        self.next_resync().is_some_and(|at| at <= now_ns)
    }

    /// The driver starts re-reading /proc at `now_ns`: events given until
    /// [`Tracker::reconcile`] (or [`Tracker::resync_failed`]) are held back.
    pub fn start_resync(&mut self, now_ns: u64) {
        self.resync.start(now_ns);
    }

    /// Re-syncs the model with the fresh snapshot and tells every follower what it
    /// changed; then applies the events held meanwhile, which come back in
    /// [`Outcome::released`]. Held events that did not fit are reported lost at `now_ns`,
    /// the driver's time (or the model's, if later).
    pub fn reconcile(&mut self, snapshot: &[ProcessInfo], now_ns: u64) -> Outcome {
        let mut out = Outcome::default();
        for applied in self.model.reconcile(snapshot) {
            let change = Change::of_resync(&self.model, &applied);
            self.pins.follow(&change, &mut out);
            self.relays.follow(&change, &mut out);
        }
        self.release(now_ns, out)
    }

    /// The snapshot could not be taken: the events held meanwhile are applied as they are.
    pub fn resync_failed(&mut self, now_ns: u64) -> Outcome {
        self.release(now_ns, Outcome::default())
    }

    fn release(&mut self, now_ns: u64, mut out: Outcome) -> Outcome {
        let held = self.resync.release(now_ns.max(self.model.now_ns()));
        self.take_in(&held, &mut out);
        out.released = held;
        out
    }

    /// What a rule on the subtree of `root` matches (see [`rules::subtree`]).
    pub fn subtree(&self, root: u32, picked: Option<rules::Picked>) -> Result<Matched> {
        if !self.follows_tree {
            bail!("a rule that matches a subtree needs the process tree");
        }
        rules::subtree(&self.model, root, picked)
    }

    /// Adds a relay rule whose targets the driver opened; its warnings come back.
    pub fn add_rule(&mut self, rule: NewRule) -> (RuleId, Vec<Notice>) {
        let mut notices = Vec::new();
        let id = self.relays.add(rule, &mut notices);
        (id, notices)
    }

    /// Removes a relay rule; the driver closes the pidfds of its targets.
    pub fn remove_rule(&mut self, id: RuleId) -> Option<rules::Rule> {
        self.relays.remove(id)
    }

    /// What became of a relay signal the driver sent (see [`Relays::delivered`]).
    pub fn delivered(&mut self, target: TargetId, delivery: Delivery) -> Option<Notice> {
        self.relays.delivered(target, delivery)
    }

    /// What the kernel says became of the signals it sent a relay target (see
    /// [`Relays::counted_in_kernel`]).
    pub fn counted_in_kernel(&mut self, target: TargetId, sent: u64, undelivered: u64) {
        self.relays.counted_in_kernel(target, sent, undelivered);
    }

    /// A relay target exited, as its pidfd showed the driver.
    pub fn target_exited(&mut self, target: TargetId) -> Option<Notice> {
        self.relays.target_exited(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracker::model::testing::{INIT, MS, p, seeded};

    const S: u64 = 1_000 * MS;

    #[test]
    fn a_loss_asks_for_a_resync_a_second_after_the_last_read_and_holds_events_meanwhile() {
        let mut tracker = Tracker::new(seeded(), 10 * S);
        assert_eq!(tracker.next_resync(), None, "nothing lost");
        tracker.apply(&[Event::lost(10_500 * MS, 2)]);
        assert_eq!(
            tracker.next_resync(),
            Some(11 * S),
            "the seed counts as a read"
        );
        assert!(!tracker.resync_due(10_900 * MS) && tracker.resync_due(11 * S));

        tracker.start_resync(11 * S);
        assert_eq!(tracker.next_resync(), None, "one is under way");
        let born = p(100, 1, 11_100);
        let outcome = tracker.apply(&[born.fork()]);
        assert!(outcome.held);
        assert!(tracker.model().get(born.key()).is_none());
        let outcome = tracker.reconcile(&[INIT.info("init", &["/sbin/init"])], 11_200 * MS);
        assert_eq!(outcome.released, [born.fork()]);
        assert!(tracker.model().get(born.key()).unwrap().is_alive());
        assert_eq!(tracker.model().counts().lost, 2);

        // Another loss: due a second after the last read began.
        tracker.apply(&[Event::lost(11_300 * MS, 1)]);
        assert_eq!(tracker.next_resync(), Some(12 * S));
    }

    #[test]
    fn without_a_tree_events_reach_only_the_rules() {
        let mut tracker = Tracker::without_tree();
        let outcome = tracker.apply(&[p(100, 1, 1_000).fork(), Event::lost(1_000 * MS, 3)]);
        assert!(outcome.effects.is_empty() && outcome.notices.is_empty());
        assert_eq!(tracker.model().counts(), model::Counts::default());
        assert_eq!(tracker.next_resync(), None, "no tree to re-sync");
        assert_eq!(
            tracker.subtree(1, None).unwrap_err().to_string(),
            "a rule that matches a subtree needs the process tree"
        );
    }
}
